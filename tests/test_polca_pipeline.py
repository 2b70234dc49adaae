"""POLCA end to end on real checkpoints of a tiny addition model trained here, on a real Dask LocalCluster: the
Dataset against independent computations (plain transformers losses, a per-sample autograd loop, reverse-mode
curvature), a failed checkpoint and its re-run, a SIGKILLed worker, and every bad input's one-sentence error."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest
import torch
import transformers as T

import workbench
from workbench.analyses.polca import pipeline as P
from workbench.analyses.polca import findings as F
from workbench.analyses.polca.gradients import FlatModel, project_loop, tokenize_ids
from workbench.zoo import addition as A
from workbench.zoo.tasks import addition as task
from workbench.zoo.train import TrainConfig, seeded, train

STEPS, EVERY = 30, 5


def _train(out, n_embd=16, steps=STEPS, every=EVERY):
    model = seeded(lambda: A.build_model(n_layer=1, n_embd=n_embd, n_head=2), 0)
    cfg = TrainConfig(steps=steps, batch_size=16, lr=1e-2, checkpoint_steps=tuple(range(0, steps + 1, every)))
    res = train(model, lambda m, ids: A.answer_loss(m, ids), A.sampler([]), cfg, out, task.build_tokenizer(),
                progress=False)
    return [res.checkpoints[s] for s in sorted(res.checkpoints)]


def _samples(n, seed):
    probs = task.problems(n, seed)
    table = task.answer_table(probs)
    return [P.Sample(p.text(), task.TARGET_POSITIONS) for p in probs], {
        "place": table["place"].astype(object), "carry": table["carry"].astype(np.int8)}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory, client):
    base = tmp_path_factory.mktemp("polca")
    folders = _train(base / "ckpt")
    samples, labels = _samples(12, seed=1)
    hessian, _ = _samples(8, seed=2)
    root = base / "study"
    ds = P.polca(folders, samples, root, hessian_samples=hessian, basis_every=10, labels=labels, n_lca=3,
                 curvature_samples=4, client=client, progress=False)
    return {"folders": folders, "samples": samples, "labels": labels, "hessian": hessian, "root": root, "ds": ds}


def test_dataset_shape_and_data_model(run):
    ds = run["ds"]
    workbench.data.validate_polca(ds)
    assert ds.projected_loss.dims == ("basis", "sample", "step")
    assert ds.sizes["basis"] == 4 and ds.sizes["sample"] == 48 and ds.sizes["step"] == 7
    assert ds.found_at.values.tolist() == [0, 10, 20, 30]
    assert ds.step.values.tolist() == list(range(0, STEPS + 1, EVERY))
    assert np.all(ds.projected_loss.isel(step=0).values == 0)
    assert ds.place.values.tolist()[:4] == ["1000s", "100s", "10s", "1s"]
    starts = ds.target_start.values
    assert starts[:4].tolist() == [8, 9, 10, 11] and np.all(ds.target_end.values == starts + 1)  # the answer digits
    assert set(np.unique(ds.cluster.values)) <= set(range(-2, 48))
    assert ds.approach.values.tolist() == list(P.METHODS)
    np.testing.assert_equal(float(ds.table_homogeneity.sel(approach="POLCA")),  # .sel works on the dim
                            ds.table_homogeneity.values[list(P.METHODS).index("POLCA")])
    saved = workbench.load(run["root"] / "polca.nc")
    np.testing.assert_array_equal(saved.projected_loss.values, ds.projected_loss.values)
    settings = json.loads(ds.attrs["settings"])  # checkpoints named by their folder, never by this machine's path
    assert [c["source"] for c in settings["checkpoints"]] == [f.name for f in run["folders"]]
    assert str(run["root"].parent) not in json.dumps(dict(ds.attrs))


def test_every_table_row_recomputes_from_approach_cluster(run):
    """approach_cluster / approach_break_step hold every Table 1 approach's clusters: each row's figures follow from
    them and the labels alone; POLCA's and the exact loss's rows are the Dataset's own cluster variables."""
    ds = run["ds"]
    assert ds.approach_cluster.dims == ("approach", "basis", "sample")
    assert ds.approach_break_step.dims == ("approach", "basis", "cluster_id")
    a = list(P.METHODS)
    np.testing.assert_array_equal(ds.approach_cluster.values[a.index("POLCA")], ds.cluster.values)
    for name in ("exact loss", "change in exact loss"):  # one clustering, repeated along basis
        rows = ds.approach_cluster.values[a.index(name)]
        assert np.all(rows == rows[0])
    np.testing.assert_array_equal(ds.approach_cluster.values[a.index("exact loss"), 0], ds.exact_cluster.values)
    carry, place = ds.carry.values.astype(bool), ds.place.values.astype(str)
    for i, name in enumerate(a):
        labels, brk = ds.approach_cluster.values[i], ds.approach_break_step.values[i]
        if name in ("exact loss", "change in exact loss"):
            labels, brk = labels[:1], brk[:1]
        stats = []
        for k in range(labels.shape[0]):
            for c in sorted(int(x) for x in np.unique(labels[k]) if x >= 0):
                m = labels[k] == c
                stats.append(F.ClusterStats(k, c, int(m.sum()), float(brk[k, c]), bool(brk[k, c] > ds.attrs["tau"]),
                                            float(carry[m].mean()), 0.0, 0.0,
                                            bool(carry[m].any() and (carry[m] & np.isin(place[m], ["10s", "100s"])).sum()
                                                 > 0.85 * carry[m].sum())))
        s = F.summarize(stats)
        assert s["n_clusters"] == int(ds.table_clusters.values[i]), name
        assert s["max_homogeneity"] == pytest.approx(float(ds.table_homogeneity.values[i]), nan_ok=True), name
        assert s["hidden_share"] == pytest.approx(float(ds.table_hidden_share.values[i]), nan_ok=True), name


def test_exact_loss_matches_plain_transformers(run):
    ds = run["ds"]
    tok = task.build_tokenizer()
    ids = torch.tensor([tok(s.text)["input_ids"] for s in run["samples"]])
    for j, folder in enumerate(run["folders"]):
        m = T.AutoModelForCausalLM.from_pretrained(folder)
        with torch.no_grad():
            logits = m(input_ids=ids).logits[:, list(task.TARGET_POSITIONS)]
        ref = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, list(task.ANSWER_TOKENS)],
                                                reduction="none").reshape(-1)
        np.testing.assert_allclose(ds.exact_loss.values[:, j], ref.numpy(), atol=1e-5)


def test_projected_loss_matches_a_per_sample_loop(run):
    """Rebuild projected_loss from scratch: gradients by a per-sample autograd loop, coordinates <b, theta>, and the
    curvature b^T H b by reverse-over-reverse autograd on the curvature sample."""
    ds, root = run["ds"], run["root"]
    basis = workbench.load(root / "basis.nc")
    b = torch.as_tensor(basis.polca_vectors.values)
    tok = task.build_tokenizer()
    toks = tokenize_ids([tok(s.text)["input_ids"] for s in run["samples"]], [list(s.positions) for s in run["samples"]])
    h_ids = [tok(s.text)["input_ids"] for s in run["hessian"][:4]]
    d, c, lam = [], [], []
    for folder in run["folders"]:
        fm = FlatModel(T.AutoModelForCausalLM.from_pretrained(folder))
        theta = fm.flat()
        d.append(project_loop(fm, theta, toks, b).double().numpy())
        c.append((b.double() @ theta.double()).numpy())
        leaf = theta.clone().requires_grad_(True)
        logits = fm.logits(leaf, torch.tensor(h_ids), None)[:, list(task.TARGET_POSITIONS)]
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), torch.tensor(h_ids)[:, list(task.ANSWER_TOKENS)])
        (g,) = torch.autograd.grad(loss, leaf, create_graph=True)
        lam.append([float(torch.autograd.grad(g @ v, leaf, retain_graph=True)[0] @ v) for v in b])
    d, c, lam = np.stack(d), np.stack(c), np.array(lam)
    np.testing.assert_allclose(ds.curvature.values.T, lam, rtol=1e-3, atol=1e-5)
    dtheta, dg = np.diff(c, axis=0), np.diff(d, axis=0)
    den = dg.mean(2, keepdims=True)
    predicted = lam[:-1, :, None] * dtheta[:, :, None]  # the guard: the ratio within 10x of the trapezoid value
    second = np.where(10 * np.abs(den) >= np.abs(predicted),
                      0.5 * lam[:-1, :, None] * dtheta[:, :, None] ** 2 * dg / den, 0.5 * dtheta[:, :, None] * dg)
    terms = d[:-1] * dtheta[:, :, None] + second
    expected = np.concatenate([np.zeros((1, *terms.shape[1:])), np.cumsum(terms, 0)]).transpose(1, 2, 0)
    np.testing.assert_allclose(ds.projected_loss.values, expected, atol=2e-4, rtol=1e-3)
    assert np.abs(expected).max() > 1e-2


def test_clusters_follow_the_documented_rules(run):
    ds = run["ds"]
    pl = ds.projected_loss.values.astype(np.float64)
    keep_v, keep_s = F.vector_filter(pl), F.sample_filter(pl)
    assert ds.kept.values.tolist() == keep_v.tolist()
    cl = ds.cluster.values
    assert np.all(cl[~keep_v] == F.FILTERED)
    assert np.all((cl[keep_v] == F.FILTERED) == ~keep_s[keep_v])
    for b in range(ds.sizes["basis"]):
        for c in range(int(cl[b].max()) + 1):
            brk = F.break_steps(pl[b][cl[b] == c], ds.step.values, ds.attrs["delta"])
            assert ds.break_step.values[b, c] == pytest.approx(brk.mean())


def test_failed_checkpoint_is_reported_kept_and_rerun(run, tmp_path, client):
    folders = [tmp_path / "ckpt" / f.name for f in run["folders"]]
    for src, dst in zip(run["folders"], folders):
        shutil.copytree(src, dst)
    weights = folders[3] / "model.safetensors"
    good = weights.read_bytes()
    root = tmp_path / "study"
    P.prepare(root, P.checkpoints_from(folders), run["samples"], run["hessian"], run["labels"],
              P.Settings([{"step": s, "source": str(f.resolve()), "revision": None}
                          for s, f in zip(range(0, STEPS + 1, EVERY), folders)], [0, 10, 20, 30], n_random=4,
                         n_lca=3, curvature_samples=4, curvature_every=2))
    P.make_basis(root, progress=False)
    weights.write_bytes(b"not a safetensors file")  # breaks after the shape check, like a disk error mid-run
    status = P.decompose(root, client=client, progress=False)
    assert status[15] == "failed" and sum(v == "done" for v in status.values()) == 6
    assert list(P.failed(root)) == [15] and "safetensors" in P.failed(root)[15].lower()
    with pytest.raises(P.PolcaRunError, match=r"1 of 7 checkpoints failed \(step 15: .+\); the finished ones are kept"):
        P._raise_failures(root, status)
    before = P.step_path(root, 10).read_bytes()
    weights.write_bytes(good)
    assert P.rerun(root, client=client, progress=False) == {15: "done"}
    assert P.failed(root) == {} and P.step_path(root, 10).read_bytes() == before
    again = P.decompose(root, client=client, progress=False)
    assert set(again.values()) == {"skipped"}
    # curvature_every=2: computed at checkpoints 0, 2, 4, 6 only, linear in between (NaN in the step files)
    raw = np.stack([workbench.load(P.step_path(root, s)).curvature.values for s in range(0, STEPS + 1, EVERY)])
    assert np.isnan(raw[1::2, :4]).all() and np.isfinite(raw[0::2, :4]).all()
    curv = P.gather(root)["curvature"]
    np.testing.assert_allclose(curv[1::2, :4], (curv[0:-1:2, :4] + curv[2::2, :4]) / 2)
    np.testing.assert_array_equal(curv[0::2, :4], raw[0::2, :4])
    assert np.isnan(curv[:, -3:]).all()  # LCA coordinates get no curvature (first order only)


def test_a_killed_worker_is_reported_and_rerun(run, tmp_path):
    import dask
    from distributed import Client, LocalCluster

    root = tmp_path / "study"
    samples, labels = _samples(100, seed=3)
    P.prepare(root, P.checkpoints_from(run["folders"]), samples, run["hessian"], labels,
              P.Settings([{"step": s, "source": str(f.resolve()), "revision": None}
                          for s, f in zip(range(0, STEPS + 1, EVERY), run["folders"])], [0, 10], n_random=2,
                         n_lca=3, curvature_samples=4, method="loop"))  # the slow loop: killed mid-task
    P.make_basis(root, progress=False)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        out: dict = {}
        runner = threading.Thread(target=lambda: out.update(P.decompose(root, client=client, progress=False)))
        runner.start()
        deadline = time.monotonic() + 300
        while not P.step_path(root, 0).is_file():
            assert time.monotonic() < deadline and runner.is_alive(), "no checkpoint finished"
            time.sleep(0.02)
        before = P.step_path(root, 0).read_bytes()
        for pid in client.run(os.getpid).values():  # the worker is now on the next checkpoint
            os.kill(pid, signal.SIGKILL)
        runner.join(300)
        killed = [s for s, v in out.items() if v == "failed"]
        assert out[0] == "done" and len(killed) >= 1
        error = P.failed(root)[killed[0]]
        assert "died mid-run" in error and f"step_{killed[0]:07d}" in error and "rerun(" in error
        assert P.step_path(root, 0).read_bytes() == before
        assert set(P.rerun(root, client=client, progress=False).values()) == {"done"}
        assert all(P.step_path(root, s).is_file() for s in range(0, STEPS + 1, EVERY))
    finally:
        client.close()
        cluster.close()


def test_bad_input_gets_one_sentence_errors(run, tmp_path):
    folders, samples, hessian = run["folders"], run["samples"], run["hessian"]
    other = _train(tmp_path / "wide", n_embd=8, steps=2, every=2)
    with pytest.raises(P.PolcaInputError, match=r"checkpoints have different shapes: step \d+ has '.+' of shape "
                                                 r"\(\d+, 8\), step 0 has \(\d+, 16\)"):
        P.polca([folders[0], other[-1]], samples, tmp_path / "a", hessian_samples=hessian, basis_every=5,
                steps=[0, 5])
    with pytest.raises(P.PolcaInputError, match="has no target position"):
        P.Sample("457+168=0625", ())
    with pytest.raises(P.PolcaInputError, match=r"target position 11, outside 0..10"):
        P.encode_samples([P.Sample("457+168=0625", (11,))], task.build_tokenizer())
    hf = T.AutoModelForCausalLM.from_pretrained(folders[-1])
    remote = workbench.load_model(hf, tokenizer=task.build_tokenizer(), remote=True, host="http://127.0.0.1:9")
    with pytest.raises(P.PolcaInputError, match=r"checkpoints\[1\] is a remote model .*needs its gradients and weights"):
        P.checkpoints_from([folders[0], remote])
    with pytest.raises(P.PolcaInputError, match=r"checkpoints\[0\] is a GPT2LMHeadModel; expected a save_pretrained"):
        P.checkpoints_from([hf, folders[0]])
    with pytest.raises(P.PolcaInputError, match="at least 2 checkpoints"):
        P.checkpoints_from([folders[0]])
    with pytest.raises(P.PolcaInputError, match="duplicate steps"):
        P.checkpoints_from([folders[0], folders[1]], steps=[5, 5])
    with pytest.raises(P.PolcaInputError, match="holds a POLCA run with different settings"):
        P.polca(folders, samples, run["root"], hessian_samples=hessian, basis_every=15, labels=run["labels"],
                n_lca=3, curvature_samples=4, progress=False)
    from workbench.analyses.polca.basis import BasisError

    n_params = FlatModel(hf).n_params
    skewed = np.zeros((2, n_params))
    skewed[0, 0], skewed[1, :2] = 1.0, [0.6, 0.8]
    with pytest.raises(BasisError, match=r"basis is not orthonormal: rows 0 and 1 have dot product 0.6"):
        P.polca(folders, samples, tmp_path / "b", hessian_samples=hessian, basis_every=10, basis=skewed,
                progress=False)
    with pytest.raises(P.PolcaInputError, match=r"basis must have shape \(K, \d+\)"):
        P.polca(folders, samples, tmp_path / "c", hessian_samples=hessian, basis_every=10, basis=np.eye(3),
                progress=False)


def test_validate_polca_checks_the_approach_and_planted_variables(run):
    ds = run["ds"]
    bad = ds.assign(approach_cluster=ds.approach_cluster.transpose("sample", "basis", "approach").rename(
        sample="s", basis="b", approach="a"))
    with pytest.raises(workbench.data.DataModelError, match=r"approach_cluster.*needs dims"):
        workbench.data.validate_polca(bad)
    floats = ds.assign(approach_cluster=ds.approach_cluster.astype(float))
    with pytest.raises(workbench.data.DataModelError, match="integer cluster labels"):
        workbench.data.validate_polca(floats)
    with pytest.raises(workbench.data.DataModelError, match=r"planted.*needs dims"):
        workbench.data.validate_polca(ds.assign_coords(planted=("basis", np.zeros(ds.sizes["basis"], bool))))
