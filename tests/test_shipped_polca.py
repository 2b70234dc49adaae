"""The shipped POLCA study (data/polca/addition_polca.nc): within the size limits, valid, its Table 1 rows for POLCA
and the exact loss recomputed from its own clusters and trajectories, its exact loss at the last step equal to the
shipped zoo model's losses (computed here with plain transformers), and the widget opening it within the budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import workbench as wb
from workbench.analyses.polca import findings as F
from workbench.zoo import addition as A
from workbench.zoo import registry
from workbench.studies.polca import shipped_path
from workbench.zoo.tasks import addition as task


@pytest.fixture(scope="module")
def ds():
    return wb.load(shipped_path())


def test_files_are_small_enough():
    zoo = registry.path("addition")
    sizes = {p.name: p.stat().st_size for p in [shipped_path(), *zoo.iterdir()]}
    assert max(sizes.values()) <= 5 * 1024 * 1024, sizes
    assert sum(sizes.values()) <= 10 * 1024 * 1024, sizes


def test_valid_and_consistent(ds):
    wb.validate_polca(ds)
    assert ds.sizes["sample"] == 4 * json.loads(ds.attrs["study_settings"])["problems"]
    assert np.all(ds.projected_loss.isel(step=0).values == 0)
    keep_v = F.vector_filter(ds.projected_loss.values.astype(np.float64))
    assert ds.kept.values.tolist() == keep_v.tolist()
    assert np.all(ds.cluster.values[~keep_v] == F.FILTERED)
    texts = ds.text.values
    assert all(t[s] == str(d) for t, s, d in zip(texts, ds.target_start.values, ds.digit.values))


def test_table_rows_recompute_from_the_shipped_data(ds):
    steps, delta, tau = ds.step.values, ds.attrs["delta"], ds.attrs["tau"]
    carry, place = ds.carry.values.astype(bool), ds.place.values.astype(str)
    pl = ds.projected_loss.values.astype(np.float64)
    breaks = np.stack([F.break_steps(pl[b], steps, delta) for b in range(ds.sizes["basis"])])
    polca = F.summarize(F.cluster_stats(ds.cluster.values, breaks, tau, carry, place))
    exact_breaks = F.break_steps(ds.exact_loss.values.astype(np.float64), steps, delta)
    exact = F.summarize(F.cluster_stats(ds.exact_cluster.values[None], exact_breaks[None], tau, carry, place))
    table = ds.table_homogeneity.to_series()
    hidden = ds.table_hidden_share.to_series()
    assert polca["max_homogeneity"] == pytest.approx(table["POLCA"], nan_ok=True)
    assert polca["hidden_share"] == pytest.approx(hidden["POLCA"], nan_ok=True)
    assert exact["max_homogeneity"] == pytest.approx(table["exact loss"], nan_ok=True)
    assert exact["hidden_share"] == pytest.approx(hidden["exact loss"], nan_ok=True)
    # the clusters themselves: HDBSCAN on a kept vector's stored trajectories gives the stored labels again
    b = int(np.flatnonzero(ds.kept.values)[0])
    keep = F.sample_filter(pl)[b]
    labels = F._ordered(F.hdbscan_labels(pl[b, keep], ds.attrs["min_cluster_size"], ds.attrs["min_samples"]),
                        pl[b, keep])
    np.testing.assert_array_equal(labels, ds.cluster.values[b][keep])


def test_exact_loss_matches_the_shipped_model(ds):
    import transformers as T

    model = T.AutoModelForCausalLM.from_pretrained(registry.path("addition"))
    probs = A.validation_problems(ds.sizes["sample"] // 4)
    ids = torch.as_tensor(task.encode(probs))
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, list(task.TARGET_POSITIONS)]
    ref = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, list(task.ANSWER_TOKENS)],
                                            reduction="none").reshape(-1).numpy()
    assert int(ds.step.values[-1]) == json.loads((registry.path("addition") / "training.json").read_text())["step"]
    np.testing.assert_allclose(ds.exact_loss.values[:, -1], ref, atol=1e-4, rtol=1e-3)


def test_widget_opens_the_study_with_every_vector_in_state(ds):
    from workbench.widgets._serialize import MAX_MESSAGE_BYTES

    w = wb.LossClusters(ds)
    assert w._info["all_in_state"]
    size = len(w._summary) + sum(len(p["data"]) + len(p["traj"]) for p in w._vectors.values())
    assert size < MAX_MESSAGE_BYTES
