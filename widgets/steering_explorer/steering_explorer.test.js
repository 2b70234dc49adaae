// node --test: SteeringExplorer's pure pieces against values worked out by hand: the coef axis of the evaluation
// canvas, coefficient look-up, log-probability shading, extents and packed payloads.
import assert from "node:assert/strict";
import test from "node:test";

import { CURVE, coefIndex, coefLabel, curveLayout, extent, num, readPacked, row, shade, textKey, xOf, yOf } from "./data.js";

test("the coef axis runs from cmin at x0 to cmax at x1", () => {
  const g = curveLayout([-8, -4, 0, 2, 4, 8, 16]);
  assert.equal(g.x0, 56);
  assert.equal(g.x1, 444); // 460 - 16
  assert.equal(xOf(g, -8), 56);
  assert.equal(xOf(g, 16), 444);
  assert.equal(xOf(g, 0), 56 + (8 / 24) * 388);
  assert.equal(xOf(g, 4), 56 + (12 / 24) * 388);
  assert.equal(g.mainTop, 14);
  assert.equal(g.mainBottom, 214);
  assert.equal(g.flTop, 238);
  assert.equal(g.flBottom, 308);
  assert.equal(g.height, 338);
  const one = curveLayout([0]);
  assert.equal(xOf(one, 0), 250); // a single coefficient sits in the middle
  assert.equal(curveLayout([0, 1], false).height, CURVE.top + CURVE.main + CURVE.bottom);
});

test("yOf puts hi at the top and lo at the bottom", () => {
  assert.equal(yOf(10, 110, -1, 1, 1), 10);
  assert.equal(yOf(10, 110, -1, 1, -1), 110);
  assert.equal(yOf(10, 110, -1, 1, 0), 60);
  assert.equal(yOf(10, 110, 2, 2, 5), 60);
});

test("coefIndex finds the nearest coefficient", () => {
  assert.equal(coefIndex([-8, 0, 4], 4), 2);
  assert.equal(coefIndex([-8, 0, 4], -7.9), 0);
  assert.equal(coefIndex([-8, 0, 4], 0), 1);
  assert.equal(coefIndex([], 1), -1);
});

test("shade grows with surprisal and caps", () => {
  assert.equal(shade(0), 0);
  assert.equal(shade(-3), 0.225);
  assert.equal(shade(-6), 0.45);
  assert.equal(shade(-20), 0.45);
  assert.equal(shade(NaN), 0);
  assert.equal(shade(0.5), 0); // a positive log-prob (rounding) is certain
});

test("extent pads by 5% and ignores NaN", () => {
  assert.deepEqual(extent(Float32Array.from([0, NaN, 10])), [-0.5, 10.5]);
  assert.deepEqual(extent([2, 2]), [1.5, 2.5]);
  assert.deepEqual(extent([NaN], null), [0, 1]);
});

test("labels and keys", () => {
  assert.equal(coefLabel(0), "0");
  assert.equal(coefLabel(-8), "−8");
  assert.equal(coefLabel(4), "+4");
  assert.equal(num(-0.5), "−0.500");
  assert.equal(num(NaN), "—");
  assert.equal(textKey(1, 2), "1:2");
});

test("packed arrays read back from an unaligned view; rows of a matrix", () => {
  const f = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const bytes = new Uint8Array(3 + f.byteLength);
  bytes.set(new Uint8Array(f.buffer), 3);
  const view = new DataView(bytes.buffer, 3, f.byteLength);
  const a = readPacked({ arrays: { m: { offset: 0, shape: [2, 3] } } }, view);
  assert.deepEqual(Array.from(row(a.m, 1)), [4, 5, 6]);
  assert.deepEqual(a.m.shape, [2, 3]);
});
