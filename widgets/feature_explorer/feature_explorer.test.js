// node --test: FeatureExplorer's pure pieces against values worked out by hand: the latent list's order, the
// activation histogram's bins, the token shading scale, the scatter's axes and hit testing, token cell boxes, and
// packed payloads.
import assert from "node:assert/strict";
import test from "node:test";

import { CONTEXT, extent, gap, histogram, HIT, latentKey, num, order, pct, pointAt, positions, readPacked, row, saeKey,
  SCATTER, scatterLayout, Y_SCALES, shadeCode, shadeCss, shadeRgb, SORTS, tokenBoxes } from "./data.js";

test("order: largest first, NaN last, ties by index", () => {
  assert.deepEqual(order(Float32Array.from([0.2, NaN, 0.9, 0.2, -1])), [2, 0, 3, 4, 1]);
  assert.deepEqual(order([]), []);
  assert.deepEqual(order([NaN, NaN]), [0, 1]);
  assert.deepEqual(Object.keys(SORTS), ["detection", "frequency", "causal", "match"]);
});

test("histogram: equal bins on [lo, hi], the top value in the last bin", () => {
  // 4 bins of width 0.5 on [0, 2]
  const h = histogram([0, 0.1, 0.5, 0.49, 1.0, 1.99, 2.0, NaN, -1, 3], 4, 0, 2);
  assert.deepEqual(h.edges, [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(h.counts, [3, 1, 1, 2]);
  // hi defaults to the largest finite value
  const d = histogram(Float32Array.from([1, 2, 3, 4]), 3);
  assert.deepEqual(d.edges, [0, 4 / 3, 8 / 3, 4]);
  assert.deepEqual(d.counts, [1, 1, 2]);
  // nothing to bin, or one value at lo: a zero-width range
  assert.deepEqual(histogram([], 2).counts, [0, 0]);
  assert.deepEqual(histogram([0, 0], 2).counts, [2, 0]);
  assert.equal(histogram([5], 24).counts.reduce((a, b) => a + b), 1);
});

test("shading: code = round(a / amax * 254), white to orange", () => {
  assert.equal(shadeCode(0, 2), 0);
  assert.equal(shadeCode(2, 2), 254);
  assert.equal(shadeCode(1, 2), 127);
  assert.equal(shadeCode(0.3, 1), 76); // 76.2
  assert.equal(shadeCode(5, 2), 254); // clipped
  assert.equal(shadeCode(-1, 2), 0);
  assert.equal(shadeCode(NaN, 2), 0);
  assert.equal(shadeCode(1, 0), 0); // a dead latent shades nothing
  assert.deepEqual(shadeRgb(0), [255, 255, 255]);
  assert.deepEqual(shadeRgb(254), [232, 89, 12]);
  assert.deepEqual(shadeRgb(127), [244, 172, 134]); // 255 + 0.5 * (c - 255), rounded half up: 243.5, 172, 133.5
  assert.equal(shadeCss(1, 2), "rgb(244,172,134)");
});

test("scatter axes: padded extents, y upward, neurons widen the range", () => {
  const g = scatterLayout([0.5, 1.0], [0, 2]);
  assert.equal(g.x0, SCATTER.left);
  assert.equal(g.x1, SCATTER.width - SCATTER.right);
  assert.equal(g.y1, SCATTER.height - SCATTER.bottom);
  assert.deepEqual([g.xlo, g.xhi], [0.475, 1.025]);
  assert.deepEqual([g.ylo, g.yhi], [-0.1, 2.1]);
  assert.ok(Math.abs(g.px(0.75) - (48 + 320 / 2)) < 1e-9); // the middle of the x range
  assert.ok(Math.abs(g.py(1) - (12 + 252 / 2)) < 1e-9);
  assert.ok(Math.abs(g.px(0.475) - 48) < 1e-9 && Math.abs(g.py(-0.1) - 264) < 1e-9);
  const u = scatterLayout([0.5, 1.0], [0, 2], [0.0], [4.0]);
  assert.deepEqual([u.xlo, u.xhi], [-0.05, 1.05]);
  assert.deepEqual([u.ylo, u.yhi], [-0.2, 4.2]);
  assert.deepEqual(extent([3, 3]), [2.5, 3.5]);
  assert.deepEqual(extent([NaN], null), [0, 1]);
});

test("hit testing: the nearest centre within the radius; NaN points are never hit", () => {
  const g = scatterLayout([0, 1, NaN, 1], [0, 1, 0.5, NaN]);
  const pts = positions(g, [0, 1, NaN, 1], [0, 1, 0.5, NaN]);
  assert.equal(pts[2], null);
  assert.equal(pts[3], null);
  assert.equal(pointAt(pts, pts[1][0] + 3, pts[1][1] - 3), 1);
  assert.equal(pointAt(pts, pts[0][0], pts[0][1] + HIT), 0); // on the rim
  assert.equal(pointAt(pts, pts[0][0], pts[0][1] + HIT + 0.01), -1);
  assert.equal(pointAt([[10, 10], [14, 10]], 12.5, 10), 1); // nearer the second
  assert.equal(pointAt([[10, 10], [14, 10]], 12, 10), 1); // a tie: the one drawn on top
  assert.equal(pointAt([], 0, 0), -1);
});

test("token cells: integer boxes left to right, at least minCell wide", () => {
  const b = tokenBoxes([7.2, 30, 1], 2);
  const y = CONTEXT.top + 2 * CONTEXT.row;
  assert.deepEqual(b, [[92, y, 14, 20], [108, y, 36, 20], [146, y, 12, 20]]);
});

test("keys, numbers and packed arrays", () => {
  assert.equal(saeKey(3), "3");
  assert.equal(latentKey(1, 17), "1:17");
  assert.equal(num(-0.25), "−0.250");
  assert.equal(num(NaN), "—");
  assert.equal(pct(0.0312), "3.1%");
  const f = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const bytes = new Uint8Array(2 + f.byteLength);
  bytes.set(new Uint8Array(f.buffer), 2);
  const a = readPacked({ arrays: { m: { offset: 0, shape: [3, 2] } } }, new DataView(bytes.buffer, 2, f.byteLength));
  assert.deepEqual(Array.from(row(a.m, 2)), [5, 6]);
});

test("the correlational-versus-causal gap counts well-correlated points without causal effect", () => {
  const best = Float32Array.from([0.95, 0.9, 0.5, NaN, 0.99]);
  const causal = Float32Array.from([0.01, 0.5, 0.0, 0.0, 0.2]);
  assert.deepEqual(gap(best, causal, 0.9, 0.1), { well: 3, none: 1 }); // 0.9 counts; NaN and 0.5 do not
  assert.deepEqual(gap(best, causal, 0.9, 0.3), { well: 3, none: 2 });
  assert.deepEqual(gap(best, causal, NaN, 0.1), { well: 0, none: 0 });
});

test("the square-root causal axis spreads small effects; py takes the unscaled value", () => {
  assert.equal(Y_SCALES.sqrt(4), 2);
  assert.equal(Y_SCALES.sqrt(-9), -3);
  assert.equal(Y_SCALES.sqrt(0), 0);
  const g = scatterLayout([0, 1], [0, 4], null, null, SCATTER, "sqrt");
  assert.deepEqual([g.ylo, g.yhi], [-0.1, 2.1]); // the extent of sqrt(0) .. sqrt(4), padded
  assert.ok(Math.abs(g.py(1) - (264 - (1.1 / 2.2) * 252)) < 1e-9); // sqrt(1) = 1 sits in the middle
  assert.equal(scatterLayout([0, 1], [0, 4]).yScale, "linear");
});
