"""LossClusters (Python side): what travels (binary, sizes, budget), quartiles and medians against numpy, selection
synced to the kernel, bad input; and the static Altair chart."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from polca_data import make_polca
from workbench.data import DataModelError
from workbench.widgets import _serialize as S
from workbench.widgets.loss_clusters import LossClusters, categorical_labels, cluster_curves, cluster_homogeneity


@pytest.fixture(scope="module")
def ds():
    return make_polca()


def test_defaults_and_labels(ds):
    w = LossClusters(ds)
    assert w.basis == 0 and w.label == "place" and w.cluster == -1 and w.selected_samples == []
    assert categorical_labels(ds) == {"place": ["1s", "10s", "100s", "1000s"], "carry": ["0", "1"],
                                      "digit": [str(d) for d in range(10)]}
    assert w._info["labels"] == ["place", "carry", "digit"]
    assert w._info["texts"][:4] == [ds.text.values[0]] * 4


def test_everything_travels_as_binary_and_fits_the_budget(ds):
    w = LossClusters(ds)
    assert w._info["all_in_state"] and sorted(w._vectors) == ["0", "1", "2"]
    assert _numeric_lists(w._info) == [] and _numeric_lists({k: v["meta"] for k, v in w._vectors.items()}) == []
    state = json.dumps({k: v for k, v in w._info.items() if k != "texts"})
    summary = S.unpack(w._info["summary_meta"], w._summary)
    np.testing.assert_array_equal(summary["steps"], ds.step.values)
    np.testing.assert_allclose(summary["mean_pl"], ds.projected_loss.values.mean(1), rtol=1e-5, atol=1e-6)
    for k, p in w._vectors.items():
        assert isinstance(p["data"], bytes) and isinstance(p["traj"], bytes)
        assert len(p["traj"]) == ds.sizes["sample"] * ds.sizes["step"]
    # JSON carries no numeric lists (texts and category names only)
    assert "projected" not in state and len(state) < 4000
    small = LossClusters(ds, state_budget=10_000)
    assert not small._info["all_in_state"] and list(small._vectors) == ["0"]
    small.basis = 1  # the kernel sends only the newly selected vector
    assert list(small._vectors) == ["1"]


def _numeric_lists(obj, key=""):
    """Lists of numbers in a JSON-able value, other than array shapes (the metadata beside a buffer)."""
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in _numeric_lists(v, k)]
    if isinstance(obj, list):
        if key != "shape" and any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj):
            return [key]
        return [x for v in obj for x in _numeric_lists(v, key)]
    return []


def test_vector_payload_matches_numpy(ds):
    w = LossClusters(ds)
    for b in (0, 1):
        p = w._vectors[str(b)]
        arrays = S.unpack(p["meta"], p["data"])
        labels = ds.cluster.values[b]
        np.testing.assert_array_equal(arrays["cluster"], labels)
        for c in range(int(labels.max()) + 1):
            traj = ds.projected_loss.values[b][labels == c].astype(np.float64)
            np.testing.assert_allclose(arrays["median"][c], np.median(traj, axis=0), atol=1e-6)
            np.testing.assert_allclose(arrays["q1"][c], np.quantile(traj, 0.25, axis=0), atol=1e-6)
            np.testing.assert_allclose(arrays["q3"][c], np.quantile(traj, 0.75, axis=0), atol=1e-6)
            np.testing.assert_allclose(arrays["exact_median"][c],
                                       np.median(ds.exact_loss.values[labels == c], axis=0), atol=1e-6)
            assert arrays["sizes"][c] == (labels == c).sum()
        codes = np.frombuffer(p["traj"], np.uint8).reshape(ds.sizes["sample"], ds.sizes["step"])
        lo, hi = p["traj_meta"]["lo"], p["traj_meta"]["hi"]
        decoded = lo + codes / 254 * (hi - lo)
        np.testing.assert_allclose(decoded, ds.projected_loss.values[b], atol=(hi - lo) / 254)


def test_selection_is_synced(ds):
    w = LossClusters(ds, basis=1, label="carry", cluster=0)
    expected = np.flatnonzero(ds.cluster.values[1] == 0).tolist()
    assert w.selected_samples == expected
    w.cluster = 1
    assert w.selected_samples == np.flatnonzero(ds.cluster.values[1] == 1).tolist()
    w.basis = 2  # the dropped vector has no clusters: the selection clears
    assert w.cluster == -1 and w.selected_samples == []


def test_homogeneity_per_label(ds):
    c = ds.cluster.values[1].astype(int)
    carry = ds.carry.values.astype(np.float32)
    h = cluster_homogeneity(c, carry, ["0", "1"])
    for k in range(len(h)):
        assert h[k] == pytest.approx(carry[c == k].mean())
    place = np.array([["1s", "10s", "100s", "1000s"].index(p) for p in ds.place.values], np.float32)
    hp = cluster_homogeneity(c, place, ["1s", "10s", "100s", "1000s"])
    for k in range(len(hp)):
        assert hp[k] == pytest.approx(np.bincount(place[c == k].astype(int)).max() / (c == k).sum())
    q = cluster_curves(np.arange(12.0).reshape(4, 3), np.array([0, 0, 1, -1]))
    np.testing.assert_allclose(q["median"][0], [1.5, 2.5, 3.5])
    assert q["median"].shape == (2, 3)


def test_bad_input(ds):
    with pytest.raises(DataModelError, match=r"POLCA needs data variable 'projected_loss'"):
        LossClusters(ds.drop_vars("projected_loss"))
    with pytest.raises(DataModelError, match=r"basis=7 is out of range: the Dataset has 3 vector\(s\)"):
        LossClusters(ds, basis=7)
    with pytest.raises(DataModelError, match=r"label='colour' is not a categorical sample coordinate"):
        LossClusters(ds, label="colour")
    w = LossClusters(ds)
    import traitlets

    with pytest.raises(traitlets.TraitError, match=r"cluster=5 is out of range: vector 0 has 2 cluster"):
        w.cluster = 5
    with pytest.raises(DataModelError, match="needs at least one vector"):
        LossClusters(ds.isel(step=[0]))


def test_static_chart_draws(ds):
    from workbench import charts

    chart = charts.loss_clusters(ds, basis=1, label="carry")
    png = charts.to_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    svg = charts.to_svg(chart)
    assert "vector #1" in svg
    with pytest.raises(DataModelError, match="basis=9 is out of range"):
        charts.loss_clusters(ds, basis=9)
