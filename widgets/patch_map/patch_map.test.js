// node --test: PatchMap's pure pieces against values worked out by hand: the diverging scale (sign, centre,
// symmetry, NaN), the map geometry (cell rectangles, hit testing, keyboard moves) and the data rules (packed payloads
// read from an unaligned view, top-k lists, labels of the mean view, differing positions).
import assert from "node:assert/strict";
import test from "node:test";

import { block, differAny, meanLabels, nanMean, num, readPacked, signed, topChanges } from "./data.js";
import { cellAt, cellCenter, LABEL_PX, labelEvery, mapLayout, moveSelection, MARGIN } from "./layout.js";
import { CENTRE, LUT, NAN_CODE, STOPS, code, cssColor, rgbAt, symmetricMax } from "./scale.js";

const rgb = (c) => Array.from(LUT.slice(4 * c, 4 * c + 4));

test("the scale is centred at 0: white there, red for positive, blue for negative", () => {
  assert.equal(code(0, 2), CENTRE);
  assert.deepEqual(rgb(code(0, 2)), [247, 247, 247, 255]);
  assert.deepEqual(rgb(code(2, 2)), [178, 24, 43, 255]); // +m: the last stop
  assert.deepEqual(rgb(code(-2, 2)), [33, 102, 172, 255]); // -m: the first stop
  for (const v of [0.05, 0.3, 0.9, 1.7]) {
    const [r, , b] = rgb(code(v, 2));
    const [r2, , b2] = rgb(code(-v, 2));
    assert.ok(r > b, `+${v} is red-ish: ${rgb(code(v, 2))}`);
    assert.ok(b2 > r2, `-${v} is blue-ish: ${rgb(code(-v, 2))}`);
  }
});

test("the scale is symmetric about 0 and clamps beyond the domain", () => {
  for (const v of [0.01, 0.25, 0.5, 1, 3]) assert.equal(code(v, 1) + code(-v, 1), 2 * CENTRE);
  assert.equal(code(5, 1), 254);
  assert.equal(code(-5, 1), 0);
  assert.equal(code(0.5, 1), Math.round(127 + 63.5)); // half-way to red
  assert.deepEqual(rgbAt(0), STOPS[3]);
  assert.deepEqual(rgbAt(1 / 3), STOPS[4]); // stops every third of the half-range
  assert.deepEqual(rgbAt(-1 / 3), STOPS[2]);
});

test("NaN is transparent and the domain ignores it", () => {
  assert.equal(code(NaN, 1), NAN_CODE);
  assert.equal(code(Infinity, 1), NAN_CODE);
  assert.deepEqual(rgb(NAN_CODE), [0, 0, 0, 0]);
  assert.equal(cssColor(NaN, 1), "transparent");
  assert.equal(cssColor(1, 1), "rgb(178,24,43)");
  assert.equal(symmetricMax(Float32Array.from([0.2, NaN, -1.5]), [0.7]), 1.5);
  assert.equal(symmetricMax(Float32Array.from([NaN]), null), 1); // nothing finite: a unit domain
  assert.equal(symmetricMax([0, 0]), 1);
});

test("mapLayout: cell rectangles, centres and hit testing", () => {
  const g = mapLayout(5, 8);
  assert.equal(g.cw, 40); // 900 / 8 = 112.5, capped at 40 px
  assert.equal(g.ch, 26); // 440 / 5 = 88, capped at 26 px
  assert.equal(g.x0, MARGIN.left);
  assert.equal(g.w, 320);
  assert.equal(g.width, MARGIN.left + 320 + MARGIN.right);
  assert.deepEqual(cellCenter(g, 2, 3), [MARGIN.left + 140, MARGIN.top + 65]);
  assert.deepEqual(cellAt(g, MARGIN.left + 140, MARGIN.top + 65), { row: 2, col: 3 });
  assert.deepEqual(cellAt(g, MARGIN.left + 39.9, MARGIN.top), { row: 0, col: 0 });
  assert.deepEqual(cellAt(g, MARGIN.left + 40, MARGIN.top), { row: 0, col: 1 });
  assert.equal(cellAt(g, MARGIN.left - 1, MARGIN.top + 5), null);
  assert.equal(cellAt(g, MARGIN.left + 320, MARGIN.top + 5), null);
  assert.equal(cellAt(g, MARGIN.left + 5, MARGIN.top + 130), null);
  assert.ok(g.labelY > g.markY && g.markY >= g.y0 + g.h);
  assert.equal(g.height, Math.ceil(g.labelY + LABEL_PX)); // labels get at most LABEL_PX
  assert.equal(mapLayout(5, 8, { labelPx: 30 }).height, Math.ceil(g.labelY + 30));
  assert.equal(mapLayout(5, 8, { labelPx: 500 }).height, g.height);
});

test("mapLayout of 30 layers x 512 positions fits 900 px and still hits every column", () => {
  const g = mapLayout(30, 512);
  assert.ok(Math.abs(g.cw - 900 / 512) < 1e-12);
  assert.equal(g.ch, 14); // floor(440 / 30)
  assert.ok(g.width <= MARGIN.left + 900 + MARGIN.right + 1);
  for (const col of [0, 1, 255, 511]) assert.deepEqual(cellAt(g, ...cellCenter(g, 29, col)), { row: 29, col });
  assert.equal(labelEvery(g.cw), 8); // 13 px of text over 1.76 px columns
  assert.equal(labelEvery(40), 1);
});

test("moveSelection: arrows move one cell and stay inside; other keys are not ours", () => {
  assert.deepEqual(moveSelection(null, "ArrowRight", 3, 4), { row: 0, col: 0 });
  assert.deepEqual(moveSelection({ row: 1, col: 1 }, "ArrowRight", 3, 4), { row: 1, col: 2 });
  assert.deepEqual(moveSelection({ row: 1, col: 1 }, "ArrowUp", 3, 4), { row: 0, col: 1 });
  assert.deepEqual(moveSelection({ row: 2, col: 3 }, "ArrowDown", 3, 4), { row: 2, col: 3 });
  assert.deepEqual(moveSelection({ row: 0, col: 0 }, "ArrowLeft", 3, 4), { row: 0, col: 0 });
  assert.deepEqual(moveSelection({ row: 1, col: 1 }, "End", 3, 4), { row: 1, col: 3 });
  assert.deepEqual(moveSelection({ row: 1, col: 1 }, "PageDown", 3, 4), { row: 2, col: 1 });
  assert.equal(moveSelection({ row: 1, col: 1 }, "a", 3, 4), null);
});

function packed(arrays) {
  // what _serialize.pack writes: float32 little-endian back to back, here behind a one-byte shift (unaligned view)
  const meta = { arrays: {} };
  let offset = 0;
  for (const [name, { shape, values }] of Object.entries(arrays)) {
    meta.arrays[name] = { offset, shape };
    offset += 4 * values.length;
  }
  const dv = new DataView(new ArrayBuffer(offset + 1), 1);
  let i = 0;
  for (const { values } of Object.values(arrays)) for (const v of values) dv.setFloat32(4 * i++, v, true);
  return { meta, data: dv };
}

test("a pair payload reads back; a site's block and a cell's top-k list", () => {
  // effect (site 2, layer 2, position 3); top-k (site 2, layer 2, position 3, rank 2)
  const effect = Array.from({ length: 12 }, (_, i) => i / 10);
  const index = Array.from({ length: 24 }, (_, i) => i % 5);
  index[2 * 11] = -1; // cell 11, rank 0: no token
  const change = Array.from({ length: 24 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1) / 4);
  change[2 * 10 + 1] = NaN; // cell 10, rank 1: no value
  const { meta, data } = packed({
    "exact:effect": { shape: [2, 2, 3], values: effect },
    "exact:top_index": { shape: [2, 2, 3, 2], values: index },
    "exact:top_change": { shape: [2, 2, 3, 2], values: change },
  });
  const a = readPacked(meta, data);
  assert.deepEqual(Array.from(block(a["exact:effect"], 1), (v) => Math.round(v * 10)), [6, 7, 8, 9, 10, 11]);
  const vocab = ["a", "b", "c", "d", "e"];
  // cell 7 = site 1, layer 0, position 1: ranks at 14, 15
  assert.deepEqual(topChanges(a["exact:top_index"], a["exact:top_change"], 7, vocab),
    [{ token: vocab[14 % 5], change: 15 / 4 }, { token: vocab[15 % 5], change: -16 / 4 }]);
  assert.deepEqual(topChanges(a["exact:top_index"], a["exact:top_change"], 10, vocab), [{ token: "a", change: 21 / 4 }]);
  assert.deepEqual(topChanges(a["exact:top_index"], a["exact:top_change"], 11, vocab).map((x) => x.token), ["d"]);
});

test("mean-view labels, differing positions and number formats", () => {
  assert.deepEqual(meanLabels([[" When", " Mary", ","], [" When", " John", ""], [" When", " Anna", ""]]),
    [" When", " Mary| John| Anna", ","]);
  assert.deepEqual(meanLabels([["a"], ["b"], ["c"], ["d"]]), ["a|b|c|…"]);
  const differ = { shape: [2, 4], data: Float32Array.from([0, 1, 0, 0, 0, 0, 0, 1]) };
  assert.deepEqual(Array.from(differAny(differ)), [0, 1, 0, 1]);
  assert.equal(signed(1.23456), "+1.235");
  assert.equal(signed(-0.5), "−0.500");
  assert.equal(signed(-0.0001), "+0.000");
  assert.equal(signed(NaN), "—");
  assert.equal(num(-2.5, 2), "−2.50");
  assert.equal(nanMean(Float32Array.from([1, NaN, 3])), 2);
  assert.ok(Number.isNaN(nanMean([NaN])));
});
