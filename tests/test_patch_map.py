"""PatchMap (Python side) on a synthetic patching Dataset with a known pattern (tests/patching_data.py): what travels
(every array binary, decoded and compared with the Dataset; the mean over pairs against numpy's nanmean; top-k token
strings through the vocab coords), the offline budget, synced traits and their checks, bad input, and the static
Altair twin."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import traitlets
import xarray as xr

from patching_data import make_attribution, make_patching, make_spans
from workbench.data import DataModelError
from workbench.widgets import PatchMap
from workbench.widgets import _serialize as S


@pytest.fixture(scope="module")
def ds():
    return make_patching()


@pytest.fixture(scope="module")
def attr(ds):
    return make_attribution(ds)


def nanmean0(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(a, np.float64), axis=0)


def summary(w):
    return S.unpack(w._info["summary_meta"], w._summary)


def pair_arrays(w, p):
    entry = w._pairs[str(p)]
    return S.unpack(entry["meta"], entry["data"])


def _numeric_lists(obj, key=""):
    """Lists of numbers in a JSON-able value, other than array shapes (the metadata beside a buffer)."""
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in _numeric_lists(v, k)]
    if isinstance(obj, list):
        if key != "shape" and any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj):
            return [key]
        return [x for v in obj for x in _numeric_lists(v, key)]
    return []


# ------------------------------------------------------------------------------------------------------ defaults
def test_defaults(ds):
    w = PatchMap(ds)
    assert (w.pair, w.site, w.method, w.layer, w.position, w.head) == (-1, "resid", "exact", -1, -1, -1)
    assert w._info["sites"] == ["resid", "attn", "mlp"] and w._info["methods"] == ["exact"]
    assert w._info["n_heads"] == 4 and w._info["head_methods"] == ["exact"]
    one = PatchMap(ds.isel(pair=1))  # no pair dim: one pair, shown as itself
    assert one.pair == 0 and one._info["n_pairs"] == 1
    np.testing.assert_array_equal(pair_arrays(one, 0)["exact:effect"], ds.effect.values[1])
    assert one._info["tokens"] == [list(ds.token.values[1])]
    w2 = PatchMap(ds, pair=2, site="head")
    assert (w2.pair, w2.site) == (2, "head")
    mlp_only = PatchMap(ds.sel(site=["mlp"]))
    assert mlp_only.site == "mlp"
    heads_only = PatchMap(ds.isel(site=[]))  # patch(..., sites=(), heads=True)
    assert heads_only.site == "head" and heads_only._info["sites"] == []
    np.testing.assert_array_equal(pair_arrays(heads_only, 0)["exact:head_effect"][0], ds.head_effect.values[0])


def test_prompts_and_answers(ds):
    w = PatchMap(ds)
    assert w._info["prompts"] == [str(c) for c in ds.clean.values]
    assert w._info["prompts"][1] == " When Anna and Paul went, Paul gave"
    assert w._info["answers"] == [[str(a), str(b)] for a, b in zip(ds.answer.values, ds.wrong.values)]
    bare = PatchMap(ds.drop_vars(["clean", "answer"]))  # the prompt from its tokens; no answer without both
    assert bare._info["prompts"] == ["".join(r) for r in ds.token.values] and bare._info["answers"] == []
    spans = PatchMap(make_spans())
    assert spans._info["prompts"] == ["", ""] and spans._info["span_positions"] == ["[1]", "[3]", "[6]", "[7]"]


# ----------------------------------------------------------------------------------------------- what travels
def test_everything_travels_as_binary(ds, attr):
    w = PatchMap(ds, attribution=attr)
    assert isinstance(w._summary, bytes) and all(isinstance(p["data"], bytes) for p in w._pairs.values())
    metas = {k: v["meta"] for k, v in w._pairs.items()}
    assert _numeric_lists(w._info) == [] and _numeric_lists(metas) == []
    assert len(json.dumps(w._info)) < 4000
    np.testing.assert_array_equal(summary(w)["layers"], ds.layer.values)


def test_each_pair_payload_is_the_dataset(ds, attr):
    w = PatchMap(ds, attribution=attr)
    assert sorted(w._pairs, key=int) == ["0", "1", "2"]
    vocab = dict(zip(ds.vocab_id.values.tolist(), ds.vocab_token.values.tolist()))
    for p in range(3):
        a = pair_arrays(w, p)
        for var in ("effect", "metric", "head_effect", "head_metric", "top_change", "head_top_change"):
            want = ds[var].values[p].astype(np.float32)
            got = a[f"exact:{var}"]
            if var.startswith("head"):
                got = got[0]  # (span, layer, head[, rank]): one span here
            np.testing.assert_array_equal(got, want, err_msg=var)
        for var in ("effect", "head_effect"):
            got = a[f"attribution:{var}"]
            np.testing.assert_array_equal(got if var == "effect" else got[0], attr[var].values[p].astype(np.float32))
        # top-k token ids -> strings through the vocab table the front end gets, against the Dataset's own coords
        for key, var, got_index in (("top_token_id", "top", a["exact:top_index"]),
                                    ("head_top_token_id", "head_top", a["exact:head_top_index"][0])):
            ids = ds[key].values[p]
            strings = np.array([w._info["vocab"][int(i)] if i >= 0 else "" for i in got_index.ravel()])
            want = np.array([vocab[i] if i >= 0 else "" for i in ids.ravel().tolist()])
            np.testing.assert_array_equal(strings, want, err_msg=var)
            assert ((got_index < 0) == (ids < 0)).all()


def test_mean_over_pairs_ignores_nan(ds, attr):
    w = PatchMap(ds, attribution=attr)
    s = summary(w)
    for m, src in (("exact", ds), ("attribution", attr)):
        for var in ("effect", "metric", "head_effect"):
            got = s[f"{m}:{var}"]
            want = nanmean0(src[var].values)
            np.testing.assert_allclose(got[0] if var.startswith("head") else got, want, rtol=1e-6, atol=1e-7,
                                       equal_nan=True)
    eff = s["exact:effect"]
    # the last position exists in pairs 0 and 1 only: their mean, not NaN (pair 2 is shorter) and not over 3 pairs
    last = ds.effect.values[:2, 0, 3, 7].astype(np.float64)
    assert eff[0, 3, 7] == pytest.approx(last.mean(), abs=1e-6) and abs(eff[0, 3, 7] - 0.9) < 0.03
    assert np.isnan(eff[1, 4]).all() and np.isnan(eff[2, 4]).all()  # attn/mlp have no layer 4 in any pair
    assert not np.isnan(eff[0, 4]).any()
    # the known pattern survives the mean: positive at the IO name early, negative at the second S
    assert eff[0, 0, 1] == pytest.approx(np.mean([0.9, 0.72, 1.08]), abs=0.03)
    assert eff[0, 2, 6] < -0.5 and eff[1, 1, 3] < -0.3
    np.testing.assert_allclose(s["clean_metric"], ds.clean_metric.values)
    np.testing.assert_allclose(s["corrupted_metric"], ds.corrupted_metric.values)
    np.testing.assert_allclose(s["attribution:pearson_r"], attr.pearson_r.values)
    assert s["attribution:head_pearson_r"][0] == pytest.approx(float(attr.head_pearson_r))


def test_tokens_and_differing_positions(ds):
    w = PatchMap(ds)
    assert w._info["tokens"] == [list(r) for r in ds.token.values]
    assert w._info["corrupted"] == [list(r) for r in ds.corrupted_token.values]
    differ = summary(w)["differ"]
    for p in range(3):
        want = [i for i in range(8) if ds.token.values[p, i] not in ("", ds.corrupted_token.values[p, i])]
        assert np.flatnonzero(differ[p]).tolist() == want
    assert np.flatnonzero(differ[1]).tolist() == [6] and np.flatnonzero(differ[0]).tolist() == [1, 6]


def test_spans_and_head_spans():
    sp = make_spans()
    w = PatchMap(sp, site="head")
    assert w._info["cells"] == "span" and w._info["tokens"] == [["IO", "S1", "S2", "END"]] * 2
    assert w._info["head_spans"] == ["IO", "S1", "S2", "END"]
    assert not summary(w)["differ"].any()
    a = pair_arrays(w, 1)
    np.testing.assert_array_equal(a["exact:head_effect"], sp.head_effect.values[1].transpose(2, 0, 1))
    np.testing.assert_array_equal(a["exact:effect"], sp.effect.values[1])
    w.position = 3
    with pytest.raises(traitlets.TraitError, match=r"position must be -1 \(none\) or an index in 0..3, got 4"):
        w.position = 4


def test_unknown_token_ids_still_show(ds):
    odd = ds.copy(deep=True)
    odd["top_token_id"].values[0, 0, 0, 0, 0] = 999_999
    w = PatchMap(odd)
    idx = pair_arrays(w, 0)["exact:top_index"][0, 0, 0]
    assert w._info["vocab"][int(idx[0])] == "⟨id 999999⟩"
    assert w._info["vocab"][:16] == list(ds.vocab_token.values)


# ---------------------------------------------------------------------------------------------- offline budget
def test_budget_decides_what_is_saved(ds):
    w = PatchMap(ds)
    need = sum(len(p["data"]) for p in w._pairs.values())
    assert w._offline == {"complete": True, "bytes": need, "budget": 8_000_000, "missing": "", "pairs": "state"}
    assert PatchMap(ds, offline_budget=need)._offline["pairs"] == "state"
    lean = PatchMap(ds, offline_budget=need - 1)
    assert lean._pairs == {} and lean._offline["pairs"] == "kernel" and not lean._info["all_in_state"]
    assert lean._offline["missing"] == (f"every pair's maps, heads and top-k logit changes is {need:,} bytes, over "
                                        f"the {need - 1:,}-byte offline budget")
    np.testing.assert_allclose(summary(lean)["exact:effect"], nanmean0(ds.effect.values), equal_nan=True, rtol=1e-6)
    lean.pair = 2  # the kernel sends the picked pair, and only it
    assert list(lean._pairs) == ["2"]
    np.testing.assert_array_equal(pair_arrays(lean, 2)["exact:effect"], ds.effect.values[2])
    lean.pair = -1  # the mean needs nothing more
    assert list(lean._pairs) == ["2"]
    picked = PatchMap(ds, pair=1, offline_budget=0)  # the pair on show always travels
    assert list(picked._pairs) == ["1"]
    with pytest.raises(DataModelError, match="offline_budget must be at most 8,388,608 bytes"):
        PatchMap(ds, offline_budget=20_000_000)


def test_saved_pairs_travel_in_a_message_of_their_own(ds, monkeypatch):
    from ipywidgets import Widget

    sent = []
    monkeypatch.setattr(Widget, "_send", lambda self, msg, buffers=None: sent.append(
        (set(msg.get("state", {})) | {p[0] for p in msg.get("buffer_paths", [])}, sum(len(b) for b in buffers or []))))
    PatchMap(ds)
    assert [keys for keys, _ in sent if "_pairs" in keys] == [{"_pairs"}]
    assert any("_summary" in keys for keys, _ in sent) and all(n <= S.MAX_MESSAGE_BYTES for _, n in sent)


# --------------------------------------------------------------------------------------------- traits, errors
def test_traits_are_checked(ds, attr):
    w = PatchMap(ds, attribution=attr)
    w.site, w.layer, w.position, w.method = "attn", 3, 7, "attribution"
    assert (w.site, w.layer, w.position, w.method) == ("attn", 3, 7, "attribution")
    w.site, w.head = "head", 2
    for name, value, match in [
        ("site", "embed", r"site must be one of \['resid', 'attn', 'mlp', 'head'\], got 'embed'"),
        ("layer", 5, r"layer must be -1 \(none\) or one of the Dataset's layers 0..4, got 5"),
        ("position", 8, r"position must be -1 \(none\) or an index in 0..7, got 8"),
        ("head", 4, r"head must be -1 \(none\) or an index in 0..3, got 4"),
        ("pair", 3, r"pair=3 is out of range: the Dataset has 3 pair\(s\)"),
    ]:
        with pytest.raises(traitlets.TraitError, match=match):
            setattr(w, name, value)
    with pytest.raises(traitlets.TraitError, match=r"method must be one of \['exact'\]"):
        PatchMap(ds).method = "attribution"
    no_heads = PatchMap(ds.drop_vars([v for v in ds.data_vars if v.startswith("head")]))
    with pytest.raises(traitlets.TraitError, match=r"site must be one of \['resid', 'attn', 'mlp'\]"):
        no_heads.site = "head"


def test_bad_input(ds, attr):
    with pytest.raises(DataModelError, match="patching Dataset needs data variable 'effect'"):
        PatchMap(ds.drop_vars("effect"))
    with pytest.raises(DataModelError, match="patching Dataset must be an xarray.Dataset, got DataArray"):
        PatchMap(ds.effect)
    with pytest.raises(DataModelError, match=r"pair=5 is out of range"):
        PatchMap(ds, pair=5)
    with pytest.raises(DataModelError, match=r"site must be one of"):
        PatchMap(ds, site="mlp_out")
    with pytest.raises(DataModelError, match=r"attribution must cover the same cells as the exact Dataset, but its "
                                              r"'layer' has 4 entries and the exact one 5"):
        PatchMap(ds, attribution=attr.isel(layer=slice(0, 4)))
    with pytest.raises(DataModelError, match="needs an exact Dataset and an attribution one"):
        PatchMap(ds, attribution=ds)
    with pytest.raises(DataModelError, match=r"attribution's sites \['mlp', 'attn', 'resid'\] must be"):
        PatchMap(ds, attribution=attr.isel(site=[2, 1, 0]))
    with pytest.raises(DataModelError, match=r"needs at least one pair, layer, position and site \(or a head view\)"):
        PatchMap(ds.isel(position=[]))
    with pytest.raises(DataModelError, match=r"needs at least one pair, layer, position and site \(or a head view\)"):
        PatchMap(ds.isel(site=[]).drop_vars([v for v in ds.data_vars if v.startswith("head")]))
    with pytest.raises(DataModelError, match="pair_payload needs a pair index >= 0"):
        PatchMap(ds).pair_payload(-1)
    # one pair whose top-k would not fit one kernel message: (1 pair, 3 sites, 5 layers, 8 positions) x 30,000 ranks
    big = ds.isel(pair=[0]).reindex(rank=np.arange(30_000), fill_value=0)
    need = 4 * (2 * 3 * 5 * 8 * 30_000 + 2 * 5 * 4 * 30_000 + 2 * 3 * 5 * 8 + 2 * 5 * 4)
    with pytest.raises(S.MessageTooLarge, match=f"pair 0's maps and top-k logit changes are {need:,} bytes, over the "
                                                f"8,388,608-byte cap of one kernel message"):
        PatchMap(big)


# ------------------------------------------------------------------------------------------------------ chart
def test_static_chart(ds):
    from workbench import charts

    chart = charts.patch_map(ds)
    spec = chart.to_dict()
    mean = nanmean0(ds.effect.values)[0]
    m = float(np.nanmax(np.abs(mean)))
    assert spec["encoding"]["color"]["scale"]["domain"] == pytest.approx([-m, 0.0, m])
    df = chart.data
    assert len(df) == np.isfinite(mean).sum()
    row = df[(df.layer == 2) & (df.x == "6: John| Paul| Omar *")]
    assert row.effect.item() == pytest.approx(mean[2, 6]) and row.effect.item() < 0
    assert "1: Mary| Anna| Lena *" in set(df.x) and "0: When" in set(df.x)
    one = charts.patch_map(ds, site="attn", pair=2).data
    assert len(one) == np.isfinite(ds.effect.values[2, 1]).sum()  # pair 2 is shorter and attn has no layer 4
    assert one[(one.layer == 1) & (one.x == "3: Omar")].effect.item() == pytest.approx(ds.effect.values[2, 1, 1, 3])
    heads = charts.patch_map(ds, site="head", pair=0).data
    assert heads[(heads.layer == 2) & (heads.x == "h1")].effect.item() == pytest.approx(0.8)
    png = charts.to_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "mean over 3 pairs" in charts.to_svg(chart)
    with pytest.raises(DataModelError, match=r"site must be one of \['resid', 'attn', 'mlp', 'head'\], got 'x'"):
        charts.patch_map(ds, site="x")
    with pytest.raises(DataModelError, match="pair=3 is out of range"):
        charts.patch_map(ds, pair=3)
    span = charts.patch_map(make_spans()).data
    assert set(span.x) == {"0:IO", "1:S1", "2:S2", "3:END"}


def test_chart_reads_a_dataset_without_pairs(ds):
    from workbench import charts

    one = ds.isel(pair=0)
    df = charts.patch_map(one, site="resid").data
    assert df[(df.layer == 0) & (df.x == "1: Mary *")].effect.item() == pytest.approx(float(one.effect[0, 0, 1]))
    assert isinstance(one, xr.Dataset)
