// SteeringExplorer data and geometry: the packed float32 buffers of workbench/widgets/steering_explorer.py read
// back, the coefficient axis of the evaluation curve, and the shading of a token by its log-probability. Pure:
// node --test covers it.
import { unpack } from "../lib/binary.js";
import { extent, num, row } from "../lib/plot.js";

export { extent, num, row };

/** Packed arrays (the summary or one (layer, prompt)'s generations) as {name: {shape, data}}. */
export function readPacked(meta, buffer) {
  return unpack(meta, buffer);
}

/** Index of `coef` among `coefs` (nearest; -1 for an empty list). */
export function coefIndex(coefs, coef) {
  let best = -1, gap = Infinity;
  coefs.forEach((c, i) => {
    const d = Math.abs(c - coef);
    if (d < gap) { gap = d; best = i; }
  });
  return best;
}

/** Key of one (layer index, prompt) in `_texts`. */
export const textKey = (layerIndex, prompt) => `${layerIndex}:${prompt}`;

/**
 * The documented geometry of the evaluation canvas (CSS pixels): the main panel (score) on top, the fluency panel
 * under it, both on one coef axis from x0 to x1.
 */
export const CURVE = { width: 460, left: 56, right: 16, top: 14, main: 200, gap: 24, fluency: 70, bottom: 30 };

export function curveLayout(coefs, fluency = true, g = CURVE) {
  const x0 = g.left, x1 = g.width - g.right;
  const mainTop = g.top, mainBottom = g.top + g.main;
  const flTop = mainBottom + g.gap, flBottom = fluency ? flTop + g.fluency : mainBottom;
  const height = (fluency ? flBottom : mainBottom) + g.bottom;
  const finite = coefs.filter(Number.isFinite);
  const cmin = finite.length ? Math.min(...finite) : 0, cmax = finite.length ? Math.max(...finite) : 1;
  return { width: g.width, height, x0, x1, mainTop, mainBottom, flTop, flBottom, cmin, cmax, fluency };
}

/** x (CSS px) of coefficient c: linear from cmin at x0 to cmax at x1 (the middle when they are equal). */
export function xOf(geo, c) {
  if (geo.cmax === geo.cmin) return (geo.x0 + geo.x1) / 2;
  return geo.x0 + ((c - geo.cmin) / (geo.cmax - geo.cmin)) * (geo.x1 - geo.x0);
}

/** y of value v in a panel [top, bottom] showing [lo, hi] (hi at the top). */
export function yOf(top, bottom, lo, hi, v) {
  if (hi === lo) return (top + bottom) / 2;
  return bottom - ((v - lo) / (hi - lo)) * (bottom - top);
}

/**
 * Shading of a generated token by its log-probability: alpha 0 at logprob 0 (certain) rising linearly to 0.45 at
 * logprob -6 and below; NaN (no value) is 0.
 */
export function shade(logprob) {
  if (!Number.isFinite(logprob)) return 0;
  return Math.round(Math.min(1, Math.max(0, -logprob / 6)) * 0.45 * 1000) / 1000;
}

/** A coefficient as shown: "0", "+4", "−8", "+0.5". */
export function coefLabel(c) {
  if (!Number.isFinite(c)) return "—";
  if (c === 0) return "0";
  return (c < 0 ? "−" : "+") + String(Math.abs(c));
}

