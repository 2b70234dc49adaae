"""Unit tests of the widget layer's Python side: binary serialization, AttentionMap construction, input errors,
the get_head message handler, and the per-message size cap. No browser here (see tests/browser/)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from workbench.data import DataModelError
from workbench.widgets import AttentionMap
from workbench.widgets.attention_map import MAX_TILE_BYTES
from workbench.widgets._serialize import (
    MAX_MESSAGE_BYTES,
    NAN_CODE,
    MessageTooLarge,
    decode,
    encode_float,
    max_pool2d,
    quantize_unit,
)

DIMS = ("layer", "head", "query", "key")


def causal_attention(n_layers: int, n_heads: int, n: int, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """Softmax of random scores under a causal mask: rows sum to 1, upper triangle exactly 0."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n_layers, n_heads, n, n)).astype(np.float32)
    s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)).astype(dtype)


def attention_da(n_layers=2, n_heads=3, n=12, seed=0, tokens=True) -> xr.DataArray:
    coords = {"layer": np.arange(n_layers), "head": np.arange(n_heads)}
    if tokens:
        toks = [f"tok{i}" for i in range(n)]
        coords |= {"query_token": ("query", toks), "key_token": ("key", toks)}
    return xr.DataArray(causal_attention(n_layers, n_heads, n, seed), dims=DIMS, coords=coords)


def expected_codes(w: np.ndarray) -> np.ndarray:
    """The quantisation spec, written independently of _serialize: round(w*254), NaN -> 255."""
    out = np.empty(w.shape, np.uint8)
    nan = np.isnan(w)
    out[~nan] = np.floor(np.clip(w[~nan], 0, 1) * 254 + 0.5).astype(np.uint8)
    out[nan] = 255
    return out


# ------------------------------------------------------------------------------------------------ _serialize
def test_quantize_round_trip_error_bound_nan_and_meta():
    a = np.array([[0.0, 1.0, 0.5], [np.nan, 0.25, 1e-4]], np.float32)
    meta, buf = quantize_unit(a)
    assert meta == {"dtype": "uint8", "shape": [2, 3], "scale": 1 / 254, "nan": NAN_CODE}
    assert isinstance(buf, bytes) and len(buf) == a.size
    assert np.frombuffer(buf, np.uint8).reshape(2, 3)[1, 0] == 255
    assert np.array_equal(np.frombuffer(buf, np.uint8).reshape(2, 3), expected_codes(a))
    back = decode(meta, buf)
    assert np.isnan(back[1, 0]) and np.isnan(back).sum() == 1
    ok = ~np.isnan(a)
    assert np.abs(back[ok] - a[ok]).max() <= 1 / 508 + 1e-7
    assert back[0, 0] == 0.0 and back[0, 1] == 1.0


def test_quantize_clips_out_of_range():
    meta, buf = quantize_unit(np.array([-0.5, 1.5], np.float64))
    assert list(buf) == [0, 254]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6),
                  elements=st.one_of(st.floats(0, 1, width=32), st.just(np.nan))))
def test_quantize_property(a):
    meta, buf = quantize_unit(a)
    back = decode(meta, buf)
    assert back.shape == a.shape
    assert np.array_equal(np.isnan(back), np.isnan(a))
    ok = ~np.isnan(a)
    assert np.all(np.abs(back[ok] - a[ok]) <= 1 / 508 + 1e-6)


@pytest.mark.parametrize("dtype,np_dtype", [("float32", "<f4"), ("float16", "<f2")])
def test_float_passthrough_is_exact_little_endian(dtype, np_dtype):
    a = np.array([[0.1, -2.5, np.nan], [np.inf, 3e4, 0.0]])
    meta, buf = encode_float(a, dtype)
    assert meta == {"dtype": dtype, "shape": [2, 3], "scale": 1.0, "nan": None}
    assert buf == a.astype(np_dtype).tobytes()
    back = decode(meta, buf)
    np.testing.assert_array_equal(back, a.astype(np_dtype).astype(np.float32))


def test_encode_float_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="float16"):
        encode_float(np.zeros(3), "int8")


def test_size_cap_is_enforced():
    n = int(np.ceil(np.sqrt(MAX_MESSAGE_BYTES))) + 1
    with pytest.raises(MessageTooLarge, match="message cap"):
        quantize_unit(np.zeros((n, n), np.float32))
    with pytest.raises(MessageTooLarge):
        encode_float(np.zeros(MAX_MESSAGE_BYTES // 4 + 1), "float32")
    quantize_unit(np.zeros((2048, 2048), np.float32))  # 4 MiB: fine


def test_max_pool_keeps_a_thin_diagonal_and_nan_blocks():
    a = np.eye(10, dtype=np.float32)
    a[:, 9] = np.nan
    p = max_pool2d(a, 3, 3)
    assert p.shape == (4, 4)
    assert np.all(np.diag(p)[:3] == 1.0)  # each diagonal block has a 1 in it
    assert p[0, 1] == 0.0
    assert np.isnan(p[3, 3]) and np.isnan(p[2, 3])  # only NaN column 9 + NaN padding: stays NaN (transparent)
    assert p[3, 2] == 0.0  # row 9, cols 6..8: real zeros
    b = np.full((4, 4), np.nan, np.float32)
    assert np.isnan(max_pool2d(b, 2, 2)).all()


# ------------------------------------------------------------------------------------------------ AttentionMap
def test_construction_traits_and_thumbnails():
    da = attention_da(2, 3, 12)
    w = AttentionMap(da, layer=1, head=2)
    assert (w.n_layers, w.n_heads, w.layer, w.head, w.n_prompts) == (2, 3, 1, 2, 1)
    assert w.query_tokens == [f"tok{i}" for i in range(12)] == w.key_tokens
    meta = w._thumbs_meta
    assert meta["shape"] == [2, 3, 12, 12] and meta["pool"] == [1, 1]
    thumbs = np.frombuffer(w._thumbs, np.uint8).reshape(2, 3, 12, 12)
    assert np.array_equal(thumbs, expected_codes(da.values))
    # the snapshot is the selected head, not all of them
    assert w._head_meta["layer"] == 1 and w._head_meta["head"] == 2
    assert w._head == expected_codes(da.values[1, 2]).tobytes()
    assert w._esm.endswith("export {\n  attention_map_default as default\n};\n")  # the committed bundle loaded
    assert ".wb-am-tooltip" in w._css


def test_transposed_dims_and_float64_are_accepted():
    da = attention_da(2, 3, 5).astype(np.float64).transpose("key", "head", "query", "layer")
    w = AttentionMap(da)
    r, (buf,) = w.reply_to({"type": "get_head", "layer": 1, "head": 0})
    assert buf == expected_codes(attention_da(2, 3, 5).values[1, 0]).tobytes()


def test_labels_fall_back_to_positions():
    w = AttentionMap(attention_da(1, 1, 4, tokens=False))
    assert w.query_tokens == ["0", "1", "2", "3"]


@pytest.mark.parametrize("bad,words", [
    (xr.DataArray(np.zeros((2, 3, 4, 4)), dims=("layer", "heads", "query", "key")), ["'head'", "heads"]),
    (xr.DataArray(np.zeros((2, 4, 4)), dims=("layer", "query", "key")), ["'head'", "(layer, query, key)"]),
    (xr.DataArray(np.zeros(5), dims=("query",)), ["'layer'", "(query)"]),
    (np.zeros((2, 3, 4, 4)), ["xarray.DataArray", "ndarray"]),
    ([[0.1, 0.2]], ["xarray.DataArray", "list"]),
    (xr.DataArray(np.zeros((1, 1, 2, 2), int), dims=DIMS), ["floating point"]),
    (xr.DataArray(np.zeros((1, 0, 2, 2)), dims=DIMS), ["empty"]),
])
def test_bad_inputs_raise_data_model_error_naming_dims(bad, words):
    with pytest.raises(DataModelError) as e:
        AttentionMap(bad)
    msg = str(e.value)
    for w in words:
        assert w in msg, msg
    if "dims" in msg:
        assert "('layer', 'head', 'query', 'key')" in msg  # what was expected


def test_out_of_range_selection():
    with pytest.raises(DataModelError, match="head=7"):
        AttentionMap(attention_da(2, 3, 4), head=7)
    w = AttentionMap(attention_da(2, 3, 4))
    with pytest.raises(Exception, match="layer=5"):
        w.layer = 5
    assert w.layer == 0


def test_get_head_reply_is_exactly_that_head():
    da = attention_da(2, 3, 12, seed=3)
    w = AttentionMap(da)
    for layer, head in [(0, 0), (1, 2), (0, 1)]:
        reply, buffers = w.reply_to({"type": "get_head", "layer": layer, "head": head})
        assert reply["type"] == "head"
        assert reply["meta"]["layer"] == layer and reply["meta"]["head"] == head
        assert reply["meta"]["shape"] == [12, 12] and reply["meta"]["pool"] == [1, 1]
        (buf,) = buffers
        codes = np.frombuffer(buf, np.uint8).reshape(12, 12)
        assert np.array_equal(codes, expected_codes(da.values[layer, head]))


def test_get_head_bad_requests_answer_errors_not_exceptions():
    w = AttentionMap(attention_da(2, 3, 4))
    for msg in [{"type": "get_head", "layer": 9, "head": 0}, {"type": "get_head"}, {"type": "nope"}, "junk",
                {"type": "get_head", "layer": "x", "head": 0}, {"type": "get_head", "layer": 0, "head": 0, "prompt": 3}]:
        reply, buffers = w.reply_to(msg)
        assert reply["type"] == "error" and buffers == [], (msg, reply)


def test_handler_sends_reply_through_comm():
    """_on_custom_msg (what on_msg calls) sends content + buffer through the widget's send()."""
    w = AttentionMap(attention_da(2, 3, 6))
    sent = []
    w.send = lambda content, buffers=None: sent.append((content, buffers))  # capture the outgoing message
    w._on_custom_msg(w, {"type": "get_head", "layer": 1, "head": 1}, [])
    (content, buffers), = sent
    assert content["meta"]["head"] == 1 and len(buffers[0]) == 36


def test_prompt_dim_drops_padding_and_shows_nan_cells():
    n = 6
    w = causal_attention(1, 2, n, seed=1)
    both = np.stack([w, w.copy()])  # (prompt, layer, head, query, key)
    # prompt 1 is 2 tokens shorter: left padding at positions 0, 1 (NaN weights, "" labels)
    both[1, :, :, :2, :] = np.nan
    both[1, :, :, :, :2] = np.nan
    both[1, 0, 0, 4, 3] = np.nan  # one masked cell inside the real tokens stays (drawn transparent)
    toks = np.array([[f"a{i}" for i in range(n)], ["", ""] + [f"b{i}" for i in range(n - 2)]], dtype=object)
    da = xr.DataArray(both, dims=("prompt", *DIMS),
                      coords={"query_token": (("prompt", "query"), toks), "key_token": (("prompt", "key"), toks)})
    m = AttentionMap(da, prompt=1)
    assert m.query_tokens == ["b0", "b1", "b2", "b3"] == m.key_tokens
    reply, (buf,) = m.reply_to({"type": "get_head", "layer": 0, "head": 0, "prompt": 1})
    assert reply["meta"]["shape"] == [4, 4]
    codes = np.frombuffer(buf, np.uint8).reshape(4, 4)
    assert np.array_equal(codes, expected_codes(both[1, 0, 0, 2:, 2:]))
    assert codes[2, 1] == 255
    m.prompt = 0
    assert len(m.query_tokens) == n and m._thumbs_meta["shape"] == [1, 2, n, n]


@pytest.mark.parametrize("n,layers,heads", [(2048, 2, 2), (4096, 1, 2)])
def test_messages_stay_under_cap_for_long_prompts(n, layers, heads):
    rng = np.random.default_rng(0)
    w = rng.random((layers, heads, n, n), dtype=np.float32)
    w[0, 0] = np.eye(n, dtype=np.float32)  # thin diagonal must survive pooling
    m = AttentionMap(xr.DataArray(w, dims=DIMS))
    assert len(m.query_tokens) == n
    assert len(m._thumbs) <= MAX_MESSAGE_BYTES and m._thumbs_meta["shape"][2] <= 48
    reply, (buf,) = m.reply_to({"type": "get_head", "layer": 0, "head": 0})
    assert len(buf) <= MAX_MESSAGE_BYTES
    f = reply["meta"]["pool"][0]
    side = reply["meta"]["shape"][0]
    assert side * f >= n and np.prod(reply["meta"]["shape"]) == len(buf)
    if n == 2048:
        assert f == 1 and buf == expected_codes(w[0, 0]).tobytes()  # full resolution, 4 MiB
    else:
        assert f == 2
    diag = np.frombuffer(buf, np.uint8).reshape(side, side)
    assert np.all(np.diag(diag) == 254)
    thumb0 = np.frombuffer(m._thumbs, np.uint8).reshape(m._thumbs_meta["shape"])[0, 0]
    assert np.all(np.diag(thumb0) == 254)


def test_many_heads_shrink_thumbnails_under_cap():
    w = AttentionMap(xr.DataArray(np.zeros((64, 64, 64, 64), np.float32), dims=DIMS))
    assert len(w._thumbs) <= MAX_MESSAGE_BYTES
    assert w._thumbs_meta["shape"][:2] == [64, 64]


# ------------------------------------------------------------------------------------------------ grown AttentionMap
def brute_max_pool(a: np.ndarray, f: int) -> np.ndarray:
    """Block maxima by explicit loops (NaN ignored; all-NaN block -> NaN): the spec, independent of max_pool2d."""
    nq, nk = a.shape
    out = np.full((-(-nq // f), -(-nk // f)), np.nan, np.float32)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            block = a[i * f:(i + 1) * f, j * f:(j + 1) * f]
            vals = block[~np.isnan(block)]
            if vals.size:
                out[i, j] = vals.max()
    return out


@pytest.mark.parametrize("n,f", [(37, 4), (64, 8), (10, 3)])
def test_downsampling_matches_brute_force(n, f):
    rng = np.random.default_rng(n)
    a = rng.random((n, n), dtype=np.float32)
    a[rng.random((n, n)) < 0.2] = np.nan
    np.testing.assert_array_equal(max_pool2d(a, f, f), brute_max_pool(a, f))


def test_tiles_are_exact_slices_clipped_and_pooled_only_when_too_big():
    da = attention_da(1, 2, 50, seed=4)
    w = AttentionMap(da)
    reply, (buf,) = w.reply_to({"type": "get_tile", "layer": 0, "head": 1, "q0": 10, "q1": 30, "k0": 5, "k1": 45})
    m = reply["meta"]
    assert reply["type"] == "tile" and m["pool"] == [1, 1] and m["shape"] == [20, 40]
    assert (m["q0"], m["q1"], m["k0"], m["k1"], m["layer"], m["head"]) == (10, 30, 5, 45, 0, 1)
    assert buf == expected_codes(da.values[0, 1, 10:30, 5:45]).tobytes()
    reply, (buf,) = w.reply_to({"type": "get_tile", "layer": 0, "head": 0, "q0": -5, "q1": 99, "k0": 40, "k1": 80})
    assert reply["meta"]["shape"] == [50, 10] and buf == expected_codes(da.values[0, 0, :, 40:]).tobytes()
    for bad in [{"type": "get_tile", "layer": 0, "head": 0, "q0": 5, "q1": 5, "k0": 0, "k1": 3},
                {"type": "get_tile", "layer": 0, "head": 0, "q0": 0}, {"type": "get_tile", "layer": 3, "head": 0,
                                                                       "q0": 0, "q1": 2, "k0": 0, "k1": 2}]:
        r, b = w.reply_to(bad)
        assert r["type"] == "error" and b == [], bad


@pytest.mark.parametrize("n", [4096, 8192])
def test_long_inputs_overview_downsampled_and_tiles_full_resolution(n):
    w = np.zeros((1, 1, n, n), np.float32)
    w[0, 0, np.arange(n), np.arange(n)] = 1.0
    w[0, 0, 1234, 17] = 0.5
    m = AttentionMap(xr.DataArray(w, dims=DIMS))
    meta = m._head_meta  # the zoom's overview
    f = meta["pool"][0]
    side = int(np.floor(np.sqrt(MAX_MESSAGE_BYTES)))  # largest square overview under the message cap
    assert f == -(-n // side) and meta["shape"] == [-(-n // f)] * 2 and len(m._head) <= MAX_MESSAGE_BYTES
    over = np.frombuffer(m._head, np.uint8).reshape(meta["shape"])
    assert np.all(np.diag(over) == 254)  # the thin diagonal survives the overview's max-pooling
    assert np.array_equal(over[:64, :64], expected_codes(brute_max_pool(w[0, 0, :64 * f, :64 * f], f)))
    # a zoomed rectangle at full resolution: exact values, token-level
    q0, k0 = 1200, 0
    reply, (buf,) = m.reply_to({"type": "get_tile", "layer": 0, "head": 0, "q0": q0, "q1": q0 + 300, "k0": k0,
                                "k1": k0 + 400})
    assert reply["meta"]["pool"] == [1, 1] and len(buf) == 300 * 400
    tile = np.frombuffer(buf, np.uint8).reshape(300, 400)
    assert np.array_equal(tile, expected_codes(w[0, 0, q0:q0 + 300, k0:k0 + 400]))
    assert tile[1234 - q0, 17] == 127
    # the whole head as a tile would be 16-64 MiB: pooled to fit the tile cap, never over 8 MB
    reply, (buf,) = m.reply_to({"type": "get_tile", "layer": 0, "head": 0, "q0": 0, "q1": n, "k0": 0, "k1": n})
    assert len(buf) <= MAX_TILE_BYTES and reply["meta"]["pool"][0] == n // 2048


def test_annotations_from_coords_and_argument():
    da = attention_da(1, 2, 6).assign_coords(depth=("query", [0, 1, 2, 1, 0, -1]))
    w = AttentionMap(da, annotations={"parity": np.arange(6) % 2})
    assert w.annotation_names == ["depth", "parity"]
    vals = decode(w._annotations_meta, w._annotations)
    np.testing.assert_array_equal(vals, [[0, 1, 2, 1, 0, -1], [0, 1, 0, 1, 0, 1]])
    # an explicit value overrides the coord of the same name; DataArrays on query are accepted
    w = AttentionMap(da, annotations={"depth": xr.DataArray(np.ones(6), dims="query")})
    np.testing.assert_array_equal(decode(w._annotations_meta, w._annotations), [np.ones(6)])


def test_prompt_annotations_follow_dropped_padding():
    n = 5
    w = causal_attention(1, 1, n)
    both = np.stack([w, w.copy()])
    both[1, :, :, :2, :] = np.nan
    both[1, :, :, :, :2] = np.nan
    toks = np.array([[f"a{i}" for i in range(n)], ["", ""] + ["b0", "b1", "b2"]], dtype=object)
    depth = np.array([[1, 2, 3, 4, 5], [np.nan, np.nan, 7, 8, 9]])
    da = xr.DataArray(both, dims=("prompt", *DIMS), coords={"query_token": (("prompt", "query"), toks),
                                                           "key_token": (("prompt", "key"), toks),
                                                           "depth": (("prompt", "query"), depth)})
    m = AttentionMap(da, prompt=1)
    np.testing.assert_array_equal(decode(m._annotations_meta, m._annotations), [[7, 8, 9]])
    m.prompt = 0
    np.testing.assert_array_equal(decode(m._annotations_meta, m._annotations), [[1, 2, 3, 4, 5]])


@pytest.mark.parametrize("ann,words", [
    ({"depth": np.arange(5)}, ["annotations['depth']", "(6,)", "(5,)"]),
    ({"depth": np.array(list("abcdef"))}, ["annotations['depth']", "numeric"]),
    ([1, 2, 3], ["dict", "list"]),
    ({"d": xr.DataArray(np.zeros(6), dims="key")}, ["annotations['d']", "'query'"]),
])
def test_bad_annotations(ann, words):
    with pytest.raises(DataModelError) as e:
        AttentionMap(attention_da(1, 1, 6), annotations=ann)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_head_score_badges():
    s = xr.DataArray(np.array([[0.9, 0.2, np.nan], [0.1, 0.5, 0.3]]), dims=("layer", "head"), name="induction")
    w = AttentionMap(attention_da(2, 3, 4), head_scores=s)
    assert w._scores_meta["names"] == ["induction"] and w._scores_meta["shape"] == [2, 3, 1]
    np.testing.assert_array_equal(decode(w._scores_meta, w._scores)[..., 0], s.values.astype(np.float32))
    three = xr.DataArray(np.random.default_rng(0).random((3, 2, 4)), dims=("head", "layer", "score"),
                         coords={"score": ["a", "b", "c", "d"]})
    w = AttentionMap(attention_da(2, 3, 4), head_scores=three)
    assert w._scores_meta["names"] == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(decode(w._scores_meta, w._scores),
                                  three.transpose("layer", "head", "score").values.astype(np.float32))


@pytest.mark.parametrize("scores,words", [
    (np.zeros((2, 3)), ["head_scores", "DataArray", "ndarray"]),
    (xr.DataArray(np.zeros((2, 3)), dims=("layer", "heads")), ["head_scores", "(layer, head)", "heads"]),
    (xr.DataArray(np.zeros((3, 3)), dims=("layer", "head")), ["3 layer(s) x 3 head(s)", "2 x 3"]),
    (xr.DataArray(np.array([["a"] * 3] * 2)), ["head_scores"]),
])
def test_bad_head_scores(scores, words):
    with pytest.raises(DataModelError) as e:
        AttentionMap(attention_da(2, 3, 4), head_scores=scores)
    for w in words:
        assert w in str(e.value), str(e.value)
