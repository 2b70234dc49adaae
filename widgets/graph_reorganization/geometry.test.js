// node --test: the pure rules of GraphReorganization, checked against hand-computed values.
import assert from "node:assert/strict";
import test from "node:test";

import { fitIndex, frameTransform, groupColors, hsl, logScale, nearestLog, neighbours, nodeAt, PALETTE } from "./geometry.js";

test("frameTransform fills the box at one scale and keeps the aspect", () => {
  const box = { width: 200, height: 100, margin: 10 };
  const t = frameTransform([0, 4, NaN], [0, 1, 5], box);
  // x spans 4 over 180 px, y spans 1 over 80 px: the x span decides (45 px per unit)
  assert.equal(t.s, 45);
  assert.equal(t.px(0), 10);
  assert.equal(t.px(4), 190);
  assert.equal(t.py(0.5), 50);
  assert.ok(t.py(1) < t.py(0), "y grows upward");
});

test("frameTransform of a single point or no point stays finite", () => {
  const one = frameTransform([3], [3]);
  assert.ok(Number.isFinite(one.px(3)) && Number.isFinite(one.py(3)));
  const none = frameTransform([NaN], [NaN]);
  assert.ok(Number.isFinite(none.s));
});

test("groupColors: palette by rank for few values, a cyclic hue for many", () => {
  const few = groupColors([2, 0, 2, 1]);
  assert.deepEqual(few.colors, [PALETTE[2], PALETTE[0], PALETTE[2], PALETTE[1]]);
  const many = groupColors(Array.from({ length: 16 }, (_, i) => i));
  assert.equal(new Set(many.colors).size, 16);
  assert.equal(many.colors[0], hsl(0, 0.65, 0.5));
});

test("hsl matches known colours", () => {
  assert.equal(hsl(0, 1, 0.5), "#ff0000");
  assert.equal(hsl(120, 1, 0.5), "#00ff00");
  assert.equal(hsl(240, 1, 0.25), "#000080");
});

test("logScale round-trips and nearestLog picks on a log scale", () => {
  const s = logScale(1, 1000, 0, 300);
  assert.equal(s.to(1), 0);
  assert.ok(Math.abs(s.to(10) - 100) < 1e-9);
  assert.ok(Math.abs(s.from(200) - 100) < 1e-9);
  assert.equal(nearestLog([16, 100, 1400], 39), 0); // 40 = sqrt(16 x 100) is the log-midpoint
  assert.equal(nearestLog([16, 100, 1400], 41), 1);
});

test("nodeAt returns the nearest node within the radius", () => {
  const pos = [[10, 10], null, [30, 10]];
  assert.equal(nodeAt(pos, 12, 11, 5), 0);
  assert.equal(nodeAt(pos, 29, 10, 5), 2);
  assert.equal(nodeAt(pos, 20, 10, 5), -1);
});

test("neighbours and fitIndex", () => {
  const a = new Float32Array([0, 1, 0, 1, 0, 1, 0, 1, 0]);
  assert.deepEqual(neighbours(a, 3, 1), [0, 2]);
  assert.equal(fitIndex(["PC1-2", "PC3-4"], [1, 0]), 0);
  assert.equal(fitIndex(["PC1-2", "PC3-4"], [2, 3]), 1);
  assert.equal(fitIndex(["PC1-2", "PC3-4"], [0, 2]), -1);
});
