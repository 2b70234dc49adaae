// node --test: LossClusters' pure pieces against numbers written by hand: payload decoding (packed float32 and
// uint8 trajectories, from unaligned views), composition shares, highlight spans, scales, ticks, band polygons and
// bar layout.
import assert from "node:assert/strict";
import test from "node:test";

import { barLayout, segmentAt } from "./bars.js";
import { composition, highlight, labelCodes, members, readVector, trajValue } from "./data.js";
import { bandPolygons, extent, fmt, linePieces, linear, nearestIndex, ticks } from "./scales.js";

function packed(arrays) {
  // what _serialize.pack writes: float32 little-endian, back to back
  const meta = { arrays: {} };
  let offset = 0;
  const parts = [];
  for (const [name, { shape, values }] of Object.entries(arrays)) {
    meta.arrays[name] = { offset, shape };
    parts.push(values);
    offset += 4 * values.length;
  }
  const dv = new DataView(new ArrayBuffer(offset + 1), 1); // shifted by one byte: an unaligned view
  let i = 0;
  for (const p of parts) for (const v of p) dv.setFloat32(4 * i++, v, true);
  return { meta, data: dv };
}

test("readVector decodes clusters, quartiles and uint8 trajectories", () => {
  const { meta, data } = packed({
    cluster: { shape: [3], values: [0, -1, 1] }, median: { shape: [2, 2], values: [0, -1, 0, -2] },
    q1: { shape: [2, 2], values: [0, -1.5, 0, -2.5] }, q3: { shape: [2, 2], values: [0, -0.5, 0, -1.5] },
    exact_median: { shape: [2, 2], values: [2, 1, 2, 0.5] }, break: { shape: [2], values: [100, NaN] },
    sizes: { shape: [2], values: [1, 1] },
  });
  const traj = new Uint8Array([0, 254, 127, 255, 0, 0]);
  const v = readVector({ meta: { ...meta, vector: 4 }, data, traj_meta: { shape: [3, 2], lo: -2, hi: 0, nan: 255 }, traj });
  assert.equal(v.vector, 4);
  assert.deepEqual(Array.from(v.cluster), [0, -1, 1]);
  assert.equal(v.nClusters, 2);
  assert.equal(v.nSteps, 2);
  assert.deepEqual(Array.from(v.q3), [0, -0.5, 0, -1.5]);
  assert.ok(Number.isNaN(v.breaks[1]));
  assert.equal(trajValue(v.traj, 0, 0), -2);
  assert.equal(trajValue(v.traj, 0, 1), 0);
  assert.ok(Math.abs(trajValue(v.traj, 1, 0) - (-2 + (127 / 254) * 2)) < 1e-12);
  assert.ok(Number.isNaN(trajValue(v.traj, 1, 1)));
  assert.throws(() => readVector({ meta, data, traj_meta: { shape: [4, 2], lo: 0, hi: 1 }, traj }), /trajectory buffer/);
});

test("composition counts each cluster's categories and skips outliers and filtered samples", () => {
  const cluster = Int32Array.from([0, 0, 1, -1, -2, 1, 1]);
  const codes = Float32Array.from([0, 1, 1, 0, 0, 1, 2]);
  const { counts, shares } = composition(cluster, codes, 2, 3);
  assert.deepEqual(counts, [[1, 1, 0], [0, 2, 1]]);
  assert.deepEqual(shares[1].map((x) => Math.round(x * 1000) / 1000), [0, 0.667, 0.333]);
  assert.deepEqual(members(cluster, 1), [2, 5, 6]);
  const summary = { codes: { shape: [2, 3], data: Float32Array.from([0, 1, 2, 5, 6, 7]) } };
  assert.deepEqual(Array.from(labelCodes(summary, ["place", "carry"], "carry")), [5, 6, 7]);
  assert.equal(labelCodes(summary, ["place"], "digit"), null);
});

test("highlight splits a text around its answer token", () => {
  assert.deepEqual(highlight("457+168=0625", 9, 10), { before: "457+168=0", token: "6", after: "25" });
  assert.deepEqual(highlight("abc", -1, -1), { before: "abc", token: "", after: "" });
  assert.deepEqual(highlight("abc", 2, 9), { before: "abc", token: "", after: "" });
});

test("linear scales invert, ticks are round, extent pads", () => {
  const y = linear(-2, 0, 200, 20); // value -> pixel, upward
  assert.equal(y(-2), 200);
  assert.equal(y(0), 20);
  assert.equal(y(-1), 110);
  assert.equal(y.invert(110), -1);
  assert.deepEqual(ticks(0, 4000, 4), [0, 1000, 2000, 3000, 4000]);
  assert.deepEqual(ticks(-0.26, 0.02, 4), [-0.2, -0.1, 0]);
  assert.deepEqual(ticks(-0.3, 0.3, 6), [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]);
  assert.deepEqual(extent([[1, NaN, 3]], 0), [1, 3]);
  assert.deepEqual(extent([[NaN]]), [0, 1]);
  assert.deepEqual(extent([[2, 2]]), [1.5, 2.5]);
  assert.equal(nearestIndex([0, 40, 80, 120], 95), 2);
  assert.equal(fmt(0.000012), "1.2e-5");
  assert.equal(fmt(-0.12345), "-0.123");
});

test("band polygons run along q3 then back along q1 and split at NaN", () => {
  const x = linear(0, 30, 0, 300), y = linear(0, 1, 100, 0);
  const polys = bandPolygons([0, 10, 20, 30], [0.1, 0.2, NaN, 0.4], [0.5, 0.6, 0.7, 0.8], x, y);
  assert.equal(polys.length, 2);
  const near = (a, b) => a.every((p, i) => Math.abs(p[0] - b[i][0]) < 1e-9 && Math.abs(p[1] - b[i][1]) < 1e-9);
  assert.ok(near(polys[0], [[0, 50], [100, 40], [100, 80], [0, 90]]));
  assert.ok(near(polys[1], [[300, 20], [300, 60]]));
  assert.equal(linePieces([0, 10, 20], [1, NaN, 0], x, y).length, 2);
});

test("bar layout: segments tile each bar in proportion to the shares", () => {
  const layout = barLayout(182, [[0.25, 0.75], [1, 0]], [[1, 3], [2, 0]]);
  assert.equal(layout.length, 2);
  const [a, b] = layout[0].segments;
  assert.equal(a.x0, 70);
  assert.equal(a.x1, 70 + 25);
  assert.equal(b.x1, 170);
  assert.equal(layout[1].y0 - layout[0].y0, 22);
  assert.equal(segmentAt(layout, 100, layout[0].y0 + 5).k, 1);
  assert.equal(segmentAt(layout, 100, layout[1].y0 + 5).count, 2);
  assert.equal(segmentAt(layout, 5, 5), null);
});
