// PatchMap data: the packed float32 buffers of workbench/widgets/patch_map.py read back, and the small rules the
// drawing needs (a site's map, the labels of the mean view, a cell's top logit changes). Pure: node --test covers it.
import { unpack } from "../lib/binary.js";

/** Packed arrays (summary or one pair's payload) as {name: {shape, data}}. */
export function readPacked(meta, buffer) {
  return unpack(meta, buffer);
}

/** The i-th block of an array along its first axis (e.g. one site of (site, layer, cell)), as a subarray. */
export function block(arr, i) {
  const n = arr.shape.slice(1).reduce((a, b) => a * b, 1);
  return arr.data.subarray(i * n, (i + 1) * n);
}

/** Positions where the prompts differ in any pair: (pair, cell) 0/1 floats -> Uint8Array over cells. */
export function differAny(differ) {
  const [P, X] = differ.shape;
  const out = new Uint8Array(X);
  for (let p = 0; p < P; p++) for (let x = 0; x < X; x++) if (differ.data[p * X + x] > 0) out[x] = 1;
  return out;
}

/** Labels of the mean view: the token where every pair that has one agrees, else up to 3 of them joined by "|". */
export function meanLabels(rows) {
  if (!rows.length) return [];
  return rows[0].map((_, x) => {
    const seen = [...new Set(rows.map((r) => r[x]).filter((t) => t !== ""))];
    if (seen.length <= 1) return seen[0] ?? "";
    return seen.slice(0, 3).join("|") + (seen.length > 3 ? "|…" : "");
  });
}

/**
 * The top logit changes of one patched run: rank by rank, {token, change}, from `index` (vocab indices, -1 = none)
 * and `change` arrays shaped (..., rank), at flat cell `cell`. Entries without a token or with a NaN change are left
 * out.
 */
export function topChanges(index, change, cell, vocab) {
  const k = index.shape[index.shape.length - 1];
  const out = [];
  for (let r = 0; r < k; r++) {
    const i = index.data[cell * k + r], c = change.data[cell * k + r];
    if (!(i >= 0) || !Number.isFinite(c)) continue;
    out.push({ token: vocab[Math.round(i)] ?? `#${i}`, change: c });
  }
  return out;
}

/** A signed number with a real minus sign: "+1.234", "−0.500", "—" for NaN. */
export function signed(v, digits = 3) {
  if (!Number.isFinite(v)) return "—";
  const s = Math.abs(v).toFixed(digits);
  return (v < 0 && Number(s) !== 0 ? "−" : "+") + s;
}

/** Plain number for read-outs (3 decimals, a real minus sign, "—" for NaN). */
export function num(v, digits = 3) {
  if (!Number.isFinite(v)) return "—";
  return v.toFixed(digits).replace("-", "−");
}

/** NaN-ignoring mean of a Float32Array (NaN when nothing is finite). */
export function nanMean(a) {
  let s = 0, n = 0;
  for (const v of a) if (Number.isFinite(v)) { s += v; n += 1; }
  return n ? s / n : NaN;
}
