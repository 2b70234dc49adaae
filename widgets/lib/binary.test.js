// node --test: the binary path's decoders against bytes written by hand (little-endian, as _serialize.py writes).
import assert from "node:assert/strict";
import test from "node:test";

import { decode, toCodes, unpack, valueAt } from "./binary.js";

function f32bytes(values) {
  const dv = new DataView(new ArrayBuffer(4 * values.length));
  values.forEach((v, i) => dv.setFloat32(4 * i, v, true));
  return new Uint8Array(dv.buffer);
}

test("decode: uint8 codes with a NaN code, and float16", () => {
  const u = decode({ dtype: "uint8", shape: [3], scale: 1 / 254, nan: 255 }, new Uint8Array([0, 254, 255]));
  assert.equal(valueAt(u, 0), 0);
  assert.equal(valueAt(u, 1), 1);
  assert.ok(Number.isNaN(valueAt(u, 2)));
  // float16 1.0 = 0x3c00, -2.0 = 0xc000, NaN = 0x7e00 (little-endian bytes)
  const h = decode({ dtype: "float16", shape: [3], scale: 1, nan: null }, new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7e]));
  assert.deepEqual(Array.from(h.data.slice(0, 2)), [1, -2]);
  assert.ok(Number.isNaN(h.data[2]));
  assert.deepEqual(Array.from(toCodes(decode({ dtype: "float32", shape: [2], scale: 1 }, f32bytes([0.5, NaN])))), [127, 255]);
});

test("unpack: arrays at their offsets, from a view that does not start at byte 0", () => {
  const body = f32bytes([1, 2, 3, NaN, 5]);
  const shifted = new Uint8Array(body.length + 3);
  shifted.set(body, 3);
  const view = new DataView(shifted.buffer, 3, body.length); // an unaligned view, as a comm message may give
  const out = unpack({ arrays: { a: { offset: 0, shape: [3] }, b: { offset: 12, shape: [2] } } }, view);
  assert.deepEqual(Array.from(out.a.data), [1, 2, 3]);
  assert.ok(Number.isNaN(out.b.data[0]));
  assert.equal(out.b.data[1], 5);
  assert.throws(() => unpack({ arrays: { c: { offset: 16, shape: [2] } } }, view), /past the end/);
});
