"""The shipped POLCA studies (data/polca/addition_polca.nc and the planted positive control addition_planted.nc):
within the size limits, valid, every Table 1 row recomputed from its own approach_cluster labels, the POLCA and
exact-loss rows from its trajectories, its exact loss at the last step equal to the shipped zoo model's losses
(computed here with plain transformers), the planted group and its table recomputed from the texts, and the widget
opening both within the budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import workbench as wb
from workbench.analyses.polca import findings as F
from workbench.zoo import addition as A
from workbench.zoo import registry
from workbench.studies.polca import planted_path, planted_table, shipped_path
from workbench.zoo.tasks import addition as task


@pytest.fixture(scope="module")
def ds():
    return wb.load(shipped_path())


@pytest.fixture(scope="module")
def planted():
    return wb.load(planted_path())


def test_files_are_small_enough():
    zoo = registry.path("addition")
    sizes = {p.name: p.stat().st_size for p in [shipped_path(), planted_path(), *zoo.iterdir()]}
    assert max(sizes.values()) <= 5 * 1024 * 1024, sizes
    assert sum(sizes.values()) <= 12 * 1024 * 1024, sizes


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


def _counts(carry: np.ndarray, place: np.ndarray) -> bool:
    """The 10s/100s rule, written out again: more than 85% of the cluster's carry tokens are 10s or 100s ones."""
    return bool(carry.any() and (carry & np.isin(place, ["10s", "100s"])).sum() > 0.85 * carry.sum())


@pytest.mark.parametrize("which", ["natural", "planted"])
def test_every_table_row_recomputes_from_approach_cluster(which, ds, planted):
    data = ds if which == "natural" else planted
    carry, place = data.carry.values.astype(bool), data.place.values.astype(str)
    tau = float(data.attrs["tau"])
    for i, name in enumerate(data.approach.values.tolist()):
        labels, brk = data.approach_cluster.values[i], data.approach_break_step.values[i]
        homog, hidden = [], []
        for k in range(1 if name in ("exact loss", "change in exact loss") else labels.shape[0]):
            for c in sorted(int(x) for x in np.unique(labels[k]) if x >= 0):
                m = labels[k] == c
                hidden.append(brk[k, c] > tau)
                if _counts(carry[m], place[m]):
                    homog.append(carry[m].mean())
        assert len(hidden) == int(data.table_clusters.values[i]), name
        assert (max(homog) if homog else np.nan) == pytest.approx(float(data.table_homogeneity.values[i]),
                                                                   nan_ok=True), name
        assert (np.mean(hidden) if hidden else np.nan) == pytest.approx(float(data.table_hidden_share.values[i]),
                                                                         nan_ok=True), name
    np.testing.assert_array_equal(data.approach_cluster.values[list(data.approach.values).index("POLCA")],
                                  data.cluster.values)


@pytest.mark.parametrize("which", ["natural", "planted"])
def test_no_attribute_names_a_path_of_the_machine_that_made_it(which, ds, planted):
    data = ds if which == "natural" else planted
    settings = json.loads(data.attrs["settings"])
    assert all(c["source"].startswith("step_") for c in settings["checkpoints"])
    assert not any("/work/" in str(v) or "/tmp/" in str(v) for v in data.attrs.values())


def test_the_planted_group_recomputes_from_the_texts(planted):
    tens = np.array([(int(t[2]) + int(t[6]) >= 10) for t in planted.text.values.astype(str)])
    expected = tens & (planted.place.values.astype(str) == "10s")
    np.testing.assert_array_equal(planted.planted.values.astype(bool), expected)
    assert planted.planted.values[planted.planted.values.astype(bool)].size == int(expected.sum()) > 100
    assert planted.attrs["plant_mode"] in A.PLANT_MODES


def test_the_planted_group_learns_late_and_stays_hidden_in_the_mean(planted):
    """The planted tokens' exact loss in the file stays high until the plant and falls by drop_step; tau (from the
    mean exact loss) comes before the plant, so the group's late drop is hidden in the mean."""
    steps = planted.step.values
    group = planted.exact_loss.values[planted.planted.values.astype(bool)].mean(0)
    others = planted.exact_loss.values[~planted.planted.values.astype(bool)].mean(0)
    plant, drop, tau = planted.attrs["planted_step"], planted.attrs["drop_step"], planted.attrs["tau"]
    assert tau < plant <= drop < plant + 200
    before = group[steps < plant][-1]
    after = group[steps >= drop + 80][0]
    assert before > 0.3 and after < 0.5 * before
    assert others[steps < plant][-1] < 0.2 * group[0]  # the rest was learned before the plant
    assert F.flattening_step(planted.exact_loss.values.mean(0), steps) == tau


def test_the_planted_table_recomputes_from_the_file(planted):
    shipped = json.loads(planted.attrs["planted_table"])
    again = planted_table(planted)
    assert [r["approach"] for r in again] == planted.approach.values.tolist()
    for a, b in zip(shipped, again):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], nan_ok=True), (a["approach"], key)
    # the recovery figures of the best row, recomputed by hand
    row = max((r for r in again if "cluster" in r), key=lambda r: r["planted_recall"])
    a = planted.approach.values.tolist().index(row["approach"])
    rows = np.flatnonzero(planted.approach_direction.values[a] == row["direction"])
    m = planted.approach_cluster.values[a, rows[0]] == row["cluster"]
    p = planted.planted.values.astype(bool)
    assert row["planted_recall"] == pytest.approx((m & p).sum() / p.sum())
    assert row["carry_homogeneity"] == pytest.approx(planted.carry.values.astype(bool)[m].mean())


def test_widget_opens_the_planted_study_on_its_planted_label(planted):
    w = wb.LossClusters(planted, label="planted")
    assert w.label == "planted" and w._info["all_in_state"]
    assert w._info["categories"]["planted"] == ["False", "True"]


@pytest.mark.slow
def test_notebook_04_and_its_page_open_on_the_planted_run(tmp_path):
    """The exported page of notebook 04 (executed here) shows the LossClusters widget of the planted run first (its
    composition bars by ``planted``), and the natural run's after it."""
    import re
    from pathlib import Path

    from workbench.widgets.export import STATE_MIME, VIEW_MIME, export_notebook

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "04_hidden_breakthroughs.ipynb"
    text = export_notebook(nb, tmp_path / "04.html", execute_first=True).read_text()
    state = json.loads(re.search(rf'<script type="{re.escape(STATE_MIME)}">(.*?)</script>', text, re.S)
                       .group(1).replace("\\u003c", "<"))["state"]
    views = [json.loads(v.replace("\\u003c", "<"))["model_id"]
             for v in re.findall(rf'<script type="{re.escape(VIEW_MIME)}">(.*?)</script>', text, re.S)]
    loss = [m for m in views if "loss_clusters_default as default" in state[m]["state"].get("_esm", "")]
    assert len(loss) == 2, len(loss)
    first, second = (state[m]["state"] for m in loss)
    assert first["label"] == "planted" and second["label"] == "place"
    assert first["_info"]["tau"] == pytest.approx(float(wb.load(planted_path()).attrs["tau"]))
