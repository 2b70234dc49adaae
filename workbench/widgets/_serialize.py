"""The one binary path from numpy to the browser: arrays become ``(meta, bytes)`` pairs, never JSON lists.

``meta`` is a small JSON-able dict ``{"dtype", "shape", "scale", "nan"}`` that travels beside the raw bytes; the front
end (``widgets/lib/binary.js``) turns the pair back into a typed array. Bytes are little-endian and C-ordered.

Two encodings:

* ``quantize_unit``: values in [0, 1] (attention weights) -> uint8. ``q = round(x * 254)``, so ``x ≈ q * scale`` with
  ``scale = 1/254`` (error ≤ 1/508 ≈ 0.002). The code ``255`` is reserved for NaN (masked/padding cells), which the
  front end draws transparent. Values outside [0, 1] are clipped. A quarter of float32's size: 2,048² cells = 4 MiB.
* ``encode_float``: float16 / float32 passthrough with ``scale = 1`` and ``nan = None`` (NaN stays NaN in IEEE bits).

Every message is checked against :data:`MAX_MESSAGE_BYTES`: Jupyter drops websocket messages near 10 MB, so callers
must slice or downsample (see :func:`max_pool2d`) before encoding.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, TypedDict

import numpy as np

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


def quantize_unit(a: np.ndarray, limit: int = MAX_MESSAGE_BYTES) -> tuple[Meta, bytes]:
    """Encode values in [0, 1] as uint8 codes 0..254 (scale 1/254), NaN as 255."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float32)
    check_size(a.size, limit)
    nan = np.isnan(a)
    q = np.rint(np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0) * UNIT_STEPS).astype(np.uint8)
    q[nan] = NAN_CODE
    meta: Meta = {"dtype": "uint8", "shape": [int(s) for s in a.shape], "scale": 1.0 / UNIT_STEPS, "nan": NAN_CODE}
    return meta, np.ascontiguousarray(q).tobytes()


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


def pool_factor(n: int, target: int) -> int:
    """Smallest block size that brings ``n`` cells down to at most ``target``."""
    return max(1, math.ceil(n / max(1, target)))


def max_pool2d(a: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """Max-pool the last two axes by blocks of ``fq x fk`` (NaN-aware: an all-NaN block stays NaN).

    Max rather than mean so a single sharp attention edge (e.g. a previous-token diagonal) survives downsampling.
    Edges that do not fill a block are padded with NaN.
    """
    a = np.asarray(a, dtype=np.float32)
    if fq == 1 and fk == 1:
        return a
    *lead, nq, nk = a.shape
    oq, ok = math.ceil(nq / fq), math.ceil(nk / fk)
    if oq * fq != nq or ok * fk != nk:
        padded = np.full((*lead, oq * fq, ok * fk), np.nan, dtype=np.float32)
        padded[..., :nq, :nk] = a
        a = padded
    blocks = a.reshape(*lead, oq, fq, ok, fk)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks
        return np.nanmax(blocks, axis=(-3, -1))


__all__ = [
    "MAX_MESSAGE_BYTES",
    "NAN_CODE",
    "UNIT_STEPS",
    "Meta",
    "MessageTooLarge",
    "check_size",
    "quantize_unit",
    "encode_float",
    "decode",
    "pool_factor",
    "max_pool2d",
]
