import assert from "node:assert/strict";
import { test } from "node:test";
import { visibleProblems } from "./filter.js";

const items = [
  { index: 0, correct: true, decoded: true, verified: false },
  { index: 1, correct: false, decoded: true, verified: true },
  { index: 2, correct: null, decoded: false, verified: false },
  { index: 3, correct: true, decoded: false, verified: true },
];

test("'all' and an empty filter keep every problem", () => {
  assert.deepEqual(visibleProblems(items, "all"), [0, 1, 2, 3]);
  assert.deepEqual(visibleProblems(items, ""), [0, 1, 2, 3]);
});

test("terms combine with and; a missing flag (null) passes neither a term nor its opposite", () => {
  assert.deepEqual(visibleProblems(items, "correct"), [0, 3]);
  assert.deepEqual(visibleProblems(items, "incorrect"), [1]);
  assert.deepEqual(visibleProblems(items, "correct,decoded"), [0]);
  assert.deepEqual(visibleProblems(items, "not decoded,verified"), [3]);
  assert.deepEqual(visibleProblems(items, "not verified"), [0, 2]);
});
