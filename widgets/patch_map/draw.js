// Canvas drawing of one PatchMap view: the cells (one pixel per cell through the colour LUT, scaled up crisp), NaN
// cells hatched, layer labels on the left, the markers of differing positions and the rotated token labels below;
// the selection and hover rings on an overlay canvas (so the cells' pixels stay as drawn); the legend.
import { fitLabel, LABEL_FONT_PX } from "../lib/labels.js";
import { labelEvery } from "./layout.js";
import { LUT, NAN_CODE, code, rgbAt } from "./scale.js";

function size(canvas, w, h) {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
}

/** Paint values (nRows x nCols, row-major) on [-m, m] into the cell area of geometry g. */
function paintCells(ctx, g, values, m, th) {
  const img = new ImageData(g.nCols, g.nRows);
  const px = img.data;
  const nan = [];
  for (let i = 0, n = g.nRows * g.nCols; i < n; i++) {
    const c = code(values[i], m);
    if (c === NAN_CODE) nan.push(i);
    const o = 4 * c;
    px[4 * i] = LUT[o];
    px[4 * i + 1] = LUT[o + 1];
    px[4 * i + 2] = LUT[o + 2];
    px[4 * i + 3] = LUT[o + 3];
  }
  const off = document.createElement("canvas");
  off.width = g.nCols;
  off.height = g.nRows;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, g.nCols, g.nRows, g.x0, g.y0, g.w, g.h);
  if (!nan.length) return 0;
  // NaN cells: diagonal hatching in the theme's border colour over transparency
  ctx.save();
  ctx.beginPath();
  for (const i of nan) {
    const r = Math.floor(i / g.nCols), c = i % g.nCols;
    ctx.rect(g.x0 + c * g.cw, g.y0 + r * g.ch, g.cw, g.ch);
  }
  ctx.clip();
  ctx.strokeStyle = th.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let d = -g.h; d < g.w; d += 6) {
    ctx.moveTo(g.x0 + d, g.y0 + g.h);
    ctx.lineTo(g.x0 + d + g.h, g.y0);
  }
  ctx.stroke();
  ctx.restore();
  return nan.length;
}

/** Row labels (layers) right-aligned left of the cells, thinned so they never overlap; a rotated axis title. */
function rowLabels(ctx, g, labels, title, th) {
  ctx.save();
  ctx.font = `${LABEL_FONT_PX}px ${th.family}`;
  ctx.fillStyle = th.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const every = labelEvery(g.ch);
  for (let r = 0; r < g.nRows; r += every) ctx.fillText(String(labels[r]), g.x0 - 4, g.y0 + (r + 0.5) * g.ch);
  ctx.translate(10, g.y0 + g.h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(title, 0, 0);
  ctx.restore();
}

/** Markers under differing columns, then column labels rotated to read upwards (differing ones bold). */
function colLabels(ctx, g, labels, marks, th) {
  ctx.save();
  ctx.fillStyle = th.font;
  const mw = g.cw > 3 ? g.cw - 2 : Math.max(1, g.cw);
  if (marks) for (let c = 0; c < g.nCols; c++) if (marks[c]) ctx.fillRect(g.x0 + c * g.cw + (g.cw > 3 ? 1 : 0), g.markY, mw, 5);
  const every = labelEvery(g.cw);
  const room = g.height - g.labelY - 2;
  for (let c = 0; c < g.nCols; c += every) {
    const bold = marks && marks[c];
    ctx.font = `${bold ? "bold " : ""}${LABEL_FONT_PX}px ${th.family}`;
    ctx.fillStyle = bold ? th.font : th.muted;
    ctx.save();
    ctx.translate(g.x0 + (c + 0.5) * g.cw, g.labelY);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText(fitLabel(ctx, labels[c] ?? "", room), 0, 0);
    ctx.restore();
  }
  ctx.restore();
  return every;
}

/**
 * Draw a whole view on `canvas` with geometry g: values on [-m, m], row labels (layers) with an axis title, column
 * labels with `marks` (Uint8Array or null) under the differing columns. Returns {nan, every}.
 */
export function drawMap(canvas, g, { values, m, rows, cols, marks, rowTitle }, th) {
  size(canvas, g.width, g.height);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const nan = paintCells(ctx, g, values, m, th);
  rowLabels(ctx, g, rows, rowTitle, th);
  const every = colLabels(ctx, g, cols, marks, th);
  ctx.strokeStyle = th.grid;
  ctx.strokeRect(g.x0 - 0.5, g.y0 - 0.5, g.w + 1, g.h + 1);
  return { nan, every };
}

/** The overlay: a ring around the selected cell (2 px, theme font colour) and a thin one around the hovered cell. */
export function drawRings(canvas, g, sel, hover, th) {
  size(canvas, g.width, g.height);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const ring = (cell, width, colour) => {
    if (!cell || cell.row < 0 || cell.col < 0 || cell.row >= g.nRows || cell.col >= g.nCols) return;
    const w = Math.max(g.cw, 6), h = Math.max(g.ch, 6);
    const x = g.x0 + (cell.col + 0.5) * g.cw - w / 2, y = g.y0 + (cell.row + 0.5) * g.ch - h / 2;
    ctx.lineWidth = width;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x + width / 2, y + width / 2, w - width, h - width);
  };
  ring(hover, 1, th.muted);
  ring(sel, 2, th.font);
}

/** The legend: the ramp from -m to +m with its three values. */
export function drawLegend(canvas, m, th, fmt) {
  const W = 200, H = 30, x0 = 30, w = 140;
  size(canvas, W, H);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, W, H);
  for (let i = 0; i < w; i++) {
    const [r, gg, b] = rgbAt((i / (w - 1)) * 2 - 1);
    ctx.fillStyle = `rgb(${r},${gg},${b})`;
    ctx.fillRect(x0 + i, 2, 1, 10);
  }
  ctx.strokeStyle = th.grid;
  ctx.strokeRect(x0 - 0.5, 1.5, w + 1, 11);
  ctx.font = `10px ${th.family}`;
  ctx.fillStyle = th.muted;
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  ctx.fillText(fmt(-m), x0, 16);
  ctx.fillText("0", x0 + w / 2, 16);
  ctx.fillText(fmt(m), x0 + w, 16);
}
