// Canvas drawing of one LossClusters chart: axes, interquartile bands (on their own canvas, so the band can be read
// back pixel by pixel), median lines, dashed lines, rules, break markers. Geometry comes from scales.js.
import { bandPolygons, extent, fmt, linePieces, linear, ticks } from "./scales.js";
import { rgba } from "./palette.js";

export const MARGIN = { left: 52, right: 22, top: 20, bottom: 32 };

/** The chart's scales for a pixel size and data ranges; also what the canvases expose as data-* attributes. */
export function chartGeometry(width, height, steps, yArrays) {
  const x0 = MARGIN.left, y0 = MARGIN.top;
  const w = width - MARGIN.left - MARGIN.right, h = height - MARGIN.top - MARGIN.bottom;
  const [ymin, ymax] = extent(yArrays);
  const xmin = steps[0], xmax = steps[steps.length - 1];
  return { width, height, x0, y0, w, h, xmin, xmax, ymin, ymax, x: linear(xmin, xmax, x0, x0 + w),
    y: linear(ymin, ymax, y0 + h, y0) };
}

export function setSize(canvas, g) {
  if (canvas.width !== g.width) canvas.width = g.width;
  if (canvas.height !== g.height) canvas.height = g.height;
  canvas.style.width = `${g.width}px`;
  canvas.style.height = `${g.height}px`;
}

export function exposeGeometry(el, g) {
  Object.assign(el.dataset, { x0: g.x0, y0: g.y0, w: g.w, h: g.h, xmin: g.xmin, xmax: g.xmax, ymin: g.ymin, ymax: g.ymax });
}

export function drawAxes(ctx, g, t, xTitle, yTitle) {
  ctx.save();
  ctx.font = `11px ${t.family}`;
  ctx.strokeStyle = t.grid;
  ctx.fillStyle = t.muted;
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks(g.ymin, g.ymax, 4)) {
    const py = Math.round(g.y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(g.x0, py);
    ctx.lineTo(g.x0 + g.w, py);
    ctx.stroke();
    ctx.fillText(fmt(v), g.x0 - 4, py);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of ticks(g.xmin, g.xmax, 5)) {
    const px = Math.round(g.x(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(px, g.y0 + g.h);
    ctx.lineTo(px, g.y0 + g.h + 4);
    ctx.stroke();
    ctx.fillText(fmt(v), px, g.y0 + g.h + 6);
  }
  ctx.strokeStyle = t.muted;
  ctx.strokeRect(g.x0 + 0.5, g.y0 + 0.5, g.w - 1, g.h - 1);
  ctx.fillStyle = t.font;
  ctx.textBaseline = "bottom";
  ctx.textAlign = "left";
  if (yTitle) ctx.fillText(yTitle, g.x0, g.y0 - 5);
  ctx.textAlign = "right";
  if (xTitle) ctx.fillText(xTitle, g.x0 + g.w, g.height - 2);
  ctx.restore();
}

/** Fill the interquartile band of one cluster (opaque colour at `alpha`). */
export function drawBand(ctx, g, steps, q1, q3, color, alpha = 0.3) {
  ctx.save();
  ctx.fillStyle = rgba(color, alpha);
  for (const poly of bandPolygons(steps, q1, q3, g.x, g.y)) {
    ctx.beginPath();
    poly.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    ctx.closePath();
    ctx.fill();
  }
  ctx.restore();
}

export function drawLine(ctx, g, steps, values, color, width = 2, dash = null, alpha = 1) {
  ctx.save();
  ctx.strokeStyle = alpha < 1 ? rgba(color, alpha) : color;
  ctx.lineWidth = width;
  ctx.lineJoin = "round";
  if (dash) ctx.setLineDash(dash);
  for (const piece of linePieces(steps, values, g.x, g.y)) {
    ctx.beginPath();
    piece.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    ctx.stroke();
  }
  ctx.restore();
}

/** A vertical rule at a step (dashed when `dash`), with an optional label at the top. */
export function drawRule(ctx, g, step, color, { dash = null, width = 1, label = "", font = "sans-serif" } = {}) {
  if (!(step >= g.xmin && step <= g.xmax)) return;
  const px = Math.round(g.x(step)) + 0.5;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  if (dash) ctx.setLineDash(dash);
  ctx.beginPath();
  ctx.moveTo(px, g.y0);
  ctx.lineTo(px, g.y0 + g.h);
  ctx.stroke();
  if (label) {
    ctx.fillStyle = color;
    ctx.font = `11px ${font}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(label, px + 3, g.y0 + 2);
  }
  ctx.restore();
}

/** A downward triangle above (x, y): a cluster's mean break step. */
export function drawMarker(ctx, px, py, color, outline) {
  ctx.save();
  ctx.fillStyle = color;
  ctx.strokeStyle = outline;
  ctx.beginPath();
  ctx.moveTo(px, py - 2);
  ctx.lineTo(px - 5, py - 11);
  ctx.lineTo(px + 5, py - 11);
  ctx.closePath();
  ctx.fill();
  ctx.stroke();
  ctx.restore();
}
