// The decoded trace drawn over the grid: a box around each result cell, an arrow from every operand (an earlier cell,
// or a number in the question strip) to it, and a verification badge ("2/3") at the result cell's corner.
// Arrow colour is a red that viridis never contains, so it reads on every cell and on both themes.
import { cellCenter, cellXY } from "./geometry.js";

export const ARROW = "rgba(230, 40, 90, 0.92)";
export const BOX = "rgb(230, 40, 90)";

/** The verification entry of a step (same latent step and result), or null. */
export function checkFor(verification, step) {
  if (!verification || !verification.steps) return null;
  return verification.steps.find((v) => v.latent === step.latent && v.result === step.result) || null;
}

/** Arrow segments [{x0, y0, x1, y1, step, source}] for a trace, in stage pixels. */
export function arrows(g, trace, boxes) {
  const out = [];
  if (!trace) return out;
  trace.steps.forEach((s, k) => {
    const [rx, ry] = cellCenter(g, s.layer, s.latent);
    for (const o of s.operands) {
      let x0, y0;
      if (o.source === "latent") {
        [x0, y0] = cellCenter(g, o.layer, o.latent);
        if (o.latent === s.latent && o.layer === s.layer) continue;
      } else if (o.segment !== null && o.segment !== undefined && boxes[o.segment]) {
        const b = boxes[o.segment];
        x0 = (b.x0 + b.x1) / 2;
        y0 = g.strip / 2 + 10;
      } else continue;
      // stop at the result cell's edge, so the token inside stays readable
      const dx = rx - x0, dy = ry - y0, len = Math.hypot(dx, dy) || 1;
      const t = Math.max(0, 1 - (Math.min(g.cw, g.ch) * 0.45) / len);
      out.push({ x0, y0, x1: x0 + dx * t, y1: y0 + dy * t, step: k, source: o.source });
    }
  });
  return out;
}

function arrowHead(ctx, a) {
  const ang = Math.atan2(a.y1 - a.y0, a.x1 - a.x0), h = 7;
  ctx.beginPath();
  ctx.moveTo(a.x1, a.y1);
  ctx.lineTo(a.x1 - h * Math.cos(ang - 0.45), a.y1 - h * Math.sin(ang - 0.45));
  ctx.lineTo(a.x1 - h * Math.cos(ang + 0.45), a.y1 - h * Math.sin(ang + 0.45));
  ctx.closePath();
  ctx.fill();
}

/** Draw the trace; returns what was drawn (for data attributes). */
export function drawTrace(canvas, g, trace, verification, boxes, th) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!trace || !trace.steps.length) return { arrows: [], badges: [] };
  const segs = arrows(g, trace, boxes);
  ctx.strokeStyle = ARROW;
  ctx.fillStyle = ARROW;
  ctx.lineWidth = 2.5;
  for (const a of segs) {
    ctx.beginPath();
    ctx.moveTo(a.x0, a.y0);
    ctx.lineTo(a.x1, a.y1);
    ctx.stroke();
    arrowHead(ctx, a);
  }
  const badges = [];
  trace.steps.forEach((s, k) => {
    const [x, y] = cellXY(g, s.layer, s.latent);
    ctx.strokeStyle = BOX;
    ctx.lineWidth = 2;
    ctx.strokeRect(x + 1, y + 1, g.cw - 2, g.ch - 2);
    if (s.rank > 0 && g.cw >= 18) {
      ctx.font = `9px ${th.family}`;
      ctx.fillStyle = BOX;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText(`#${s.rank}`, x + 2, y + 2);
    }
    const v = checkFor(verification, s);
    if (v) {
      const text = `${v.verified}/${verification.checks}`;
      ctx.font = `bold 10px ${th.family}`;
      const w = ctx.measureText(text).width + 8, bx = x + g.cw - w / 2, by = y - 7;
      ctx.fillStyle = v.verified > 0 ? "rgb(20, 130, 60)" : "rgb(120, 120, 120)";
      ctx.beginPath();
      ctx.roundRect ? ctx.roundRect(bx, by, w, 14, 7) : ctx.rect(bx, by, w, 14);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(text, bx + w / 2, by + 7.5);
      badges.push({ step: k, text, x: bx + w / 2, y: by + 7 });
    }
  });
  return { arrows: segs, badges };
}
