// Canvas heatmaps from colour codes (see binary.js toCodes / colors.js LUT), with explicit size limits.
import { LUT } from "./colors.js";

/** Max-pool a rows x cols code grid so neither side exceeds `limit` (NaN code 255 ranks lowest). */
export function poolCodes(codes, rows, cols, limit) {
  const f = Math.max(1, Math.ceil(Math.max(rows, cols) / limit));
  if (f === 1) return { codes, rows, cols, f };
  const r2 = Math.ceil(rows / f), c2 = Math.ceil(cols / f);
  const out = new Uint8Array(r2 * c2).fill(255);
  for (let r = 0; r < rows; r++) {
    const ro = ((r / f) | 0) * c2, ri = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = codes[ri + c];
      if (v === 255) continue;
      const o = ro + ((c / f) | 0);
      const cur = out[o];
      if (cur === 255 || v > cur) out[o] = v;
    }
  }
  return { codes: out, rows: r2, cols: c2, f };
}

/** An offscreen canvas holding one pixel per cell (codes -> LUT colours). */
export function cellImage(codes, rows, cols, offset = 0) {
  const img = new ImageData(cols, rows);
  const px = img.data;
  for (let i = 0, n = rows * cols; i < n; i++) {
    const c = codes[offset + i] * 4;
    px[4 * i] = LUT[c];
    px[4 * i + 1] = LUT[c + 1];
    px[4 * i + 2] = LUT[c + 2];
    px[4 * i + 3] = LUT[c + 3];
  }
  const off = document.createElement("canvas");
  off.width = cols;
  off.height = rows;
  off.getContext("2d").putImageData(img, 0, 0);
  return off;
}

/** Draw a cell image into ctx at (x, y, w, h) with nearest-neighbour scaling (crisp cells). */
export function blit(ctx, image, x, y, w, h) {
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, 0, 0, image.width, image.height, x, y, w, h);
}

/** Rows r0:r1, cols c0:c1 of a rows x cols code grid (clipped), as a new grid {codes, rows, cols}. */
export function cropCodes(codes, rows, cols, r0, r1, c0, c1) {
  r0 = Math.max(0, Math.min(rows, r0)); r1 = Math.max(r0, Math.min(rows, r1));
  c0 = Math.max(0, Math.min(cols, c0)); c1 = Math.max(c0, Math.min(cols, c1));
  if (r0 === 0 && c0 === 0 && r1 === rows && c1 === cols) return { codes, rows, cols };
  const nr = r1 - r0, nc = c1 - c0;
  const out = new Uint8Array(nr * nc);
  for (let r = 0; r < nr; r++) out.set(codes.subarray((r0 + r) * cols + c0, (r0 + r) * cols + c1), r * nc);
  return { codes: out, rows: nr, cols: nc };
}
