// SteeringExplorer canvases: the evaluation curve (score of the steering vector against coef, the random-vector
// band, the prompt baseline, the fluency guard under it, a cursor at the selected coef) and the small line charts
// (layer sweep, frozen attention, sparsity). Colours of the marks are fixed (both themes); text follows the theme.
import { sized } from "../lib/plot.js";
import { extent, xOf, yOf } from "./data.js";

/** Mark colours (documented: the browser test reads the cursor by its colour). */
export const COLORS = { steer: "#1c7ed6", random: "#868e96", prompt: "#2f9e44", fluency: "#ae3ec9",
  cursor: "#e8590c", second: "#f08c00" };


function line(ctx, xs, ys, x, y, color, dash = []) {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.setLineDash(dash);
  ctx.beginPath();
  let on = false;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(ys[i])) { on = false; continue; }
    const px = x(xs[i]), py = y(ys[i]);
    if (on) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    on = true;
  }
  ctx.stroke();
  ctx.restore();
}

function dots(ctx, xs, ys, x, y, color) {
  ctx.fillStyle = color;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(ys[i])) continue;
    ctx.beginPath();
    ctx.arc(x(xs[i]), y(ys[i]), 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function yTicks(ctx, top, bottom, lo, hi, left, t, fmt = (v) => v.toFixed(2)) {
  ctx.fillStyle = t.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(fmt(v).replace("-", "−"), left - 4, yOf(top, bottom, lo, hi, v));
}

function frame(ctx, x0, x1, top, bottom, t) {
  ctx.strokeStyle = t.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 + 0.5, top + 0.5, x1 - x0 - 1, bottom - top - 1);
}

/**
 * The evaluation curve. `d` = {coefs, steer, random, low, high, prompt, fluency, coef, label}; geometry from
 * curveLayout. The cursor is a 2-px column of COLORS.cursor at Math.round(xOf(coef)) - 1 and Math.round(xOf(coef))
 * over both panels, drawn last.
 */
export function drawCurve(canvas, geo, d, t) {
  const ctx = sized(canvas, geo.width, geo.height);
  ctx.font = `11px ${t.family}`;
  const x = (c) => xOf(geo, c);
  const [lo, hi] = extent(d.steer, d.random, d.low, d.high, d.prompt);
  const y = (v) => yOf(geo.mainTop, geo.mainBottom, lo, hi, v);
  frame(ctx, geo.x0, geo.x1, geo.mainTop, geo.mainBottom, t);
  if (d.low && d.high) {
    ctx.fillStyle = "rgba(134,142,150,0.25)";
    ctx.beginPath();
    d.coefs.forEach((c, i) => (i ? ctx.lineTo(x(c), y(d.low[i])) : ctx.moveTo(x(c), y(d.low[i]))));
    for (let i = d.coefs.length - 1; i >= 0; i--) ctx.lineTo(x(d.coefs[i]), y(d.high[i]));
    ctx.closePath();
    ctx.fill();
  }
  if (d.random) line(ctx, d.coefs, d.random, x, y, COLORS.random, [2, 3]);
  if (d.prompt) {
    const v = Array.from(d.prompt).find(Number.isFinite);
    if (v !== undefined) {
      ctx.save();
      ctx.strokeStyle = COLORS.prompt;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(geo.x0, y(v));
      ctx.lineTo(geo.x1, y(v));
      ctx.stroke();
      ctx.restore();
    }
  }
  line(ctx, d.coefs, d.steer, x, y, COLORS.steer);
  dots(ctx, d.coefs, d.steer, x, y, COLORS.steer);
  yTicks(ctx, geo.mainTop, geo.mainBottom, lo, hi, geo.x0, t);
  ctx.save();
  ctx.translate(12, (geo.mainTop + geo.mainBottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillStyle = t.muted;
  ctx.fillText(d.label, 0, 0);
  ctx.restore();
  if (geo.fluency) {
    const [flo, fhi] = extent(d.fluency);
    const fy = (v) => yOf(geo.flTop, geo.flBottom, flo, fhi, v);
    frame(ctx, geo.x0, geo.x1, geo.flTop, geo.flBottom, t);
    line(ctx, d.coefs, d.fluency, x, fy, COLORS.fluency);
    dots(ctx, d.coefs, d.fluency, x, fy, COLORS.fluency);
    yTicks(ctx, geo.flTop, geo.flBottom, flo, fhi, geo.x0, t, (v) => v.toFixed(1));
    ctx.fillStyle = t.muted;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText("fluency (log-prob under the unsteered model)", geo.x0 + 4, geo.flTop - 14);
  }
  const bottom = geo.fluency ? geo.flBottom : geo.mainBottom;
  ctx.fillStyle = t.muted;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const c of d.coefs) ctx.fillText(String(c).replace("-", "−"), x(c), bottom + 4);
  ctx.fillText("coef", (geo.x0 + geo.x1) / 2, bottom + 16);
  const cx = Math.round(x(d.coef));
  ctx.fillStyle = COLORS.cursor;
  ctx.fillRect(cx - 1, geo.mainTop, 2, geo.mainBottom - geo.mainTop);
  if (geo.fluency) ctx.fillRect(cx - 1, geo.flTop, 2, geo.flBottom - geo.flTop);
  return cx;
}

/**
 * A small line chart: `series` = [{xs, ys, color, dash, name}] on one x range, an optional marker at x = `mark`
 * (a cursor-coloured column), a title. 260 x 140 CSS px.
 */
export function drawSmall(canvas, { series, mark = null, title = "", xLabel = "", t }) {
  const W = 260, H = 150, L = 44, R = 10, T = 18, B = 30;
  const ctx = sized(canvas, W, H);
  ctx.font = `11px ${t.family}`;
  const allX = series.flatMap((s) => Array.from(s.xs));
  const xlo = Math.min(...allX), xhi = Math.max(...allX);
  const [lo, hi] = extent(...series.map((s) => s.ys));
  const x = (v) => (xhi === xlo ? (L + W - R) / 2 : L + ((v - xlo) / (xhi - xlo)) * (W - R - L));
  const y = (v) => yOf(T, H - B, lo, hi, v);
  frame(ctx, L, W - R, T, H - B, t);
  for (const s of series) {
    line(ctx, s.xs, s.ys, x, y, s.color, s.dash || []);
    dots(ctx, s.xs, s.ys, x, y, s.color);
  }
  yTicks(ctx, T, H - B, lo, hi, L, t);
  ctx.fillStyle = t.font;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText(title, L, 2);
  ctx.fillStyle = t.muted;
  ctx.textAlign = "center";
  ctx.fillText(`${xLabel} ${String(+xlo.toFixed(2)).replace("-", "−")} … ${String(+xhi.toFixed(2)).replace("-", "−")}`,
    (L + W - R) / 2, H - B + 6);
  if (mark !== null && Number.isFinite(mark)) {
    ctx.fillStyle = COLORS.cursor;
    ctx.fillRect(Math.round(x(mark)) - 1, T, 2, H - B - T);
  }
}
