"""The shipped in-context study (data/incontext/): every file passes the data model and stays small, one walk
regenerated from its seed on the real Gemma-3-270M reproduces the shipped per-walk values, and the figures the README
and notebook 03 quote hold for the shipped data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench.analyses import incontext as ic
from workbench.studies import incontext as S
from workbench.data import validate_incontext

DATA = Path(__file__).resolve().parents[1] / "data" / "incontext"
FILES = sorted(DATA.glob("*.nc"))


def test_every_study_is_shipped_small_and_valid():
    assert sorted(p.stem for p in FILES) == sorted(S.STUDIES)
    assert sum(p.stat().st_size for p in FILES) < 6e6, "the shipped study should stay a few MB"
    for path in FILES:
        ds = validate_incontext(wb.load(path))
        assert ds.sizes["walk"] == S.N_WALKS and ds.sizes["position"] == S.LENGTH
        assert ds.attrs["window"] == ic.DEFAULT_WINDOW and "picked_layer" in ds.attrs
        assert ds.attrs["picked_layer"] == S.pick_layer(ds)


@pytest.fixture(scope="module")
def grid():
    return wb.load(DATA / "gemma3_grid.nc")


@pytest.mark.slow
def test_one_walk_regenerates_from_its_seed(grid):
    """Walk 5 of the Gemma-3 grid study, traced again from (seed 0, walk 5): the same walk, accuracy, per-walk energy
    ratio and Procrustes R^2 at every layer and context length, and the shipped float16 node means of its layer."""
    model = wb.load_model("gemma3-270m")
    g = wb.graphs.grid()
    k = 5
    walk = g.walk(S.LENGTH, seed=[S.SEED, k])
    np.testing.assert_array_equal(grid.walk_node.values[k], walk)
    out = ic.trace_walk(model, g, walk, None, grid.context.values, grid.attrs["window"])
    acc = (out["word_prob"] * g.adjacency[walk]).sum(1)
    np.testing.assert_allclose(grid.accuracy.values[k], acc, atol=1e-4)
    ratio, r2 = ic.per_walk_metrics(out["node_mean"], g)
    np.testing.assert_allclose(grid.energy_ratio_walk.values[k], ratio, atol=1e-4)
    np.testing.assert_allclose(grid.procrustes_r2_walk.values[k], r2, atol=1e-4)
    np.testing.assert_array_equal(grid.occurrences.values[k], out["counts"])


def test_gemma_learns_the_grid_in_context(grid):
    acc = grid.accuracy_mean.values
    assert acc[-400:].mean() >= 0.6 and acc[:50].mean() < 0.35
    layer = grid.attrs["picked_layer"]
    at = grid.sel(layer=layer)
    late = at.context >= 200
    good = late & (at.procrustes_r2 >= 0.8) & (at.energy_percentile < 1)
    assert bool(good.any()), "no T >= 200 with R^2 >= 0.8 and the energy ratio below its null's 1st percentile"
    # the energy ratio is below the null's 1st percentile exactly where the percentile says so
    q01 = at.energy_null.sel(quantile=0.01)
    assert bool(((at.energy_ratio < q01) == (at.energy_percentile < 1)).sel(context=at.context[late]).mean() > 0.9)


def test_smollm2_does_not_learn_the_walk():
    sm = wb.load(DATA / "smollm2_grid.nc")
    assert float(sm.word_mass.mean()) < 0.2
    assert sm.accuracy_mean.values[-400:].mean() < sm.accuracy_mean.values[:50].mean()
