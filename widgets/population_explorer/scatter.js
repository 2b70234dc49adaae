// The population scatter on one canvas: axes with ticks, one dot per visible model, the selected model ringed.
// Pixel positions of the drawn points are exposed in data-pos (JSON {model: [x, y]}) so tests can aim clicks.
import { cssColor } from "../lib/colors.js";

export const WIDTH = 440, HEIGHT = 340;
const M = { left: 52, right: 12, top: 12, bottom: 40 };
export const RADIUS = 5;
/** Categorical colours (used when the colour variable has at most this many distinct values). */
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf"];

/** About five round tick values covering [lo, hi]. */
export function ticks(lo, hi) {
  const span = hi - lo || 1;
  const step0 = span / 5, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

/** Colour function for a column: categorical for few distinct values, else viridis over its range. */
export function colorScale(values) {
  if (!values) return { color: () => PALETTE[0], legend: [] };
  const distinct = [...new Set(Array.from(values).filter(Number.isFinite))].sort((a, b) => a - b);
  if (distinct.length <= PALETTE.length) {
    const idx = new Map(distinct.map((v, i) => [v, i]));
    return { color: (v) => (idx.has(v) ? PALETTE[idx.get(v)] : "#999"), legend: distinct.map((v, i) => [v, PALETTE[i]]) };
  }
  const [lo, hi] = [distinct[0], distinct[distinct.length - 1]];
  return { color: (v) => (Number.isFinite(v) ? cssColor((v - lo) / (hi - lo)) : "#999"), legend: [[lo, cssColor(0)], [hi, cssColor(1)]] };
}

const fmt = (v) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(+v.toPrecision(4)));

export function createScatter(onPick, onHover) {
  const canvas = document.createElement("canvas");
  canvas.className = "wb-pe-scatter";
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  let pos = []; // [model, x, y] of drawn points

  /** xs, ys, cs: Float32Arrays over models; visible: boolean array; sel: selected model or -1. */
  function draw({ xs, ys, cs, visible, sel, xName, yName, th }) {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    const [x0, x1] = extent(xs), [y0, y1] = extent(ys);
    const px = (v) => M.left + ((v - x0) / (x1 - x0)) * (WIDTH - M.left - M.right);
    const py = (v) => HEIGHT - M.bottom - ((v - y0) / (y1 - y0)) * (HEIGHT - M.top - M.bottom);
    ctx.strokeStyle = th.muted;
    ctx.fillStyle = th.muted;
    ctx.lineWidth = 1;
    ctx.font = `10px ${th.family}`;
    ctx.strokeRect(M.left + 0.5, M.top + 0.5, WIDTH - M.left - M.right, HEIGHT - M.top - M.bottom);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of ticks(x0, x1)) ctx.fillText(fmt(t), px(t), HEIGHT - M.bottom + 4);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of ticks(y0, y1)) ctx.fillText(fmt(t), M.left - 4, py(t));
    ctx.fillStyle = th.font;
    ctx.font = `11px ${th.family}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(xName, M.left + (WIDTH - M.left - M.right) / 2, HEIGHT - 2);
    ctx.save();
    ctx.translate(11, M.top + (HEIGHT - M.top - M.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(yName, 0, 0);
    ctx.restore();
    const { color } = colorScale(cs);
    pos = [];
    for (let i = 0; i < xs.length; i++) {
      if (!visible[i] || !Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) continue;
      const x = px(xs[i]), y = py(ys[i]);
      pos.push([i, x, y]);
      ctx.beginPath();
      ctx.arc(x, y, RADIUS, 0, 2 * Math.PI);
      ctx.fillStyle = color(cs ? cs[i] : 0);
      ctx.globalAlpha = 0.85;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
    const s = pos.find((p) => p[0] === sel);
    if (s) {
      ctx.beginPath();
      ctx.arc(s[1], s[2], RADIUS + 3, 0, 2 * Math.PI);
      ctx.strokeStyle = th.font;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    canvas.dataset.points = String(pos.length);
    canvas.dataset.pos = JSON.stringify(Object.fromEntries(pos.map(([i, x, y]) => [i, [+x.toFixed(2), +y.toFixed(2)]])));
    canvas.dataset.selected = String(sel);
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
  }

  function nearest(x, y) {
    let best = null, bd = (RADIUS + 4) ** 2;
    for (const [i, px, py] of pos) {
      const d = (px - x) ** 2 + (py - y) ** 2;
      if (d <= bd) { bd = d; best = i; }
    }
    return best;
  }
  const onClick = (e) => { const i = nearest(e.offsetX, e.offsetY); if (i !== null) onPick(i); };
  const onMove = (e) => onHover(nearest(e.offsetX, e.offsetY), e.offsetX, e.offsetY);
  const onLeave = () => onHover(null);
  canvas.addEventListener("click", onClick);
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  return {
    canvas, draw, nearest,
    dispose() {
      canvas.removeEventListener("click", onClick);
      canvas.removeEventListener("mousemove", onMove);
      canvas.removeEventListener("mouseleave", onLeave);
    },
  };
}
