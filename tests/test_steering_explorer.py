"""SteeringExplorer without a browser: what travels to the front end (packed buffers decoded and compared with the
synthetic Dataset of tests/steering_data.py), the offline budget (every layer's and prompt's generations in the state,
or only the picked one from the kernel), trait checks, one-sentence errors for bad Datasets, and the static twin
charts.steering_curve. The page itself is tested in tests/browser/test_steering_explorer_lab.py."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import traitlets

from steering_data import COEFS, PROMPTS, make_steering
from workbench.data import DataModelError
from workbench.widgets import SteeringExplorer
from workbench.widgets import _serialize as S
from workbench.widgets import steering_explorer as module


@pytest.fixture(scope="module")
def ds():
    return make_steering()


@pytest.fixture(scope="module")
def layered():
    return make_steering(layers=3)


def test_doctests():
    assert doctest.testmod(module).failed == 0


def test_defaults(ds, layered):
    w = SteeringExplorer(ds)
    assert w.coef == 16.0 and w.prompt == 0  # the largest coefficient
    assert w.layer == 6 and w._info["layer_dim"] is False  # attr layer names the one layer
    assert w._info["prompts"] == PROMPTS and w._info["coefs"] == COEFS
    assert w._offline["complete"] and w._offline["texts"] == "state"
    assert sorted(w._texts) == [f"0:{p}" for p in range(3)]
    w3 = SteeringExplorer(layered, coef=-4, layer=3, prompt=2)
    assert (w3.coef, w3.layer, w3.prompt) == (-4.0, 3, 2)
    assert w3._info["layers"] == [2, 3, 4] and w3._info["layer_dim"] is True
    assert len(w3._texts) == 9


def test_numbers_travel_as_binary(ds):
    w = SteeringExplorer(ds)
    state = w.get_state()
    assert isinstance(state["_summary"], (bytes, memoryview)) and len(state["_summary"]) > 0
    for entry in w._texts.values():
        assert isinstance(entry["data"], bytes)
        assert not any(isinstance(v, float) for v in entry["meta"]["arrays"].values())
    json.dumps(w._info)  # names and strings only: no numpy scalars


@pytest.mark.parametrize("layers", [None, 3])
def test_each_generation_is_the_dataset(layers):
    d = make_steering(layers=layers)
    w = SteeringExplorer(d)
    L = d.sizes.get("layer", 1) if layers else 1
    for li in range(L):
        for p in range(len(PROMPTS)):
            entry = w._texts[f"{li}:{p}"]
            arrays = S.unpack(entry["meta"], entry["data"])
            sub = d.isel(layer=li) if layers else d
            for c in range(len(COEFS)):
                want_text = str(sub["text"].values[c, p])
                assert entry["text"][c] == want_text
                toks = [str(t) for t in sub["token"].values[c, p] if str(t)]
                assert entry["tokens"][c] == toks
                assert "".join(entry["tokens"][c]) == want_text  # the synthetic texts are their tokens
                n = len(toks)
                np.testing.assert_array_equal(arrays["logprob"][c, :n], sub["logprob"].values[c, p, :n])
                assert np.isnan(arrays["logprob"][c, n:]).all()
                np.testing.assert_array_equal(arrays["touched"][c, :n] > 0, sub["touched"].values[c, p, :n])
            # cut to the longest generation of this prompt (3 + up to 3 words), not the Dataset's 8 steps
            assert arrays["touched"].shape[1] == max(len([t for t in r if str(t)]) for r in sub["token"].values[:, p])


def test_summary_is_the_dataset(ds, layered):
    s = S.unpack(SteeringExplorer(ds)._info["summary_meta"], SteeringExplorer(ds)._summary)
    np.testing.assert_array_equal(s["coefs"], COEFS)
    for j, b in enumerate(("steer", "random", "prompt")):
        np.testing.assert_allclose(s["score"][0, j], ds["score"].sel(baseline=b).values, rtol=1e-6)
        np.testing.assert_allclose(s["effect"][0, j], ds["effect"].sel(baseline=b).values, rtol=1e-6)
    # the fluency guard: highest unsteered, lower at both ends
    fl = s["fluency"][0]
    assert fl[COEFS.index(0.0)] == fl.max() and fl[0] < fl[COEFS.index(0.0)] and fl[-1] < fl[COEFS.index(0.0)]
    np.testing.assert_allclose(s["random_low"][0], ds["random_low"].values)
    np.testing.assert_allclose(s["sparsity_effect"], ds["sparsity_effect"].transpose("ranking", "sparsity").values)
    np.testing.assert_allclose(s["ov_weight"], ds["ov_weight"].values)
    np.testing.assert_array_equal(s["prompt_touched"] > 0, ds["prompt_touched"].values)
    w = SteeringExplorer(layered)
    s3 = S.unpack(w._info["summary_meta"], w._summary)
    assert s3["score"].shape == (3, 3, len(COEFS))
    np.testing.assert_allclose(s3["score"][2, 0], layered["score"].isel(layer=2).sel(baseline="steer").values)
    np.testing.assert_allclose(s3["random_high"][1], layered["random_high"].values)  # no layer dim: repeated
    assert w._info["ov"]["tokens"][1] == [" happy", " love", " fun"]
    assert w._info["ov"]["layer"] == [3, 5] and w._info["ov"]["head"] == [1, 7]
    assert w._info["rankings"] == ["magnitude", "attribution"] and w._info["frozen_share"] == 0.7


def test_a_missing_baseline_is_nan(ds):
    w = SteeringExplorer(ds.sel(baseline=["steer", "random"]))
    s = S.unpack(w._info["summary_meta"], w._summary)
    assert np.isnan(s["score"][0, 2]).all() and np.isfinite(s["score"][0, 0]).all()


def test_budget_decides_what_is_saved(layered):
    full = SteeringExplorer(layered)
    need = full._offline["bytes"]
    assert SteeringExplorer(layered, offline_budget=need)._offline["texts"] == "state"
    lean = SteeringExplorer(layered, offline_budget=need - 1, layer=4, prompt=1)
    assert lean._offline["texts"] == "kernel" and not lean._offline["complete"]
    assert "every layer's and prompt's generations is" in lean._offline["missing"]
    assert list(lean._texts) == ["2:1"]
    lean.prompt = 2  # the kernel sends the picked generations
    assert list(lean._texts) == ["2:2"]
    lean.layer = 2
    assert list(lean._texts) == ["0:2"]
    assert lean._texts["0:2"]["text"] == [str(t) for t in layered["text"].isel(layer=0).values[:, 2]]
    lean.coef = 2.0  # every coefficient of the picked prompt is already there
    assert list(lean._texts) == ["0:2"]


def test_traits_are_checked(ds):
    w = SteeringExplorer(ds)
    for name, bad in (("coef", 3.0), ("coef", "4"), ("layer", 3), ("prompt", 3), ("prompt", -1)):
        with pytest.raises(traitlets.TraitError):
            setattr(w, name, bad)
    w.coef = 4
    assert w.coef == 4.0


@pytest.mark.parametrize("kwargs, match", [
    ({"coef": 5.0}, "not one of the Dataset's coefficients"),
    ({"layer": 2}, "layer must be one of"),
    ({"prompt": 7}, "prompt must be an index in 0..2"),
    ({"offline_budget": -3}, "offline_budget must be a byte count"),
])
def test_bad_arguments(ds, kwargs, match):
    with pytest.raises(DataModelError, match=match):
        SteeringExplorer(ds, **kwargs)


def test_bad_datasets(ds):
    with pytest.raises(DataModelError, match="needs data variable 'score'"):
        SteeringExplorer(ds.drop_vars("score"))
    with pytest.raises(DataModelError, match="must be numeric and hold 0"):
        SteeringExplorer(ds.isel(coef=[0, 1, 3]))
    with pytest.raises(DataModelError, match="must be an xarray.Dataset"):
        SteeringExplorer(ds["score"])
    with pytest.raises(DataModelError, match="must be bool"):
        SteeringExplorer(ds.assign(touched=ds["touched"].astype(int)))
    for err in (pytest.raises(DataModelError),):
        with err as e:
            SteeringExplorer(ds.assign_coords(baseline=["steer", "random", "other"]))
        assert str(e.value).count(". ") == 0 and str(e.value).endswith(".")  # one sentence


def test_static_chart(ds, layered):
    from workbench import charts

    chart = charts.steering_curve(ds)
    df = chart.layer[0].data
    steer = df[df.baseline == "steer"].set_index("coef")["score"]
    np.testing.assert_allclose(steer.loc[COEFS].values, np.tanh(np.array(COEFS) / 6.0), rtol=1e-6)
    spec = chart.to_dict()
    assert "Steering · sentiment · layer 6" == spec["title"]["text"]
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert "area" in marks and "rule" in marks and "line" in marks  # band, prompt baseline, curves
    three = charts.steering_curve(layered, layer=4).layer[0].data
    got = three[three.baseline == "steer"].set_index("coef")["score"].loc[COEFS].values
    np.testing.assert_allclose(got, np.tanh(np.array(COEFS) / 6.0) * 1.4, rtol=1e-5)
    assert charts.to_png(chart)[:8] == b"\x89PNG\r\n\x1a\n"
    assert charts.to_svg(chart).lstrip().startswith("<svg")
    with pytest.raises(DataModelError, match="not one of the Dataset's layers"):
        charts.steering_curve(layered, layer=9)
    with pytest.raises(DataModelError, match="needs a Dataset with a 'layer' dim"):
        charts.steering_curve(ds, layer=6)


def test_a_dataset_without_tokens_still_shows_its_texts(ds):
    lean = ds.drop_vars(["token", "logprob", "prompt_token", "prompt_touched"])
    w = SteeringExplorer(lean)
    entry = w._texts["0:1"]
    assert entry["tokens"] == [[] for _ in COEFS]
    assert entry["text"] == [str(t) for t in ds["text"].values[:, 1]]
    assert S.unpack(entry["meta"], entry["data"])["touched"].shape == (len(COEFS), ds.sizes["step"])
    assert w._info["prompts"] == PROMPTS and w._info["prompt_tokens"] == []


def test_repeated_coefs_are_refused(ds):
    twice = ds.isel(coef=[2, 2])
    with pytest.raises(DataModelError, match="must not repeat"):
        SteeringExplorer(twice)
