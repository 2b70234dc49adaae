// LossClusters data: the binary payloads of workbench/widgets/loss_clusters.py turned into plain arrays, and the
// summaries the drawing needs (composition of clusters by a label). Pure functions: node --test covers them.
import { asBytes, unpack } from "../lib/binary.js";

/** The shared summary (packed float32 arrays) as {name: {shape, data}}. */
export function readSummary(info, buffer) {
  return unpack(info.summary_meta, buffer);
}

/**
 * One vector's payload: packed float32 arrays (cluster, median, q1, q3, exact_median, break, sizes) plus the
 * trajectories as uint8 codes over [lo, hi] (255 = NaN). Returns {vector, cluster: Int32Array, nClusters, nSteps,
 * median, q1, q3, exactMedian (Float32Array, row-major C x S), breaks, sizes, traj: {codes, lo, hi, shape}}.
 */
export function readVector(payload) {
  const a = unpack(payload.meta, payload.data);
  const tm = payload.traj_meta;
  const codes = asBytes(payload.traj);
  const [n, s] = tm.shape;
  if (codes.length < n * s) throw new Error(`trajectory buffer holds ${codes.length} codes, shape ${tm.shape} needs ${n * s}`);
  const cluster = Int32Array.from(a.cluster.data, (v) => Math.round(v));
  return {
    vector: payload.meta.vector,
    cluster,
    nClusters: a.median.shape[0],
    nSteps: a.median.shape[1] ?? s,
    median: a.median.data,
    q1: a.q1.data,
    q3: a.q3.data,
    exactMedian: a.exact_median.data,
    breaks: a.break.data,
    sizes: a.sizes.data,
    traj: { codes, lo: tm.lo, hi: tm.hi, shape: [n, s], nan: tm.nan ?? 255 },
  };
}

/** Trajectory value of sample i at step j (decoded from its uint8 code). */
export function trajValue(traj, i, j) {
  const c = traj.codes[i * traj.shape[1] + j];
  if (c === traj.nan) return NaN;
  return traj.lo + (c / 254) * (traj.hi - traj.lo);
}

/**
 * Composition of every cluster (0..nClusters-1) by a label: counts[c][k] of category k, and shares. Samples with a
 * negative cluster (outlier -1, filtered -2) are left out.
 */
export function composition(cluster, codes, nClusters, nCategories) {
  const counts = Array.from({ length: nClusters }, () => new Array(nCategories).fill(0));
  for (let i = 0; i < cluster.length; i++) {
    const c = cluster[i];
    if (c >= 0 && c < nClusters) counts[c][Math.round(codes[i])] += 1;
  }
  const shares = counts.map((row) => {
    const total = row.reduce((x, y) => x + y, 0);
    return row.map((v) => (total ? v / total : 0));
  });
  return { counts, shares };
}

/** The rows of a label's codes in the summary's (labels x samples) matrix. */
export function labelCodes(summary, labels, label) {
  const j = labels.indexOf(label);
  if (j < 0) return null;
  const n = summary.codes.shape[1];
  return summary.codes.data.subarray(j * n, (j + 1) * n);
}

/** Indices of the samples in cluster c. */
export function members(cluster, c) {
  const out = [];
  for (let i = 0; i < cluster.length; i++) if (cluster[i] === c) out.push(i);
  return out;
}

/** A text split around its answer token [start, end): {before, token, after} (no highlight when start < 0). */
export function highlight(text, start, end) {
  if (!(start >= 0) || !(end > start) || end > text.length) return { before: text, token: "", after: "" };
  return { before: text.slice(0, start), token: text.slice(start, end), after: text.slice(end) };
}
