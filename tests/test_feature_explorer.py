"""FeatureExplorer without a browser, on the synthetic SAE Dataset of tests/sae_data.py: what travels to the front end
(packed buffers decoded and compared with numbers recomputed here from the Dataset with numpy and pandas), the top
contexts against a direct group-by over strings, the offline budget's tiers, trait checks, one-sentence errors for bad
Datasets and arguments, and the static twin charts.feature_explorer. The page itself is tested in
tests/browser/test_feature_explorer_lab.py."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest
import traitlets

from sae_data import LABELS, N_LATENTS, PERM, SAES, STRINGS, make_sae
from workbench.data import DataModelError
from workbench.widgets import FeatureExplorer
from workbench.widgets import _serialize as S
from workbench.widgets import feature_explorer as module


@pytest.fixture(scope="module")
def ds():
    return make_sae()


@pytest.fixture(scope="module")
def w(ds):
    return FeatureExplorer(ds)


def by_string(ds, s: int, latent: int) -> pd.DataFrame:
    """One row per sample of SAE s: string, position, token, the latent's activation (independent of the widget)."""
    return pd.DataFrame({"string": ds["string"].values, "position": ds["position"].values,
                         "token": ds["token"].values.astype(str),
                         "act": ds["activation"].isel(sae=s, latent=latent).values.astype(np.float32)})


def test_doctests():
    assert doctest.testmod(module).failed == 0


def test_defaults(ds, w):
    assert (w.sae, w.sort) == (0, "detection")
    assert w.latent == 0  # the best label score: latent 0 detects depth at 0.95
    assert FeatureExplorer(ds, sae=1).latent == int(np.argmax(PERM == 0))  # seed 1 holds it at a permuted index
    assert w._info["saes"] == ["relu · sparsity 0.01 · seed 0", "relu · sparsity 0.01 · seed 1",
                               "topk · sparsity 4 · seed 0", "topk · sparsity 4 · seed 1"]
    assert w._info["labels"] == LABELS and w._info["n_latents"] == N_LATENTS
    assert w._info["scalars"] == ["fvu", "l0", "dead_share", "clean_metric"]
    assert w._info["unit_kinds"] == ["neuron", "residual"]
    assert w._info["model"] == "dyck2-synthetic" and w._info["where"] == "layer 1 · site resid_post"
    assert w._offline["complete"] and w._offline["saes"] == w._offline["latents"] == "state"
    assert sorted(w._saes, key=int) == [str(s) for s in range(len(SAES))]
    assert len(w._latents) == len(SAES) * N_LATENTS
    assert w._info["n_strings"] == len(STRINGS)
    assert (w._info["well_correlated"], w._info["no_effect"]) == (0.9, 0.1)  # 0.05 of the site's effect, 2.0
    bare = FeatureExplorer(ds.drop_vars("site_effect"))
    assert (bare._info["well_correlated"], bare._info["no_effect"]) == (0.9, None)


def test_numbers_travel_as_binary(w):
    state = w.get_state()
    assert isinstance(state["_summary"], (bytes, memoryview))
    for trait in ("_saes", "_latents"):
        for entry in getattr(w, trait).values():
            assert isinstance(entry["data"], bytes)
    json.dumps(w._info)  # names and strings only: no numpy scalars
    numbers = [v for v in w._info.values() if isinstance(v, list) and v and isinstance(v[0], (int, float))]
    assert numbers == []  # no JSON list of numbers


def test_tokens_are_in_string_order(ds, w):
    """_info["tokens"] is every sample's token, string by string, each string in position order."""
    want = []
    for s in range(len(STRINGS)):
        df = pd.DataFrame({"string": ds["string"].values, "position": ds["position"].values,
                           "token": ds["token"].values.astype(str)})
        want += list(df[df["string"] == s].sort_values("position")["token"])
    assert w._info["tokens"] == want
    assert w._info["texts"] == STRINGS
    assert "".join(w._info["tokens"][1:5]) == STRINGS[0]  # after [start]


@pytest.mark.parametrize("s", range(len(SAES)))
def test_sae_payload_is_the_dataset(ds, w, s):
    a = S.unpack(w._saes[str(s)]["meta"], w._saes[str(s)]["data"])
    sub = ds.isel(sae=s)
    np.testing.assert_array_equal(a["frequency"], sub["frequency"].values)
    np.testing.assert_array_equal(a["detection"], sub["detection"].transpose("latent", "label").values)
    np.testing.assert_array_equal(a["causal"], sub["causal_effect"].values)
    np.testing.assert_array_equal(a["match_cosine"], sub["match_cosine"].values)
    np.testing.assert_array_equal(a["match_latent"], sub["match_latent"].values)
    np.testing.assert_array_equal(a["decoder_logits"], sub["decoder_top_logits"].values)
    assert w._saes[str(s)]["decoder_tokens"] == sub["decoder_top_tokens"].values.tolist()
    det = sub["detection"].values
    for lat in range(N_LATENTS):
        if np.isnan(det[lat]).all():
            assert np.isnan(a["best"][lat]) and a["best_label"][lat] == -1
        else:
            assert a["best"][lat] == np.float32(np.nanmax(det[lat]))
            assert a["best_label"][lat] == int(np.nanargmax(det[lat]))
    # frequency is the share of samples with activation > 0, as the Dataset says
    np.testing.assert_allclose(a["frequency"], (sub["activation"].values > 0).mean(0), rtol=1e-6)


def test_summary(ds, w):
    s = S.unpack(w._info["summary_meta"], w._summary)
    np.testing.assert_array_equal(s["match_sae"], [1, 0, 3, 2])
    np.testing.assert_array_equal(s["fvu"], ds["fvu"].values)
    np.testing.assert_array_equal(s["clean_metric"], np.float32([0.98] * len(SAES)))  # one value for every SAE
    np.testing.assert_array_equal(s["unit_best"], ds["unit_detection"].max("label").values)
    np.testing.assert_array_equal(s["unit_causal"], ds["unit_causal_effect"].values)


@pytest.mark.parametrize("s", range(len(SAES)))
def test_latent_payloads_are_the_dataset(ds, w, s):
    """Every latent's histogram values and top contexts, recomputed with a pandas group-by over strings."""
    tokens = w._info["tokens"]
    for lat in range(N_LATENTS):
        a = S.unpack(w._latents[f"{s}:{lat}"]["meta"], w._latents[f"{s}:{lat}"]["data"])
        act = ds["activation"].isel(sae=s, latent=lat).values.astype(np.float32)
        np.testing.assert_array_equal(np.sort(a["active"]), np.sort(act[act > 0]))
        np.testing.assert_array_equal(a["stats"], [max(act.max(), 0), (act > 0).sum(), act.size])
        df = by_string(ds, s, lat)
        peaks = df.groupby("string")["act"].max()
        want = [int(j) for j in peaks[peaks > 0].sort_values(ascending=False, kind="stable").index[:6]]
        assert a["ctx_string"].astype(int).tolist() == want
        off = 0
        for k, j in enumerate(want):
            rows = df[df["string"] == j].sort_values("position")
            n = int(a["ctx_len"][k])
            assert n == len(rows)  # the synthetic strings are shorter than a window
            st = int(a["ctx_start"][k])
            assert tokens[st: st + n] == list(rows["token"])
            np.testing.assert_array_equal(a["ctx_act"][off: off + n], rows["act"].values)
            assert int(a["ctx_peak"][k]) == int(np.argmax(rows["act"].values))
            off += n
        assert off == a["ctx_act"].size


def test_known_latents(w):
    """The hand-made latents: 1 fires on '(' (1.5, 3.0 for topk), 2 is dead, 3 only on [start]."""
    c = w.contexts(0, 1)
    assert [x["text"] for x in c] == ["([])", "(()", "[]()[]", "(([]))", "[(])"]  # every string with a '('
    assert all(x["tokens"][x["peak"]] == "(" and x["activation"][x["peak"]] == 1.5 for x in c)
    assert FeatureExplorer(make_sae(), sae=2).contexts(2, 1)[0]["activation"].max() == 3.0
    assert w.contexts(0, 2) == []
    dead = S.unpack(w._latents["0:2"]["meta"], w._latents["0:2"]["data"])
    assert dead["active"].size == 0 and dead["stats"][0] == 0
    start = w.contexts(0, 3)
    assert len(start) == 6 and all(x["peak"] == 0 and x["tokens"][0] == "[start]" for x in start)


def minimal(acts: np.ndarray, tokens: list[str], **coords) -> "xr.Dataset":
    """The smallest Dataset validate_sae accepts around (sae, sample, latent) activations, one label."""
    import xarray as xr

    S, N, L = acts.shape
    return xr.Dataset({"activation": (("sae", "sample", "latent"), acts),
                       "detection": (("sae", "latent", "label"), np.full((S, L, 1), 0.5, np.float32)),
                       "causal_effect": (("sae", "latent"), np.full((S, L), 0.1, np.float32)),
                       "frequency": (("sae", "latent"), (acts > 0).mean(1).astype(np.float32)),
                       "match_cosine": (("sae", "latent"), np.full((S, L), np.nan, np.float32)),
                       "fvu": ("sae", np.full(S, 0.1)), "l0": ("sae", np.full(S, 1.0))},
                      coords={"architecture": ("sae", ["topk"] * S), "sparsity": ("sae", [4.0] * S),
                              "seed": ("sae", list(range(S))), "label": ["depth"],
                              "token": ("sample", tokens), "text": ("sample", ["".join(tokens)] * N),
                              "char": ("sample", np.full(N, -1)), **coords})


def test_long_strings_show_a_window_around_the_peak():
    n = 100
    acts = np.zeros((1, n, 1), np.float32)
    acts[0, 70, 0] = 2.0
    ds = minimal(acts, [f"t{i}" for i in range(n)], string=("sample", np.zeros(n, int)),
                 position=("sample", np.arange(n)))
    (c,) = FeatureExplorer(ds).contexts(0, 0)
    w0 = 70 - (module.CONTEXT_TOKENS - 1 - module.AFTER_PEAK)
    assert c["tokens"] == [f"t{i}" for i in range(w0, w0 + module.CONTEXT_TOKENS)]
    assert c["peak"] == 70 - w0 and c["tokens"][c["peak"]] == "t70"
    assert c["tokens"][-1] == f"t{70 + module.AFTER_PEAK}"


def test_without_string_and_position_the_text_groups_samples():
    acts = np.array([[[1.0], [0.0], [3.0]]], np.float32)
    ds = minimal(acts, ["a", "b", "c"])  # one text for all three samples, no string or position coord
    w = FeatureExplorer(ds)
    assert w._info["texts"] == ["abc"] and w._info["tokens"] == ["a", "b", "c"]
    (c,) = w.contexts(0, 0)
    assert c["peak"] == 2 and c["activation"].tolist() == [1.0, 0.0, 3.0]


def test_order_of_samples_does_not_matter(ds, w):
    plain = FeatureExplorer(make_sae(shuffle=False))
    assert plain._info["tokens"] == w._info["tokens"]
    for key in ("0:1", "3:4"):
        a = S.unpack(plain._latents[key]["meta"], plain._latents[key]["data"])
        b = S.unpack(w._latents[key]["meta"], w._latents[key]["data"])
        for name in ("ctx_start", "ctx_len", "ctx_string", "ctx_peak", "ctx_act", "stats"):
            np.testing.assert_array_equal(a[name], b[name])


def test_float16_activations():
    w16 = FeatureExplorer(make_sae(dtype="float16"))
    a = S.unpack(w16._latents["2:0"]["meta"], w16._latents["2:0"]["data"])
    assert a["stats"][0] == 2 * 3  # topk doubles the depth; the deepest string reaches 3


def test_budget_tiers(ds):
    need = FeatureExplorer(ds)._offline["bytes"]
    assert FeatureExplorer(ds, offline_budget=need)._offline["latents"] == "state"
    lean = FeatureExplorer(ds, offline_budget=need - 1, sae=1, latent=4)
    assert (lean._offline["saes"], lean._offline["latents"]) == ("state", "kernel")
    assert not lean._offline["complete"]
    assert lean._offline["missing"] == f"{module._WHAT} is {need:,} bytes, over the {need - 1:,}-byte offline budget"
    assert sorted(lean._saes, key=int) == ["0", "1", "2", "3"] and list(lean._latents) == ["1:4"]
    lean.latent = 2  # the kernel sends the picked latent
    assert list(lean._latents) == ["1:2"]
    lean.sae = 3
    assert list(lean._latents) == ["3:2"]
    full = FeatureExplorer(ds)
    assert lean._latents["3:2"]["data"] == full._latents["3:2"]["data"]
    bare = FeatureExplorer(ds, offline_budget=0, sae=2)
    assert (bare._offline["saes"], bare._offline["latents"]) == ("kernel", "kernel")
    assert " is more than " in bare._offline["missing"]  # counting stopped once over the budget
    assert list(bare._saes) == ["2"] and list(bare._latents) == [f"2:{bare.latent}"]
    bare.sae = 0
    assert list(bare._saes) == ["0"] and bare._saes["0"]["data"] == full._saes["0"]["data"]
    bare.sort = "causal"  # sorting needs nothing from the kernel
    assert list(bare._saes) == ["0"]


def test_traits_are_checked(w):
    for name, bad in (("sae", 4), ("sae", -1), ("latent", N_LATENTS), ("latent", True), ("sort", "name")):
        with pytest.raises(traitlets.TraitError):
            setattr(w, name, bad)
    w.sort = "match"
    assert w.sort == "match"
    w.sort = "detection"


@pytest.mark.parametrize("kwargs, match", [
    ({"sae": 7}, r"sae must be an index in 0..3 \(one of \['relu"),
    ({"latent": 6}, "latent must be an index in 0..5, got 6."),
    ({"sort": "size"}, "sort must be one of"),
    ({"top_k": 0}, "top_k must be a count of contexts >= 1, got 0."),
    ({"offline_budget": -3}, "offline_budget must be a byte count"),
])
def test_bad_arguments(ds, kwargs, match):
    with pytest.raises(DataModelError, match=match):
        FeatureExplorer(ds, **kwargs)


def test_bad_datasets(ds):
    with pytest.raises(DataModelError, match="must be an xarray.Dataset, got DataArray"):
        FeatureExplorer(ds["activation"])
    with pytest.raises(DataModelError, match="needs data variable 'causal_effect'"):
        FeatureExplorer(ds.drop_vars("causal_effect"))
    with pytest.raises(DataModelError, match=r"\['activation'\] needs dims \('sae', 'sample', 'latent'\)"):
        FeatureExplorer(ds.assign(activation=ds["activation"].rename(latent="unit2")))
    with pytest.raises(DataModelError, match="needs coord 'token' on 'sample'"):
        FeatureExplorer(ds.drop_vars("token"))
    with pytest.raises(DataModelError, match="match_sae"):
        FeatureExplorer(ds.assign(match_sae=(("sae", "latent"), ds["match_latent"].values)))
    with pytest.raises(DataModelError, match="at least one sae, latent, sample and label"):
        FeatureExplorer(ds.isel(latent=slice(0, 0)))


def test_optional_variables_may_be_missing(ds):
    bare = ds.drop_vars(["match_latent", "match_sae", "decoder_top_tokens", "decoder_top_logits", "unit_detection",
                         "unit_causal_effect", "unit_kind", "dead_share", "clean_metric"])
    bare["match_cosine"][:] = np.nan
    w = FeatureExplorer(bare)
    a = S.unpack(w._saes["0"]["meta"], w._saes["0"]["data"])
    assert np.isnan(a["match_cosine"]).all() and (a["match_latent"] == -1).all()
    assert w._saes["0"]["decoder_tokens"] == [] and "decoder_logits" not in a
    s = S.unpack(w._info["summary_meta"], w._summary)
    assert (s["match_sae"] == -1).all() and "unit_best" not in s and w._info["scalars"] == ["fvu", "l0"]


def test_match_sae_by_name(ds):
    named = ds.assign_coords(sae=["a", "b", "c", "d"]).assign(match_sae=("sae", ["b", "a", "d", "zz"]))
    assert module.match_sae_index(named).tolist() == [1, 0, 3, -1]


def test_static_twin(ds):
    from workbench import charts

    chart = charts.feature_explorer(ds, sae=1, latent=3)
    scatter, bars = chart.hconcat
    df = scatter.data
    lat = df[df["kind"] != "unit"].set_index("latent")
    np.testing.assert_allclose(lat["causal"].values, ds["causal_effect"].isel(sae=1).values[lat.index], rtol=1e-6)
    np.testing.assert_allclose(lat["best"].values, ds["detection"].isel(sae=1).max("label").values[lat.index],
                               rtol=1e-6)
    assert list(lat.index[lat["kind"] == "selected"]) == [3]
    assert (df["kind"] == "unit").sum() == 3
    np.testing.assert_allclose(bars.data["score"].values, ds["detection"].isel(sae=1, latent=3).values, rtol=1e-6)
    assert len(charts.to_svg(chart)) > 1000
    with pytest.raises(DataModelError, match="latent must be an index in 0..5, got 9."):
        charts.feature_explorer(ds, latent=9)


SHIPPED = __import__("pathlib").Path(__file__).resolve().parent.parent / "data" / "sae" / "dyck2.nc"


@pytest.mark.skipif(not SHIPPED.exists(), reason="data/sae/dyck2.nc is not shipped yet")
def test_the_shipped_study_opens():
    """The shipped Dyck-2 SAE study fits the offline budget whole, and what travels is its numbers."""
    import workbench as wb

    ds = wb.load(SHIPPED)
    w = FeatureExplorer(ds)
    assert w._offline["complete"], w._offline  # an exported page explores every SAE and latent with no kernel
    assert len(w._latents) == ds.sizes["sae"] * ds.sizes["latent"]
    assert w._info["texts"] == list(pd.unique(ds["text"].values[np.lexsort((ds["position"].values,
                                                                            ds["string"].values))]))
    match = S.unpack(w._info["summary_meta"], w._summary)["match_sae"]
    for s in range(ds.sizes["sae"]):
        a = S.unpack(w._saes[str(s)]["meta"], w._saes[str(s)]["data"])
        det = ds["detection"].isel(sae=s).values.astype(np.float32)
        ok = ~np.isnan(det).all(1)
        np.testing.assert_array_equal(a["best"][ok], np.nanmax(det[ok], 1))
        np.testing.assert_array_equal(a["causal"], ds["causal_effect"].isel(sae=s).values.astype(np.float32))
        want = str(ds["match_sae"].values[s])
        assert (match[s] == -1) if want == "" else (str(ds["sae"].values[int(match[s])]) == want)
    # the best detector's contexts, recomputed
    best = ds["detection"].max("label", skipna=True).fillna(-1).values
    s, lat = (int(v) for v in np.unravel_index(np.argmax(best), best.shape))
    act = ds["activation"].isel(sae=s, latent=lat).values.astype(np.float32)
    got = w.contexts(s, lat)
    df = pd.DataFrame({"string": ds["string"].values, "act": act})
    peaks = df.groupby("string")["act"].max()
    assert [float(c["activation"].max()) for c in got] == sorted(peaks[peaks > 0].values, reverse=True)[:6]
