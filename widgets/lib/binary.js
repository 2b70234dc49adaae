// The one binary path into the browser: (meta, buffer) -> typed array. Mirrors workbench/widgets/_serialize.py.
// meta = {dtype: "uint8" | "float16" | "float32", shape: [...], scale, nan}; bytes are little-endian, C order.

/** View any binary trait/message value (DataView, ArrayBuffer, typed array) as bytes, without copying. */
export function asBytes(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Decode a payload. Returns {dtype, shape, scale, nan, data}: `data` is a Uint8Array of codes for "uint8"
 * (value = code * scale, code === nan means NaN) or a Float32Array of values for float dtypes.
 */
export function decode(meta, buffer) {
  const bytes = asBytes(buffer);
  const shape = (meta && meta.shape) || [];
  const n = shape.reduce((a, b) => a * b, 1);
  const dtype = meta.dtype;
  let data;
  if (dtype === "uint8") {
    data = bytes.subarray(0, n);
  } else if (dtype === "float32") {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true);
  } else if (dtype === "float16") {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = halfToFloat(dv.getUint16(2 * i, true));
  } else {
    throw new Error(`unknown dtype ${dtype}`);
  }
  if (data.length < n) throw new Error(`buffer holds ${data.length} values, shape ${shape} needs ${n}`);
  return { dtype, shape, scale: meta.scale ?? 1, nan: meta.nan ?? null, data };
}

/** Value of element i (NaN for the NaN code). */
export function valueAt(arr, i) {
  const x = arr.data[i];
  if (arr.dtype === "uint8") return x === arr.nan ? NaN : x * arr.scale;
  return x;
}

/** Colour codes 0..254 (255 = NaN) for drawing: uint8 payloads are used as they are, floats in [0,1] are mapped. */
export function toCodes(arr) {
  if (arr.dtype === "uint8") return arr.data;
  const out = new Uint8Array(arr.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = arr.data[i];
    out[i] = Number.isNaN(x) ? 255 : Math.round(Math.min(1, Math.max(0, x)) * 254);
  }
  return out;
}

/**
 * Several float32 arrays packed in one buffer (workbench/widgets/_serialize.py `pack`): meta = {arrays: {name:
 * {offset, shape}}}. Returns {name: {shape, data: Float32Array}}; values are copied out (little-endian reads), so any
 * byte offset works.
 */
export function unpack(meta, buffer) {
  const bytes = asBytes(buffer);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = {};
  for (const [name, { offset, shape }] of Object.entries((meta && meta.arrays) || {})) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (offset + 4 * n > bytes.byteLength) throw new Error(`array ${name} runs past the end of its buffer`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(offset + 4 * i, true);
    out[name] = { shape, data };
  }
  return out;
}
