"""PopulationExplorer (Python side) on synthetic populations that follow workbench.data.validate_population exactly:
the derived variables against numpy, the filter mask against an independent loop, the linked map's payloads against
the Dataset's example_attention, and bad input. `make_population` is also used by the browser test's kernel."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
import xarray as xr

from workbench.data import HEAD_SCORE_TYPES, DataModelError, validate_population
from workbench.widgets import PopulationExplorer
from workbench.widgets._serialize import decode
from workbench.widgets.population_explorer import population_table

BRACKETS = ["( ( ) )", "( ) ) ( ( )", "( ( ( ) ) ( ) )", ") ( ( )"]


def _depths(tokens: list[str]) -> list[float]:
    d, out = 0, []
    for t in tokens:
        d += {"(": 1, ")": -1}.get(t, 0)
        out.append(float(d))
    return out


def make_population(n_models: int = 24, n_samples: int = 3, max_layers: int = 3, max_heads: int = 4,
                    seed: int = 0) -> xr.Dataset:
    """A Dyck-style population Dataset: hyperparameter grid, NaN-padded head scores and example attention."""
    rng = np.random.default_rng(seed)
    grid = [(l, h, wd) for l in (1, 2, 3) for h in (2, 4) for wd in (0.0, 1e-3, 1e-2)]
    hp = [grid[i % len(grid)] for i in range(n_models)]
    n_layers = np.array([g[0] for g in hp])
    n_heads = np.array([g[1] for g in hp])
    wd = np.array([g[2] for g in hp])
    hs = rng.random((n_models, 2, max_layers, max_heads, len(HEAD_SCORE_TYPES)))
    for m in range(n_models):
        hs[m, :, n_layers[m]:] = np.nan
        hs[m, :, :, n_heads[m]:] = np.nan
        if n_layers[m] == 1:
            hs[m, :, :, :, 3] *= 0.5  # 1-layer models never have hierarchical heads (METHODS D)
    hier = np.nanmax(hs[:, 0, :, :, 3], axis=(1, 2))
    ood = np.clip(hier + rng.normal(0, 0.1, n_models) - 0.3, 0, 1)
    texts = [f"[start] {BRACKETS[s % len(BRACKETS)]} [end]".split() for s in range(n_samples)]
    nq = max(map(len, texts))
    toks = np.full((n_samples, nq), "", dtype=object)
    depth = np.full((n_samples, nq), np.nan, np.float32)
    for s, t in enumerate(texts):
        toks[s, : len(t)] = t
        depth[s, : len(t)] = _depths(t)
    att = np.full((n_models, n_samples, max_layers, max_heads, nq, nq), np.nan, np.float32)
    for m in range(n_models):
        for s, t in enumerate(texts):
            n = len(t)
            x = rng.normal(size=(n_layers[m], n_heads[m], n, n)) * 2
            x = np.where(np.tril(np.ones((n, n), bool)), x, -np.inf)
            w = np.exp(x - x.max(-1, keepdims=True))
            att[m, s, : n_layers[m], : n_heads[m], :n, :n] = w / w.sum(-1, keepdims=True)
    ds = xr.Dataset(
        {"id_accuracy": ("model", rng.uniform(0.95, 1.0, n_models)), "ood_accuracy": ("model", ood),
         "head_score": (("model", "split", "layer", "head", "score"), hs),
         "example_attention": (("model", "sample", "layer", "head", "query", "key"), att),
         "example_token": (("sample", "query"), toks), "example_depth": (("sample", "query"), depth)},
        coords={"model": np.arange(n_models), "n_layers": ("model", n_layers), "n_heads": ("model", n_heads),
                "weight_decay": ("model", wd), "init_seed": ("model", np.arange(n_models) % 5),
                "data_seed": ("model", np.arange(n_models) % 3), "split": ["id", "ood"],
                "score": list(HEAD_SCORE_TYPES)},
        attrs={"title": "synthetic Dyck population"})
    return validate_population(ds)


def expected_codes(w: np.ndarray) -> np.ndarray:
    out = np.full(w.shape, 255, np.uint8)
    ok = ~np.isnan(w)
    out[ok] = np.floor(np.clip(w[ok], 0, 1) * 254 + 0.5).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def ds():
    return make_population()


def test_table_and_derived_maxima_match_numpy(ds):
    t = population_table(ds)
    hs = ds["head_score"].values
    for si, sp in enumerate(["id", "ood"]):
        for j, sc in enumerate(HEAD_SCORE_TYPES):
            want = [max(v for v in hs[m, si, :, :, j].ravel() if not np.isnan(v)) for m in range(hs.shape[0])]
            np.testing.assert_allclose(t[f"max_{sp}_{sc}"], want)
    np.testing.assert_array_equal(t["ood_accuracy"], ds["ood_accuracy"].values)
    np.testing.assert_array_equal(t["n_layers"], ds["n_layers"].values)
    w = PopulationExplorer(ds)
    assert (w.x, w.y, w.color, w.selected) == ("max_id_hierarchical", "ood_accuracy", "n_layers", -1)
    back = decode(w._table_meta, w._table)
    for i, name in enumerate(w._table_meta["names"]):
        np.testing.assert_allclose(back[i], t[name].astype(np.float32))
    assert w.hyperparameters["weight_decay"] == [0.0, 0.001, 0.01]
    assert w.score_types == list(HEAD_SCORE_TYPES)
    assert w.sample_labels[0] == "[start] ( ( ) ) [end]"
    # top head of model 5: independent argmax over the ID scores
    v = np.nan_to_num(hs[5, 0], nan=-1)
    l, h, s = np.unravel_index(np.argmax(v), v.shape)
    assert w.top_heads[5] == f"L{l} H{h} {HEAD_SCORE_TYPES[s]} {hs[5, 0, l, h, s]:.2f}"


def test_visible_mask_follows_filters_and_has_head(ds):
    w = PopulationExplorer(ds)
    assert w.visible().all()
    w.filters = {"n_layers": [2, 3], "weight_decay": [0.001]}
    w.has_head, w.threshold = "hierarchical", 0.6
    hs = ds["head_score"].values
    want = []
    for m in range(ds.sizes["model"]):
        best = max(v for v in hs[m, 0, :, :, 3].ravel() if not np.isnan(v))
        want.append(int(ds.n_layers[m]) in (2, 3) and float(ds.weight_decay[m]) == 0.001 and best >= 0.6)
    assert w.visible().tolist() == want and 0 < sum(want) < len(want)


def test_selecting_a_model_sends_its_example_attention(ds):
    w = PopulationExplorer(ds)
    assert w._map_thumbs == b"" and "click" in w.map_message
    m = int(np.flatnonzero(ds.n_layers.values == 2)[0])
    w.selected = m
    n_l, n_h = int(ds.n_layers[m]), int(ds.n_heads[m])
    toks = [t for t in ds.example_token.values[0] if t]
    n = len(toks)
    assert w.map_query_tokens == toks == w.map_key_tokens
    assert w._map_thumbs_meta["shape"] == [n_l, n_h, n, n]
    att = ds.example_attention.values[m, 0]
    thumbs = np.frombuffer(w._map_thumbs, np.uint8).reshape(n_l, n_h, n, n)
    assert np.array_equal(thumbs, expected_codes(att[:n_l, :n_h, :n, :n]))
    assert w._map_head == expected_codes(att[0, 0, :n, :n]).tobytes()
    ann = decode(w._map_annotations_meta, w._map_annotations)
    assert w._map_annotations_meta["names"] == ["depth"]
    np.testing.assert_array_equal(ann[0], ds.example_depth.values[0, :n])
    sc = decode(w._map_scores_meta, w._map_scores)
    np.testing.assert_allclose(sc, ds.head_score.values[m, 0, :n_l, :n_h].astype(np.float32))
    # the map's messages: another head, a tile, and the example dropdown
    reply, (buf,) = w.reply_to({"type": "get_head", "layer": 1, "head": n_h - 1, "prompt": 0})
    assert buf == expected_codes(att[1, n_h - 1, :n, :n]).tobytes() and reply["meta"]["gen"] == w._map_thumbs_meta["gen"]
    reply, (buf,) = w.reply_to({"type": "get_tile", "layer": 1, "head": 0, "prompt": 0, "q0": 2, "q1": 5, "k0": 0, "k1": 3})
    assert buf == expected_codes(att[1, 0, 2:5, 0:3]).tobytes()
    gen = w._map_thumbs_meta["gen"]
    w.sample = 2
    toks2 = [t for t in ds.example_token.values[2] if t]
    assert w.map_query_tokens == toks2 and w._map_thumbs_meta["gen"] == gen + 1
    reply, _ = w.reply_to({"type": "get_head", "layer": 0, "head": 0, "prompt": 0})
    assert reply["type"] == "error"  # a request for the example no longer shown
    w.selected = -1
    assert w._map_thumbs == b""


def test_one_layer_model_map_drops_padding_layers(ds):
    w = PopulationExplorer(ds, selected=int(np.flatnonzero(ds.n_layers.values == 1)[0]))
    m = w.selected
    assert w._map_thumbs_meta["shape"][:2] == [1, int(ds.n_heads[m])]
    assert w.map_layer_labels == ["0"] and len(w.map_head_labels) == int(ds.n_heads[m])


@pytest.mark.parametrize("drop,words", [
    ("id_accuracy", ["'id_accuracy'"]), ("head_score", ["'head_score'"]), ("weight_decay", ["'weight_decay'"]),
    ("example_token", ["'example_token'", "example_attention"]),
])
def test_missing_variables_raise_data_model_error_naming_them(ds, drop, words):
    bad = ds.drop_vars(drop)
    with pytest.raises(DataModelError) as e:
        PopulationExplorer(bad)
    for w in words:
        assert w in str(e.value)


def test_bad_arguments(ds):
    with pytest.raises(DataModelError, match="x='nope'.*choose from"):
        PopulationExplorer(ds, x="nope")
    with pytest.raises(DataModelError, match="xarray.Dataset"):
        PopulationExplorer(ds["head_score"])
    w = PopulationExplorer(ds)
    with pytest.raises(traitlets.TraitError, match="selected=99"):
        w.selected = 99
    with pytest.raises(traitlets.TraitError, match="y='accuracy'"):
        w.y = "accuracy"
    with pytest.raises(traitlets.TraitError, match="sample=7"):
        w.sample = 7
    assert w.reply_to({"type": "get_head", "layer": 0, "head": 0})[0]["type"] == "error"  # nothing selected


def test_population_without_examples_still_plots(ds):
    w = PopulationExplorer(ds.drop_vars(["example_attention"]), selected=0)
    assert w._map_thumbs == b"" and "no example_attention" in w.map_message and w.visible().sum() == ds.sizes["model"]
