// Per-token annotation strips (e.g. bracket depth) drawn as small bar charts aligned with a heatmap's token axis.

/** Height (px) of one annotation strip. */
export const STRIP_PX = 22;

/** Value range of a strip: always includes 0, so bars grow from a zero line (negative depths point down). */
export function stripRange(values) {
  let lo = 0, hi = 0;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return hi > lo ? [lo, hi] : [0, 1];
}

/**
 * Draw `rows` (array of {name, values}) for tokens t0..t1-1, `cellPx` wide each, one strip per row, on `canvas`
 * (width already set). Bars grow from the zero line in the accent colour; the zero line is muted.
 */
export function drawStrips(canvas, rows, t0, t1, cellPx, th) {
  canvas.height = Math.max(1, rows.length * STRIP_PX);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  rows.forEach(({ values }, i) => {
    const [lo, hi] = stripRange(values);
    const top = i * STRIP_PX + 2, span = STRIP_PX - 4;
    const yOf = (v) => top + ((hi - v) / (hi - lo)) * span;
    const y0 = yOf(0);
    ctx.fillStyle = th.accent;
    const w = cellPx > 3 ? cellPx - 1 : Math.max(cellPx, 1);
    for (let t = Math.max(0, t0); t < Math.min(t1, values.length); t++) {
      const v = values[t];
      if (!Number.isFinite(v) || v === 0) continue;
      const y = yOf(v);
      ctx.fillRect((t - t0) * cellPx, Math.min(y, y0), w, Math.max(1, Math.abs(y - y0)));
    }
    ctx.fillStyle = th.muted;
    ctx.fillRect(0, Math.round(y0), canvas.width, 1);
  });
  canvas.dataset.rows = String(rows.length);
  canvas.dataset.t0 = String(t0);
  canvas.dataset.cellPx = cellPx.toFixed(4);
}
