// The decoded-token grid: cell colours on one canvas (probability of the top-1 token, viridis), and on a second,
// transparent canvas the text: question strip, column / layer labels and each cell's top-1 token.
import { toCodes } from "../lib/binary.js";
import { LUT } from "../lib/colors.js";
import { blit, cellImage } from "../lib/heatmap.js";
import { fitLabel, labelStep } from "../lib/labels.js";
import { COL_LABEL_H, cellXY } from "./geometry.js";

/** Codes (0..254, 255 = NaN) of rank 0 in display order: row 0 = last layer. */
export function topCodes(prob) {
  const [L, C, K] = prob.shape;
  const all = toCodes(prob);
  const out = new Uint8Array(L * C);
  for (let l = 0; l < L; l++)
    for (let c = 0; c < C; c++) out[(L - 1 - l) * C + c] = all[(l * C + c) * K];
  return out;
}

/** Paint the cells: one pixel per cell scaled up without smoothing, so every cell is one flat colour. */
export function drawCells(canvas, g, prob) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  blit(ctx, cellImage(topCodes(prob), g.nRows, g.nCols), g.x0, g.y0, g.nCols * g.cw, g.nRows * g.ch);
}

/** Black text on the bright end of viridis, white on the dark end. */
function inkFor(code) {
  if (code === 255) return null;
  const r = LUT[4 * code], gg = LUT[4 * code + 1], b = LUT[4 * code + 2];
  return 0.299 * r + 0.587 * gg + 0.114 * b > 140 ? "#111" : "#fff";
}

/** Lay out the question strip: returns [{x0, x1, value}] per segment (numbers boxed, used ones highlighted). */
export function measureStrip(ctx, segments, th) {
  ctx.font = `13px ${th.family}`;
  let x = 8;
  return segments.map((s) => {
    const w = ctx.measureText(s.text).width + (s.value === null ? 0 : 8);
    const box = { x0: x, x1: x + w, value: s.value, text: s.text };
    x += w + (s.value === null ? 0 : 2);
    return box;
  });
}

/** Draw labels, question strip and top-1 tokens; `used` = indices of question segments that feed a step. */
export function drawText(canvas, g, view, prob, strings, tok, th, boxes, used) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.textBaseline = "middle";
  // question strip
  if (g.strip && boxes.length) {
    ctx.font = `13px ${th.family}`;
    const y = g.strip / 2;
    for (let i = 0; i < boxes.length; i++) {
      const b = boxes[i];
      if (b.value !== null) {
        ctx.strokeStyle = used.has(i) ? th.accent : th.muted;
        ctx.lineWidth = used.has(i) ? 2 : 1;
        ctx.strokeRect(b.x0 + 0.5, y - 10, b.x1 - b.x0 - 1, 20);
        ctx.textAlign = "center";
        ctx.fillStyle = th.font;
        ctx.fillText(b.text, (b.x0 + b.x1) / 2, y);
      } else {
        ctx.textAlign = "left";
        ctx.fillStyle = th.font;
        ctx.fillText(b.text, b.x0, y);
      }
    }
  }
  // column labels (latent steps or input tokens) and layer labels
  ctx.font = `11px ${th.family}`;
  ctx.fillStyle = th.muted;
  ctx.textAlign = "center";
  const cstep = Math.max(1, Math.ceil(24 / g.cw));
  for (let c = 0; c < g.nCols; c += cstep) {
    const [x] = cellXY(g, 0, c);
    const text = fitLabel(ctx, view.cols[c], Math.max(g.cw * cstep - 4, 8));
    ctx.fillText(text, x + g.cw / 2, g.strip + COL_LABEL_H / 2);
  }
  ctx.textAlign = "right";
  const rstep = labelStep(g.ch);
  for (let l = 0; l < g.nRows; l += rstep) {
    const [, y] = cellXY(g, l, 0);
    ctx.fillText(`L${view.rows[l]}`, g.x0 - 6, y + g.ch / 2);
  }
  // top-1 token in each cell, when cells are big enough to read
  if (g.cw < 18 || g.ch < 11) return false;
  const [L, C, K] = prob.shape;
  const codes = toCodes(prob);
  ctx.font = `${Math.min(12, g.ch - 6)}px ${th.mono}`;
  ctx.textAlign = "center";
  for (let l = 0; l < L; l++)
    for (let c = 0; c < C; c++) {
      const i = (l * C + c) * K;
      const ink = inkFor(codes[i]);
      if (!ink) continue;
      const [x, y] = cellXY(g, l, c);
      ctx.fillStyle = ink;
      const s = strings[tok.data[i]] ?? "";
      ctx.fillText(fitLabel(ctx, s, g.cw - 4), x + g.cw / 2, y + g.ch / 2 + 0.5);
    }
  return true;
}
