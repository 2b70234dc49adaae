"""NaN-aware block max-pooling of attention maps, fast enough for 8,192-token heads and without a float32 copy.

Why its own module: pooling a long head (67M weights at 8,192 tokens) was most of the time from data to drawn. The
naive route (pad with NaN to a multiple of the block, ``np.nanmax`` over a 4-d reshape) copies the whole head twice
and reduces over short strided axes. Here a head is read once, in bands of rows that fit in cache: each band's rows
are folded with elementwise ``np.fmax`` (contiguous rows, vectorised), then its columns (strided, but only a band's
worth, in cache). ``fmax`` ignores NaN unless both sides are NaN, so an all-NaN block stays NaN and a ragged edge
block is the max of the cells it has: the same result as NaN padding + ``nanmax``.

float16 input (how a 32,768-token map fits in memory: 2 GiB a head) is pooled on its bits: for non-negative
half floats the int16 order is the float order and NaN bit patterns sort above +inf, so ``np.maximum`` on an int16
view gives every block's max exactly unless some block's result is negative or NaN-coded. Then (a map with NaN or
negative cells) the matrix is pooled again on uint16 keys that order every value, NaN lowest: exact, ~5x slower.
numpy's float16 arithmetic is slower than either.
"""

from __future__ import annotations

import math

import numpy as np

#: Bytes of input rows folded at a time: a band and its row-pooled result stay in cache.
BAND_BYTES: int = 2 * 1024 * 1024
_HALF_INF_BITS = 0x7C00  # +inf as int16; larger non-negative int16 values are NaN bit patterns


def pool_factor(n: int, target: int) -> int:
    """Smallest block size that brings ``n`` cells down to at most ``target``."""
    return max(1, math.ceil(n / max(1, target)))


def _fold_rows(band: np.ndarray, f: int, op: np.ufunc) -> np.ndarray:
    """Block maxima over groups of ``f`` rows of a 2-d band (the last group may be shorter)."""
    whole = len(band) // f
    out = np.empty((math.ceil(len(band) / f), band.shape[1]), band.dtype)
    if whole:  # reduce the middle axis: each step combines two contiguous rows, vectorised
        op.reduce(band[: whole * f].reshape(whole, f, band.shape[1]), axis=1, out=out[:whole])
    if whole < len(out):
        op.reduce(band[whole * f:], axis=0, out=out[whole])
    return out


#: Column blocks at least this wide are reduced over a contiguous last axis; narrower ones by strided folds.
_WIDE = 16


def _fold_cols(rows: np.ndarray, f: int, op: np.ufunc) -> np.ndarray:
    """Block maxima over groups of ``f`` columns (the last group may be narrower)."""
    n = rows.shape[1]
    whole = n // f
    if f < _WIDE:  # a short last axis reduces slowly: combine the strided columns 0::f, 1::f, ... instead
        out = rows[:, 0::f].copy()
        for j in range(1, f):
            part = rows[:, j::f]
            op(out[:, : part.shape[1]], part, out=out[:, : part.shape[1]])
        return out
    out = np.empty((len(rows), math.ceil(n / f)), rows.dtype)
    if whole:
        op.reduce(rows[:, : whole * f].reshape(len(rows), whole, f), axis=2, out=out[:, :whole])
    if whole < out.shape[1]:
        op.reduce(rows[:, whole * f:], axis=1, out=out[:, whole])
    return out


def _pool_matrix(m: np.ndarray, fq: int, fk: int, op: np.ufunc, out: np.ndarray) -> None:
    """Block maxima of one 2-d matrix into ``out`` (ceil(nq/fq), ceil(nk/fk)), band by band."""
    nq, nk = m.shape
    band = max(1, BAND_BYTES // max(1, nk * m.itemsize * fq)) * fq  # rows per band, a multiple of fq
    for r0 in range(0, nq, band):
        rows = _fold_rows(m[r0: r0 + band], fq, op) if fq > 1 else m[r0: r0 + band]
        out[r0 // fq: r0 // fq + len(rows)] = _fold_cols(rows, fk, op) if fk > 1 else rows


def _pool_half(m: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """float16 matrix -> float32 block maxima, via the int16 bit patterns (see the module docstring); when a block's
    result is negative or NaN-coded the whole matrix is pooled again on order keys (exact for any value)."""
    bits = np.empty((math.ceil(m.shape[0] / fq), math.ceil(m.shape[1] / fk)), np.int16)
    _pool_matrix(m.view(np.int16), fq, fk, np.maximum, bits)
    if np.any((bits < 0) | (bits > _HALF_INF_BITS)):
        return _pool_half_keyed(m, fq, fk)
    return bits.view(np.float16).astype(np.float32)


def _order_keys(band: np.ndarray) -> np.ndarray:
    """uint16 keys of float16 values whose order is the float order, with every NaN lowest (key 0)."""
    u = band.view(np.uint16)
    key = u + np.uint16(0x8000)  # non-negative values: above every negative one
    np.subtract(np.uint16(0xFFFF), u, out=key, where=u >= 0x8000)  # negative values: reversed, below
    key[(u & np.uint16(0x7FFF)) > _HALF_INF_BITS] = 0  # NaN
    return key


def _pool_half_keyed(m: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """float16 block maxima for any values (NaN, negatives): max-pool order keys band by band, then decode."""
    nq, nk = m.shape
    keys = np.empty((math.ceil(nq / fq), math.ceil(nk / fk)), np.uint16)
    band = max(1, BAND_BYTES // max(1, nk * 2 * fq)) * fq
    for r0 in range(0, nq, band):
        part = _order_keys(m[r0: r0 + band])
        _pool_matrix(part, fq, fk, np.maximum, keys[r0 // fq: r0 // fq + math.ceil(len(part) / fq)])
    bits = np.where(keys >= 0x8000, keys - np.uint16(0x8000), np.uint16(0xFFFF) - keys).astype(np.uint16)
    out = bits.view(np.float16).astype(np.float32)
    out[keys == 0] = np.nan
    return out


def max_pool2d(a: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """Max-pool the last two axes by blocks of ``fq x fk`` as float32 (NaN-aware: an all-NaN block stays NaN).

    Max rather than mean so a single sharp attention edge (e.g. a previous-token diagonal) survives downsampling.
    Edge blocks that do not fill ``fq x fk`` are the max of the cells they have. float16/float32/float64 input is
    read in its own dtype (no full-size float32 copy); anything else is converted to float32 first.

    >>> max_pool2d(np.array([[0.1, 0.9, 0.2], [np.nan, 0.3, np.nan]], np.float16), 2, 2).tolist()
    [[0.89990234375, 0.199951171875]]
    """
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float32)
    if fq < 1 or fk < 1:
        raise ValueError(f"pool factors must be >= 1, got fq={fq}, fk={fk}.")
    if fq == 1 and fk == 1:
        return a.astype(np.float32, copy=False)
    *lead, nq, nk = a.shape
    mats = a.reshape(-1, nq, nk)
    oq, ok = math.ceil(nq / fq), math.ceil(nk / fk)
    out = np.empty((len(mats), oq, ok), np.float32)
    for i, m in enumerate(mats):
        if m.dtype == np.float16:
            out[i] = _pool_half(m, fq, fk)
        elif m.dtype == np.float32:
            _pool_matrix(m, fq, fk, np.fmax, out[i])
        else:
            pooled = np.empty((oq, ok), m.dtype)
            _pool_matrix(m, fq, fk, np.fmax, pooled)
            out[i] = pooled
    return out.reshape(*lead, oq, ok)


def max_pool_codes(codes: np.ndarray, fq: int, fk: int, nan_code: int = 255) -> np.ndarray:
    """Max-pool uint8 codes (``nan_code`` = NaN, every other code ordered like its value) over the last two axes,
    NaN-aware like :func:`max_pool2d`: a block is ``nan_code`` only when all its cells are.

    Codes are rotated so that ``nan_code`` becomes 0 (the smallest), pooled, and rotated back. Because quantising is
    monotone, pooling the codes of an array equals quantising its pooled values.

    >>> max_pool_codes(np.array([[255, 3], [7, 255]], np.uint8), 2, 1).tolist()
    [[7, 3]]
    """
    codes = np.asarray(codes)
    if codes.dtype != np.uint8:
        raise ValueError(f"codes must be uint8, got dtype {codes.dtype}.")
    offset = np.uint8((256 - nan_code) % 256)  # nan_code + offset wraps to 0
    rotated = codes + offset
    *lead, nq, nk = codes.shape
    mats = rotated.reshape(-1, nq, nk)
    out = np.empty((len(mats), math.ceil(nq / fq), math.ceil(nk / fk)), np.uint8)
    for i, m in enumerate(mats):
        _pool_matrix(m, fq, fk, np.maximum, out[i])
    out -= offset
    return out.reshape(*lead, *out.shape[1:])


__all__ = ["BAND_BYTES", "pool_factor", "max_pool2d", "max_pool_codes"]
