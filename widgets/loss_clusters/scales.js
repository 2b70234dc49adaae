// Scales and geometry of the LossClusters charts: linear maps, nice ticks, the y-range of bands and lines, and the
// interquartile band as a polygon. Pure functions (node --test); drawing lives in chart.js.

/** A linear map from [d0, d1] to [r0, r1], with its inverse. */
export function linear(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  const f = (v) => r0 + ((v - d0) / span) * (r1 - r0);
  f.invert = (p) => d0 + ((p - r0) / (r1 - r0)) * span;
  f.domain = [d0, d1];
  f.range = [r0, r1];
  return f;
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

/** [min, max] of the finite values of several arrays, padded by `pad` of the span (and never empty). */
export function extent(arrays, pad = 0.05) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) for (const v of a) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

/** Row c of a row-major (rows x n) array. */
export function row(data, c, n) {
  return data.subarray ? data.subarray(c * n, (c + 1) * n) : data.slice(c * n, (c + 1) * n);
}

/**
 * The interquartile band of one cluster as a closed polygon in pixels: along q3 from the first step to the last,
 * then back along q1. Steps with a NaN quartile split the band into several polygons. Returns [[[x, y], ...], ...].
 */
export function bandPolygons(steps, q1, q3, x, y) {
  const out = [];
  let top = [], bottom = [];
  const flush = () => {
    if (top.length) out.push([...top, ...bottom.reverse()]);
    top = [];
    bottom = [];
  };
  for (let j = 0; j < steps.length; j++) {
    if (!Number.isFinite(q1[j]) || !Number.isFinite(q3[j])) { flush(); continue; }
    top.push([x(steps[j]), y(q3[j])]);
    bottom.push([x(steps[j]), y(q1[j])]);
  }
  flush();
  return out;
}

/** The polyline of a series in pixels, split at NaN. */
export function linePieces(steps, values, x, y) {
  const out = [];
  let cur = [];
  for (let j = 0; j < steps.length; j++) {
    if (!Number.isFinite(values[j])) { if (cur.length) out.push(cur); cur = []; continue; }
    cur.push([x(steps[j]), y(values[j])]);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Index of the step nearest to a data x value. */
export function nearestIndex(steps, v) {
  let best = 0;
  for (let j = 1; j < steps.length; j++) if (Math.abs(steps[j] - v) < Math.abs(steps[best] - v)) best = j;
  return best;
}

/** Short number text for axes and tooltips. */
export function fmt(v) {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}
