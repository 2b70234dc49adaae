"""The Dask population runner on a real LocalCluster: tiny grid, a member that fails, its re-run, skipping of finished
members, and the combined Dataset (validate_population, checkpoints loadable, values equal to the member files)."""

from __future__ import annotations

import numpy as np
import pytest

import workbench
from workbench.data import validate_population
from workbench.studies import dyck as P

SETTINGS = P.RunSettings(steps=4, train_size=200, eval_size=16, ablation_size=8, ablation_kinds=("mean", "uniform"))


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_population_failure_rerun_skip_and_combine(tmp_path, client):
    ok = [P.Member(1, 2, 0.0, 0, 0), P.Member(2, 4, 1e-3, 1, 2)]
    blocked = P.Member(1, 2, 0.0, 1, 1)
    impossible = P.Member(1, 3, 0.0, 0, 0)  # 3 heads do not divide d_model = 64
    members = ok + [blocked, impossible]
    # a file where the blocked member's checkpoint folder must go makes its training fail (like a full/broken disk)
    (tmp_path / "checkpoints").mkdir(parents=True)
    (tmp_path / "checkpoints" / blocked.id).write_text("in the way")

    status = P.run_population(members, tmp_path, SETTINGS, client=client, progress=False)
    assert status == {ok[0].id: "done", ok[1].id: "done", blocked.id: "failed", impossible.id: "failed"}
    errors = P.failed(tmp_path)
    assert "n_heads must divide" in errors[impossible.id]
    assert blocked.id in errors and errors[blocked.id]

    pop = P.combine(tmp_path)
    validate_population(pop)
    assert pop.sizes["model"] == 4
    assert pop.status.values.tolist() == ["done", "done", "failed", "failed"]
    assert "n_heads must divide" in pop.sel(model=impossible.id).error.item()
    assert np.isnan(pop.sel(model=blocked.id).ood_accuracy.item())

    # the combined values are the member files' values; smaller models are NaN-padded
    m0 = workbench.load(P.member_path(tmp_path, ok[0]))
    row = pop.sel(model=ok[0].id)
    assert row.ood_accuracy.item() == float(m0.ood_accuracy)
    np.testing.assert_array_equal(row.head_score.values[:, :1, :2], m0.head_score.values)
    assert np.isnan(row.head_score.values[:, 1:]).all() and np.isnan(row.head_score.values[:, :, 2:]).all()
    assert pop.example_attention.dtype == np.float16
    assert pop.example_token.dims == ("sample", "query") and pop.example_depth.dims == ("sample", "query")
    assert pop.ablation_effect.sel(model=ok[1].id).shape == (2, 4, 2)

    # the checkpoint path is relative to the data root and loads with workbench.load_model
    rel = row.checkpoint.item()
    assert not rel.startswith("/")
    model = workbench.load_model(tmp_path / rel)
    assert (model.n_layers, model.n_heads) == (1, 2)

    # fix the cause and re-run only the failed member; the finished ones are untouched
    mtime = P.member_path(tmp_path, ok[0]).stat().st_mtime_ns
    (tmp_path / "checkpoints" / blocked.id).unlink()
    assert P.rerun(blocked.id, tmp_path, client=client, progress=False) == {blocked.id: "done"}
    assert blocked.id not in P.failed(tmp_path)
    assert P.member_path(tmp_path, ok[0]).stat().st_mtime_ns == mtime

    # a rerun of the whole grid skips every finished member and retries only the impossible one
    again = P.run_population(members, tmp_path, SETTINGS, client=client, progress=False)
    assert again == {ok[0].id: "skipped", ok[1].id: "skipped", blocked.id: "skipped", impossible.id: "failed"}
    pop = P.combine(tmp_path)
    assert pop.status.values.tolist() == ["done", "done", "done", "failed"]
    assert 0 <= pop.sel(model=blocked.id).ood_accuracy.item() <= 1

    with pytest.raises(KeyError, match="not members of the population"):
        P.rerun("L9-H9-wd0-i0-d0", tmp_path, client=client)


def test_same_seeds_reproduce_and_default_cluster(tmp_path):
    """The same member trained twice (default LocalCluster, then in this process): identical results (seeded)."""
    m = P.Member(1, 2, 1e-2, 3, 4)
    settings = P.RunSettings(steps=3, train_size=100, eval_size=12, ablations=False)
    assert P.run_population([m], tmp_path / "a", settings, progress=False) == {m.id: "done"}
    assert P.run_member(m, tmp_path / "b", settings) == m.id
    a, b = (workbench.load(P.member_path(tmp_path / s, m)) for s in ("a", "b"))
    assert float(a.ood_accuracy) == float(b.ood_accuracy)
    np.testing.assert_array_equal(a.head_score.values, b.head_score.values)


def test_grid_and_bad_input():
    g = P.grid(seeds=4)
    assert len(g) == 72 and len({m.id for m in g}) == 72
    assert {(m.n_layers, m.n_heads, m.weight_decay) for m in g} == {
        (l, h, w) for l in (1, 2, 3) for h in (2, 4) for w in (0.0, 1e-3, 1e-2)}
    assert len(P.grid(layers=[1], heads=[2], weight_decays=[0], seeds=[0, 1], data_seeds=[5, 6, 7])) == 6
    with pytest.raises(ValueError, match="members is empty"):
        P.combine("/nonexistent", members=[])


def test_a_worker_killed_mid_member_is_reported_and_rerun(tmp_path):
    """A real worker process is SIGKILLed while it trains a member: that member is recorded as failed with a message
    that says so, the member finished before it is untouched, and a re-run completes it."""
    import os
    import signal
    import threading
    import time

    import dask
    from distributed import Client, LocalCluster

    first, second = P.Member(1, 2, 0.0, 0, 0), P.Member(1, 2, 0.0, 1, 1)
    slow = P.RunSettings(steps=200, train_size=200, eval_size=16, ablations=False)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # one death fails the task at once
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        out: dict = {}
        runner = threading.Thread(target=lambda: out.update(
            P.run_population([first, second], tmp_path, slow, client=client, progress=False)))
        runner.start()
        deadline = time.monotonic() + 300
        while not any(P.is_done(tmp_path, m) for m in (first, second)):
            assert time.monotonic() < deadline and runner.is_alive(), "no member finished"
            time.sleep(0.05)
        finished = first if P.is_done(tmp_path, first) else second
        killed = second if finished is first else first
        before = P.member_path(tmp_path, finished).read_bytes()
        for pid in client.run(os.getpid).values():  # the worker is now training the other member
            os.kill(pid, signal.SIGKILL)
        runner.join(300)
        assert out == {finished.id: "done", killed.id: "failed"}
        error = P.failed(tmp_path)[killed.id]
        assert "died mid-run" in error and killed.id in error and "rerun(" in error
        assert P.member_path(tmp_path, finished).read_bytes() == before  # the finished result is not lost

        quick = P.RunSettings(steps=4, train_size=200, eval_size=16, ablations=False)
        assert P.rerun(killed.id, tmp_path, settings=quick, client=client, progress=False) == {killed.id: "done"}
        pop = P.combine(tmp_path)
        assert pop.status.values.tolist() == ["done", "done"]
    finally:
        client.close()
        cluster.close()
