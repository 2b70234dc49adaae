// Small helpers the canvas widgets share: a canvas sized for the device pixel ratio, the padded range of some
// arrays, a row of a packed (rows, n) array, and a number as read-outs show it. Pure but for `sized`.

/** Size a canvas for CSS size w x h at the device pixel ratio; returns its 2-d context in CSS pixels. */
export function sized(canvas, w, h) {
  const dpr = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.dataset.dpr = String(dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

/** [lo, hi] over every finite value of the given arrays, padded by 5% (a unit range around a constant; [0, 1] when empty). */
export function extent(...arrays) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) if (a) for (const v of a) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi === lo) return [lo - 0.5, hi + 0.5];
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}

/** Row i of a (rows, n) array as a subarray. */
export function row(arr, i) {
  const n = arr.shape[arr.shape.length - 1];
  return arr.data.subarray(i * n, (i + 1) * n);
}

/** Plain number for read-outs (3 decimals, a real minus sign, "—" for NaN). */
export function num(v, digits = 3) {
  if (!Number.isFinite(v)) return "—";
  return v.toFixed(digits).replace("-", "−");
}
