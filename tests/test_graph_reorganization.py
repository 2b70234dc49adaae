"""GraphReorganization's Python side: what travels (decoded independently) equals the Dataset, the offline bundle
follows the byte budget, another layer's sweep is sent when picked, and bad input gets a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

from workbench.analyses import incontext as ic
from workbench.data import DataModelError
from workbench.widgets._serialize import unpack
from workbench.zoo.tasks import graphs as G


@pytest.fixture(scope="module")
def study():
    g = G.grid()
    toy = ic.mixing_toy(g, n_walks=3, length=400, contexts=[20, 50, 100, 200, 400], n_perm=200)
    # a second, unmixed toy as a stand-in "control", so the widget sees controls too
    flat = ic.mixing_toy(g, n_walks=2, length=400, contexts=[20, 50, 100, 200, 400], n_perm=50, mix=0.0)
    return ic.with_controls(toy, unmixed=flat)


def _widget(ds, **kw):
    from workbench.widgets.graph_reorganization import GraphReorganization

    return GraphReorganization(ds, **kw)


def test_sweep_payload_decodes_to_the_dataset(study):
    w = _widget(study)
    assert w.layer == 0 and w.context == 400 and w.components == [0, 1] and w.color_by == "row"
    sweep = unpack(w._sweep_meta, w._sweep)
    np.testing.assert_array_equal(sweep["pca"], study.pca.sel(layer=0).transpose("context", "node", "component").values)
    np.testing.assert_array_equal(sweep["energy_ratio"], study.energy_ratio.sel(layer=0).values.astype(np.float32))
    np.testing.assert_array_equal(sweep["null"], study.energy_null.sel(layer=0).values.astype(np.float32))
    np.testing.assert_array_equal(sweep["control_procrustes_r2"],
                                  study.control_procrustes_r2.sel(layer=0).values.astype(np.float32))
    static = unpack(w._static_meta, w._static)
    np.testing.assert_array_equal(static["adjacency"], study.adjacency.values)
    assert static["contexts"].tolist() == [20, 50, 100, 200, 400]
    assert w._static_meta["words"] == list(G.GRID_WORDS) and w._static_meta["controls"] == ["unmixed"]
    np.testing.assert_allclose(static["occurrences"], study.occurrences.mean("walk").values, rtol=1e-6)


def test_every_layer_is_in_the_saved_state_under_the_budget(study):
    w = _widget(study)
    assert set(w._bundle_meta) == {"0"}
    entry = w._bundle_meta["0"]
    from_bundle = unpack(entry["meta"], memoryview(w._bundle)[entry["offset"]:])
    np.testing.assert_array_equal(from_bundle["pca"], unpack(w._sweep_meta, w._sweep)["pca"])
    none = _widget(study, offline_budget=0)
    assert none._bundle_meta == {} and none._bundle == b""


def test_picking_a_layer_sends_its_sweep(tiny_gemma_study):
    ds = tiny_gemma_study
    w = _widget(ds, layer=1, offline_budget=0)
    first = unpack(w._sweep_meta, w._sweep)
    w.layer = 2
    assert w._sweep_meta["layer"] == 2
    np.testing.assert_array_equal(unpack(w._sweep_meta, w._sweep)["procrustes_r2"],
                                  ds.procrustes_r2.sel(layer=2).values.astype(np.float32))
    assert not np.array_equal(first["pca"], unpack(w._sweep_meta, w._sweep)["pca"])
    bundled = _widget(ds)
    assert sorted(map(int, bundled._bundle_meta)) == [int(v) for v in ds.layer.values]


def test_default_layer_has_the_best_mean_r2(tiny_gemma_study):
    from workbench.widgets.graph_reorganization import default_layer

    best = int(tiny_gemma_study.procrustes_r2.mean("context").idxmax("layer"))
    assert default_layer(tiny_gemma_study) == best
    assert default_layer(tiny_gemma_study.assign_attrs(picked_layer=0)) == 0


def test_bad_input(study):
    with pytest.raises(DataModelError, match="needs data variable 'pca'"):
        _widget(study.drop_vars("pca"))
    with pytest.raises(DataModelError, match=r"layer must be one of the Dataset's layers \[0\], got 3"):
        _widget(study, layer=3)
    with pytest.raises(DataModelError, match=r"context must be a context length in 1..400"):
        _widget(study, context=401)
    assert _widget(study, context=77).context == 100  # the nearest on a log scale: |log 77/100| < |log 77/50|
    with pytest.raises(DataModelError, match="two different component indices"):
        _widget(study, components=(1, 1))
    with pytest.raises(DataModelError, match="color_by must be one of"):
        _widget(study, color_by="ring")
    with pytest.raises(DataModelError, match="offline_budget"):
        _widget(study, offline_budget=-1)
    w = _widget(study)
    with pytest.raises(traitlets.TraitError, match="context must be a context length"):
        w.context = 0
    assert w.context == 400, "a refused value leaves the widget as it was"
    w.context = 21
    assert w.context == 20


@pytest.fixture(scope="module")
def tiny_gemma_study():
    from tiny_models import tiny_word_model, word_tokenizer
    from workbench import load_model

    g = G.grid()
    model = load_model(tiny_word_model("gemma3", g.n), tokenizer=word_tokenizer(g.words))
    return ic.study(model, g, n_walks=2, length=200, contexts=[25, 50, 100, 200], n_perm=100, progress=False)
