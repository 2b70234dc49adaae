// Pure geometry and colour rules of GraphReorganization (no DOM), tested with `node --test` and mirrored by the
// browser test, which recomputes where each node must be drawn from these documented rules.

/** Scatter canvas size and inner margin (CSS pixels). */
export const SCATTER = { width: 440, height: 420, margin: 40 };
/** Node marker radius, ghost ring radius, hover hit radius. */
export const RADIUS = 6, GHOST_RADIUS = 8, HIT_RADIUS = 10;
/** One curve panel (CSS pixels) and its inner margins. */
export const PANEL = { width: 290, height: 170, left: 40, right: 10, top: 22, bottom: 28 };

/**
 * The frame's transform: the finite points fill the plot area (margin on every side) at one uniform scale, so a grid
 * keeps its aspect, centred on the middle of their bounding box. y grows upward. Returns {cx, cy, s, width, height}
 * and px(x), py(y).
 */
export function frameTransform(xs, ys, box = SCATTER) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) continue;
    x0 = Math.min(x0, xs[i]); x1 = Math.max(x1, xs[i]);
    y0 = Math.min(y0, ys[i]); y1 = Math.max(y1, ys[i]);
  }
  if (!Number.isFinite(x0)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
  const xr = Math.max(x1 - x0, 1e-12), yr = Math.max(y1 - y0, 1e-12);
  const s = Math.min((box.width - 2 * box.margin) / xr, (box.height - 2 * box.margin) / yr);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const t = { cx, cy, s, width: box.width, height: box.height };
  t.px = (x) => box.width / 2 + s * (x - cx);
  t.py = (y) => box.height / 2 - s * (y - cy);
  return t;
}

/** Categorical colours for up to ten group values (the usual ten, readable on light and dark themes). */
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf"];

function hex(r, g, b) {
  return "#" + [r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
}

/** HSL (h in degrees, s and l in 0..1) to "#rrggbb". */
export function hsl(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return hex(f(0), f(8), f(4));
}

/**
 * One colour per node from a group's values: the palette by rank of distinct value when there are at most ten,
 * else a cyclic hue (ring positions wrap around, so the first and last are neighbours in colour too).
 * Returns {colors: [css per node], legend: [[value, css]]}.
 */
export function groupColors(values) {
  const n = values ? values.length : 0;
  if (!values) return { colors: [], legend: [] };
  const distinct = [...new Set(Array.from(values))].sort((a, b) => a - b);
  if (distinct.length <= PALETTE.length) {
    const rank = new Map(distinct.map((v, i) => [v, i]));
    return { colors: Array.from(values, (v) => PALETTE[rank.get(v)]), legend: distinct.map((v, i) => [v, PALETTE[i]]) };
  }
  const rank = new Map(distinct.map((v, i) => [v, i]));
  const m = distinct.length;
  const colors = Array.from(values, (v) => hsl((360 * rank.get(v)) / m, 0.65, 0.5));
  return { colors, legend: distinct.map((v, i) => [v, hsl((360 * i) / m, 0.65, 0.5)]), n };
}

/** Log-axis mapping from [lo, hi] (both > 0) onto [a, b] pixels, with its inverse. */
export function logScale(lo, hi, a, b) {
  const l0 = Math.log(lo), l1 = Math.log(hi);
  const span = l1 - l0 || 1;
  return {
    to: (v) => a + ((Math.log(v) - l0) / span) * (b - a),
    from: (p) => Math.exp(l0 + ((p - a) / (b - a)) * span),
  };
}

/** Index of the value in a sorted positive array closest to v on a log scale. */
export function nearestLog(values, v) {
  let best = 0, d = Infinity;
  const lv = Math.log(Math.max(v, 1e-12));
  for (let i = 0; i < values.length; i++) {
    const e = Math.abs(Math.log(values[i]) - lv);
    if (e < d) { d = e; best = i; }
  }
  return best;
}

/** The node whose drawn centre is nearest (x, y) within `radius`, or -1. positions: [[x, y] | null]. */
export function nodeAt(positions, x, y, radius = HIT_RADIUS) {
  let best = -1, d = radius * radius;
  positions.forEach((p, i) => {
    if (!p) return;
    const e = (p[0] - x) ** 2 + (p[1] - y) ** 2;
    if (e <= d) { d = e; best = i; }
  });
  return best;
}

/** Neighbours of node i from a flat n x n adjacency (Float32Array). */
export function neighbours(adjacency, n, i) {
  const out = [];
  for (let j = 0; j < n; j++) if (adjacency[i * n + j] > 0) out.push(j);
  return out;
}

/** Which stored Procrustes fit matches the shown components ("PC1-2" for [0, 1] etc.), or -1. */
export function fitIndex(pairs, components) {
  const [a, b] = components;
  return pairs.indexOf(`PC${Math.min(a, b) + 1}-${Math.max(a, b) + 1}`);
}
