"""Max-pooling and quantisation of long attention maps (workbench/widgets/_pool.py, _serialize.py), checked against
brute-force block loops written here, and the AttentionMap's kernel side on float16 and padded inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.widgets import AttentionMap, _pool
from workbench.widgets._pool import max_pool2d, max_pool_codes
from workbench.widgets._serialize import pooled_unit_codes, quantize_unit, unit_codes
from workbench.widgets.attention_map import HeadSource, _valid_positions

DIMS = ("layer", "head", "query", "key")


def brute_pool(a: np.ndarray, fq: int, fk: int) -> np.ndarray:
    """Block maxima by explicit loops over float32 values (NaN ignored; an all-NaN block is NaN)."""
    a = np.asarray(a, np.float32)
    nq, nk = a.shape
    out = np.full((-(-nq // fq), -(-nk // fk)), np.nan, np.float32)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            block = a[i * fq:(i + 1) * fq, j * fk:(j + 1) * fk]
            vals = block[~np.isnan(block)]
            if vals.size:
                out[i, j] = vals.max()
    return out


def reshape_pool(a: np.ndarray, f: int) -> np.ndarray:
    """The same maxima for big arrays: NaN-pad to whole blocks, reshape, nanmax (the pre-_pool implementation)."""
    a = np.asarray(a, np.float32)
    nq, nk = a.shape
    padded = np.full((-(-nq // f) * f, -(-nk // f) * f), np.nan, np.float32)
    padded[:nq, :nk] = a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f), axis=(1, 3))


def codes_spec(w: np.ndarray) -> np.ndarray:
    """The quantisation spec, independently: round-half-even of clip(w, 0, 1) * 254 in float32, NaN -> 255."""
    w = np.asarray(w, np.float32)
    out = np.full(w.shape, 255, np.uint8)
    ok = ~np.isnan(w)
    out[ok] = np.round(np.minimum(np.maximum(w[ok], 0), 1) * np.float32(254)).astype(np.uint8)
    return out


def messy(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Values in [0, 1] with NaN, negatives, -0.0, +-inf, and (float16) negative-NaN bit patterns mixed in."""
    a = rng.random(shape).astype(dtype)
    r = rng.random(shape)
    a[r < 0.15] = np.nan
    a[(r >= 0.15) & (r < 0.2)] *= -1
    a[(r >= 0.2) & (r < 0.22)] = -0.0
    a[(r >= 0.22) & (r < 0.23)] = np.inf
    a[(r >= 0.23) & (r < 0.24)] = -np.inf
    if a.dtype == np.float16:
        a.view(np.int16)[(r >= 0.24) & (r < 0.26)] = -1  # 0xFFFF: a NaN whose int16 view is negative
    return a


@settings(max_examples=80, deadline=None)
@given(nq=st.integers(1, 40), nk=st.integers(1, 40), fq=st.integers(1, 20), fk=st.integers(1, 20),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]), seed=st.integers(0, 2**16),
       band=st.sampled_from([1, 100, 1 << 21]), all_nan=st.booleans(), clean=st.booleans())
def test_max_pool_matches_brute_force(nq, nk, fq, fk, dtype, seed, band, all_nan, clean):
    rng = np.random.default_rng(seed)
    # clean: weights in [0, 1] only (float16 takes the int16 fast path); else every special value mixed in
    a = rng.random((nq, nk)).astype(dtype) if clean else messy(rng, (nq, nk), dtype)
    if all_nan:
        a[: min(nq, fq), :] = np.nan  # a whole row of blocks NaN: must stay NaN
    old = _pool.BAND_BYTES
    _pool.BAND_BYTES = band  # bands of one block row up to the whole matrix
    try:
        got = max_pool2d(a, fq, fk)
        codes = pooled_unit_codes(a, fq, fk)
    finally:
        _pool.BAND_BYTES = old
    want = brute_pool(a, fq, fk)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(codes, codes_spec(want))
    # pooling codes equals quantising pooled values (quantising is monotone; NaN = 255 is ignored unless alone)
    np.testing.assert_array_equal(max_pool_codes(codes_spec(a), fq, fk), codes_spec(want))


def test_max_pool_keeps_leading_dims_and_rejects_bad_factors():
    a = messy(np.random.default_rng(1), (2, 3, 17, 11), np.float16)
    got = max_pool2d(a, 4, 3)
    assert got.shape == (2, 3, 5, 4)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(got[i, j], brute_pool(a[i, j], 4, 3))
    with pytest.raises(ValueError, match="pool factors must be >= 1, got fq=0"):
        max_pool2d(a, 0, 2)
    with pytest.raises(ValueError, match="codes must be uint8, got dtype float32"):
        max_pool_codes(np.zeros((2, 2), np.float32), 2, 2)


def test_quantize_matches_the_spec_on_messy_input():
    for dtype in (np.float16, np.float32, np.float64):
        a = messy(np.random.default_rng(2), (64, 33), dtype)
        np.testing.assert_array_equal(unit_codes(a), codes_spec(a))
        meta, buf = quantize_unit(a)
        assert meta["shape"] == [64, 33] and buf == codes_spec(a).tobytes()
    # x * 254 exactly halfway between two codes rounds to even, as numpy's rint
    halves = np.array([0.5, 1.5, 2.5, 253.5], np.float32) / np.float32(254)
    assert unit_codes(halves).tolist() == codes_spec(halves).tolist()


def test_float16_map_is_not_copied_and_matches_float32():
    rng = np.random.default_rng(3)
    n = 3001  # over 2,896 tokens: the overview is pooled (factor 2), thumbnails 2 * 32 = 64 tokens a cell
    w32 = rng.random((1, 2, n, n), dtype=np.float32)
    w32[0, 1, 5, :] = np.nan
    w16 = w32.astype(np.float16)
    src16, src32 = HeadSource(w16), HeadSource(w16.astype(np.float32))
    assert src16.weights.dtype == np.float16 and np.shares_memory(src16.weights, w16)
    assert src16.head_payload(0, 1) == src32.head_payload(0, 1)
    assert src16.thumbnails() == src32.thumbnails()
    assert src16.tile_payload(0, 1, 0, 40, 2990, 3001) == src32.tile_payload(0, 1, 0, 40, 2990, 3001)
    meta, buf = src16.head_payload(0, 1)
    assert meta["pool"] == [2, 2]
    assert buf == codes_spec(reshape_pool(w16[0, 1], 2)).tobytes()


def test_thumbnails_from_cached_overviews_equal_thumbnails_from_weights():
    rng = np.random.default_rng(4)
    n = 3500  # overview factor 2; thumbnail factor rounded up to a multiple of it
    w = rng.random((1, 2, n, n), dtype=np.float32) ** 8
    w[0, 0, np.arange(n), np.arange(n)] = 1.0
    w[0, 0, 100:200, :] = np.nan
    src = HeadSource(w)
    src.overview(0, 0)
    src.overview(0, 1)
    meta, cached = src.thumbnails()
    fq, fk = meta["pool"]
    assert fq % 2 == 0 and fk % 2 == 0 and meta["shape"] == [1, 2, -(-n // fq), -(-n // fk)]
    assert meta["shape"][2] <= 48
    fresh = HeadSource(w).thumbnails()[1]  # no overview cached: every head pooled from its weights
    assert fq == fk
    want = np.stack([codes_spec(reshape_pool(w[0, h], fq)) for h in range(2)])[None]
    assert cached == fresh == want.tobytes()


def test_padding_found_by_candidates_equals_the_full_definition():
    rng = np.random.default_rng(5)
    for trial in range(30):
        nq, nk = rng.integers(2, 12, 2)
        w = rng.random((2, 2, nq, nk)).astype(np.float32)
        w[rng.random(w.shape) < 0.1] = np.nan
        pad_q = rng.random(nq) < 0.4
        pad_k = rng.random(nk) < 0.4
        w[:, :, pad_q] = np.nan
        w[:, :, :, pad_k] = np.nan
        labels_q = np.where(rng.random(nq) < 0.7, "", "t").astype(object)
        labels_k = np.where(rng.random(nk) < 0.7, "", "t").astype(object)
        for axis, labels in ((2, labels_q), (3, labels_k)):
            other = tuple(i for i in range(4) if i != axis)
            all_nan = np.all(np.isnan(w), axis=other)
            for tokens in (None, labels):
                pad = all_nan if tokens is None else all_nan & (tokens == "")
                np.testing.assert_array_equal(_valid_positions(w, tokens, axis), np.flatnonzero(~pad))


def test_attention_map_accepts_float16_and_reports_the_same_codes():
    rng = np.random.default_rng(6)
    w = rng.random((2, 3, 50, 50)).astype(np.float16)
    toks = [f"t{i}" for i in range(50)]
    coords = {"query_token": ("query", toks), "key_token": ("key", toks)}
    m16 = AttentionMap(xr.DataArray(w, dims=DIMS, coords=coords), layer=1, head=2)
    m32 = AttentionMap(xr.DataArray(w.astype(np.float32), dims=DIMS, coords=coords), layer=1, head=2)
    assert m16._head == m32._head == codes_spec(w[1, 2]).tobytes()
    assert m16._thumbs == m32._thumbs
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no cast or all-NaN warnings leak to the user
        half_nan = np.full((1, 1, 4, 4), 0.25, np.float16)
        half_nan[0, 0, :, 2:] = np.nan  # keys 2, 3 are padding (all NaN, no labels): dropped
        m = AttentionMap(xr.DataArray(half_nan, dims=DIMS))
    assert m.key_tokens == ["0", "1"] and m._head == codes_spec(np.full((4, 2), 0.25)).tobytes()
