"""The one binary path from numpy to the browser: arrays become ``(meta, bytes)`` pairs, never JSON lists.

``meta`` is a small JSON-able dict ``{"dtype", "shape", "scale", "nan"}`` that travels beside the raw bytes; the front
end (``widgets/lib/binary.js``) turns the pair back into a typed array. Bytes are little-endian and C-ordered.

Two encodings:

* ``quantize_unit``: values in [0, 1] (attention weights) -> uint8. ``q = round(x * 254)``, so ``x ≈ q * scale`` with
  ``scale = 1/254`` (error ≤ 1/508 ≈ 0.002). The code ``255`` is reserved for NaN (masked/padding cells), which the
  front end draws transparent. Values outside [0, 1] are clipped. A quarter of float32's size: 2,048² cells = 4 MiB.
* ``encode_float``: float16 / float32 passthrough with ``scale = 1`` and ``nan = None`` (NaN stays NaN in IEEE bits).

Every message is checked against :data:`MAX_MESSAGE_BYTES`: Jupyter drops websocket messages near 10 MB, so callers
must slice or downsample (see :func:`workbench.widgets._pool.max_pool2d`) before encoding.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from workbench.widgets._pool import BAND_BYTES, max_pool2d, pool_factor  # noqa: F401 - pool_factor re-exported

#: Largest payload (bytes) one comm message may carry; Jupyter's websocket cap is ~10 MB, so leave headroom.
MAX_MESSAGE_BYTES: int = 8 * 1024 * 1024
#: uint8 code reserved for NaN in quantised arrays.
NAN_CODE: int = 255
#: Number of steps used for [0, 1]: codes 0..254.
UNIT_STEPS: int = 254


class Meta(TypedDict):
    """What the front end needs beside the bytes to rebuild an array."""

    dtype: str  # "uint8" | "float16" | "float32"
    shape: list[int]
    scale: float  # value = code * scale (1.0 for floats)
    nan: int | None  # code that means NaN, or None


class MessageTooLarge(ValueError):
    """A payload would exceed :data:`MAX_MESSAGE_BYTES`; downsample or slice it first."""


def check_size(nbytes: int, limit: int = MAX_MESSAGE_BYTES) -> None:
    """Raise :class:`MessageTooLarge` when ``nbytes`` exceeds ``limit``."""
    if nbytes > limit:
        raise MessageTooLarge(f"payload of {nbytes:,} bytes exceeds the {limit:,}-byte message cap; downsample it.")


def unit_codes(a: np.ndarray) -> np.ndarray:
    """uint8 codes of values in [0, 1]: ``round(clip(x, 0, 1) * 254)``, NaN as 255 (the array, not yet bytes).

    Computed in float32 for float16 input (so codes do not depend on half-precision rounding of ``x * 254``), in the
    input's own precision otherwise."""
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.dtype == np.float16:
        a = a.astype(np.float32)
    work = np.clip(a, a.dtype.type(0), a.dtype.type(1))  # NaN stays NaN; +-inf clip to 1 / 0
    work *= UNIT_STEPS
    np.rint(work, out=work)
    nan = np.isnan(work)
    if nan.any():
        work[nan] = NAN_CODE
    return work.astype(np.uint8)


def unit_meta(shape: tuple[int, ...]) -> Meta:
    """The meta of a uint8 code array from :func:`unit_codes`."""
    return {"dtype": "uint8", "shape": [int(s) for s in shape], "scale": 1.0 / UNIT_STEPS, "nan": NAN_CODE}


def quantize_unit(a: np.ndarray, limit: int = MAX_MESSAGE_BYTES) -> tuple[Meta, bytes]:
    """Encode values in [0, 1] as uint8 codes 0..254 (scale 1/254), NaN as 255."""
    a = np.asarray(a)
    check_size(a.size, limit)
    return unit_meta(a.shape), unit_codes(a).tobytes()


def pooled_unit_codes(a: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """``unit_codes(max_pool2d(a, fq, fk))`` for a 2-d array, band by band: the same codes without a full-size
    float32 intermediate (a long head's overview would be 30 MB of fresh float32 memory, then as much again)."""
    nq, nk = a.shape
    out = np.empty((-(-nq // fq), -(-nk // fk)), np.uint8)
    band = max(1, BAND_BYTES // max(1, nk * a.itemsize * fq)) * fq  # input rows per band, a multiple of fq
    for r0 in range(0, nq, band):
        pooled = max_pool2d(a[r0: r0 + band], fq, fk)
        out[r0 // fq: r0 // fq + len(pooled)] = unit_codes(pooled)
    return out


def encode_float(a: np.ndarray, dtype: str = "float32", limit: int = MAX_MESSAGE_BYTES) -> tuple[Meta, bytes]:
    """Encode as little-endian float16 or float32 (no quantisation)."""
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}.")
    b = np.ascontiguousarray(np.asarray(a), dtype="<f2" if dtype == "float16" else "<f4")
    check_size(b.nbytes, limit)
    meta: Meta = {"dtype": dtype, "shape": [int(s) for s in b.shape], "scale": 1.0, "nan": None}
    return meta, b.tobytes()


def decode(meta: Meta | dict[str, Any], buf: bytes | memoryview) -> np.ndarray:
    """Inverse of the encoders (what the front end does), as float32 with NaN restored. For tests and tools."""
    dt = {"uint8": "u1", "float16": "<f2", "float32": "<f4"}[meta["dtype"]]
    raw = np.frombuffer(bytes(buf), dtype=dt).reshape(meta["shape"])
    out = raw.astype(np.float32) * np.float32(meta["scale"]) if meta["scale"] != 1.0 else raw.astype(np.float32)
    if meta.get("nan") is not None:
        out[raw == meta["nan"]] = np.nan
    return out



def pack(arrays: dict[str, np.ndarray], limit: int = MAX_MESSAGE_BYTES) -> tuple[dict[str, Any], bytes]:
    """Several float arrays in one buffer: little-endian float32, each at a 4-byte-aligned offset, so the front end
    (``unpack`` in ``widgets/lib/binary.js``) views them without copying. Returns ``({"arrays": {name: {"offset",
    "shape"}}}, bytes)``; NaN stays NaN.

    >>> meta, buf = pack({"a": np.arange(3), "b": np.ones((2, 2))})
    >>> meta["arrays"]["b"], len(buf)
    ({'offset': 12, 'shape': [2, 2]}, 28)
    """
    parts, table, offset = [], {}, 0
    for name, a in arrays.items():
        b = np.ascontiguousarray(np.asarray(a), dtype="<f4")
        table[str(name)] = {"offset": offset, "shape": [int(s) for s in b.shape]}
        parts.append(b.tobytes())
        offset += b.nbytes
    check_size(offset, limit)
    return {"arrays": table}, b"".join(parts)


def unpack(meta: dict[str, Any], buf: bytes | memoryview) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack` (what the front end does), for tests and tools."""
    raw = bytes(buf)
    out = {}
    for name, entry in meta["arrays"].items():
        n = int(np.prod(entry["shape"])) if entry["shape"] else 1
        out[name] = np.frombuffer(raw, dtype="<f4", count=n, offset=entry["offset"]).reshape(entry["shape"]).copy()
    return out

__all__ = [
    "MAX_MESSAGE_BYTES",
    "NAN_CODE",
    "UNIT_STEPS",
    "Meta",
    "MessageTooLarge",
    "check_size",
    "quantize_unit",
    "unit_codes",
    "unit_meta",
    "pooled_unit_codes",
    "encode_float",
    "decode",
    "pack",
    "unpack",
    "pool_factor",
    "max_pool2d",
]
