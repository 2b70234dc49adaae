// FeatureExplorer data and geometry: the packed float32 buffers of workbench/widgets/feature_explorer.py read back,
// the latent list's sort order, the activation histogram's bins, the token shading scale of the top contexts, the
// scatter's axes and hit testing, and the layout of token cells. Pure (no DOM): node --test covers it, and the
// browser test recomputes the same documented rules from the Dataset.
import { unpack } from "../lib/binary.js";
import { extent, num, row } from "../lib/plot.js";

export { extent, num, row };

/** Packed arrays (the summary, one sae's latents, one latent's detail) as {name: {shape, data}}. */
export function readPacked(meta, buffer) {
  return unpack(meta, buffer);
}

/** The sort keys of the latent list: the sae payload's array each one reads, and its name on screen. */
export const SORTS = {
  detection: { array: "best", label: "best label score" },
  frequency: { array: "frequency", label: "frequency" },
  causal: { array: "causal", label: "causal effect" },
  match: { array: "match_cosine", label: "cross-seed match" },
};

/**
 * Latent indices ordered by `values`, largest first; NaN (no value) last; ties by the smaller index. Stable and
 * total, so the list never reorders between redraws.
 */
export function order(values) {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  return idx.sort((a, b) => {
    const va = values[a], vb = values[b];
    const fa = Number.isFinite(va), fb = Number.isFinite(vb);
    if (fa !== fb) return fa ? -1 : 1;
    if (fa && va !== vb) return vb - va;
    return a - b;
  });
}

/**
 * Histogram of the finite values in [lo, hi] with `bins` equal-width bins: bin i holds lo + i w <= v < lo + (i+1) w,
 * w = (hi - lo) / bins, except that v = hi falls in the last bin. Values outside [lo, hi] and NaN are left out.
 * A zero-width range (hi = lo) puts every value equal to lo in the first bin. Returns {edges (bins + 1), counts}.
 */
export function histogram(values, bins = 24, lo = 0, hi = undefined) {
  if (hi === undefined) {
    hi = lo;
    for (const v of values) if (Number.isFinite(v) && v > hi) hi = v;
  }
  const counts = new Array(bins).fill(0);
  const w = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * w));
  for (const v of values) {
    if (!Number.isFinite(v) || v < lo || v > hi) continue;
    const i = w > 0 ? Math.min(bins - 1, Math.floor((v - lo) / w)) : 0;
    counts[i] += 1;
  }
  return { edges, counts };
}

/** Colour of an activation of 1 (relative to the latent's largest); 0 is white. */
export const SHADE_RGB = [232, 89, 12];

/**
 * The shading code of an activation: round(clip(a / amax, 0, 1) * 254) (0 for NaN or amax <= 0), the same
 * quantisation as the attention maps.
 */
export function shadeCode(a, amax) {
  if (!Number.isFinite(a) || !(amax > 0)) return 0;
  return Math.round(Math.min(1, Math.max(0, a / amax)) * 254);
}

/** RGB of a shading code: linear from white (code 0) to SHADE_RGB (code 254), each channel rounded. */
export function shadeRgb(code) {
  const t = code / 254;
  return SHADE_RGB.map((c) => Math.round(255 + t * (c - 255)));
}

/** CSS colour of an activation `a` of a latent whose largest activation is `amax`. */
export function shadeCss(a, amax) {
  const [r, g, b] = shadeRgb(shadeCode(a, amax));
  return `rgb(${r},${g},${b})`;
}

/**
 * The top-context canvas (CSS px): a label column of width `label`, then token cells of height `cell` on rows
 * `row` apart from `top`; cells are `gap` px apart and at least `minCell` wide (text width + 2 * pad).
 */
export const CONTEXT = { label: 92, top: 4, row: 26, cell: 20, gap: 2, pad: 3, minCell: 12, right: 8 };

/**
 * Boxes of one row's token cells from the tokens' text widths: [x, y, w, h] in integer CSS px, left to right.
 */
export function tokenBoxes(widths, rowIndex, g = CONTEXT) {
  const y = g.top + rowIndex * g.row;
  let x = g.label;
  return Array.from(widths, (tw) => {
    const w = Math.max(g.minCell, Math.ceil(tw) + 2 * g.pad);
    const box = [x, y, w, g.cell];
    x += w + g.gap;
    return box;
  });
}

/** The scatter canvas (CSS px): the plot area runs from `left` to width - `right` and from `top` to height - `bottom`. */
export const SCATTER = { width: 380, height: 300, left: 48, right: 12, top: 12, bottom: 36 };
/** Marker radius of a latent, of a neuron, and the click / hover radius. */
export const DOT = 3.5, UNIT_DOT = 3, HIT = 8;

/** The causal axis's scales: linear, or the signed square root (spreads the many small effects near 0). */
export const Y_SCALES = {
  linear: (v) => v,
  sqrt: (v) => Math.sign(v) * Math.sqrt(Math.abs(v)),
};

/**
 * The scatter's axes: x (best detection) and y (causal effect, through `yScale`) each over the extent of the latents'
 * and the neurons' values, padded by 5%; y grows upward. Returns {x0, x1, y0, y1, xlo, xhi, ylo, yhi, px, py}: ylo
 * and yhi are on the scaled axis, py takes an unscaled value.
 */
export function scatterLayout(xs, ys, ux = null, uy = null, g = SCATTER, yScale = "linear") {
  const f = Y_SCALES[yScale] || Y_SCALES.linear;
  const [xlo, xhi] = extent(xs, ux);
  const [ylo, yhi] = extent(Array.from(ys || [], f), uy ? Array.from(uy, f) : null);
  const x0 = g.left, x1 = g.width - g.right, y0 = g.top, y1 = g.height - g.bottom;
  const geo = { width: g.width, height: g.height, x0, x1, y0, y1, xlo, xhi, ylo, yhi, yScale, f };
  geo.px = (v) => x0 + ((v - xlo) / (xhi - xlo)) * (x1 - x0);
  geo.py = (v) => y1 - ((f(v) - ylo) / (yhi - ylo)) * (y1 - y0);
  return geo;
}

/** Centres of the points (null where x or y is not finite). */
export function positions(geo, xs, ys) {
  return Array.from(xs, (x, i) => (Number.isFinite(x) && Number.isFinite(ys[i]) ? [geo.px(x), geo.py(ys[i])] : null));
}

/** The point nearest (x, y) within `radius` px (the later one on a tie, as it is drawn on top), or -1. */
export function pointAt(points, x, y, radius = HIT) {
  let best = -1, d = radius * radius;
  points.forEach((p, i) => {
    if (!p) return;
    const e = (p[0] - x) ** 2 + (p[1] - y) ** 2;
    if (e <= d) { d = e; best = i; }
  });
  return best;
}

/**
 * The correlational-versus-causal gap: of the points whose best label score is at least `well` (NaN never counts),
 * how many have a causal effect below `none`; the thresholds are rounded to float32 first, like the scores (so a
 * stored 0.9 is at least 0.9). Returns {well, none} counts ({0, 0} without thresholds).
 */
export function gap(best, causal, well, none) {
  let w = 0, n = 0;
  if (!Number.isFinite(well) || !Number.isFinite(none)) return { well: 0, none: 0 };
  well = Math.fround(well);
  none = Math.fround(none);
  for (let i = 0; i < best.length; i++) {
    if (!(best[i] >= well)) continue;
    w += 1;
    if (causal[i] < none) n += 1;
  }
  return { well: w, none: n };
}

/** Key of one sae's payload in `_saes`, and of one latent's in `_latents`. */
export const saeKey = (s) => String(s);
export const latentKey = (s, l) => `${s}:${l}`;

/** A share as a percentage ("3.1%"; "—" for NaN). */
export function pct(v, digits = 1) {
  if (!Number.isFinite(v)) return "—";
  return `${(100 * v).toFixed(digits)}%`;
}
