"""SAE analysis: architectures, SAELens layout, activations, detection, causal effects, matching and the grid, each
checked against an independent numpy / plain-torch computation on the Dyck-1 zoo model (fast) and Dyck-2 where named."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest
import torch

from workbench.analyses.sae import (ActivationBuffer, SAEError, SparseAutoencoder, activations_of, check_site,
                                    collect, detection_scores, get_task, label_matrix, label_names, load_sae,
                                    match_decoders, member_key, save_sae, stability_curve, stream, train_grid,
                                    train_sae)


@pytest.fixture(scope="module")
def dyck1():
    import workbench as wb

    return wb.load_model("dyck-hierarchical"), get_task("dyck-hierarchical")


def _numpy_encode(sae: SparseAutoencoder, x: np.ndarray) -> np.ndarray:
    w = {k: getattr(sae, k).detach().numpy().astype(np.float64) for k in ("W_enc", "b_enc", "b_dec", "threshold")}
    pre = (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    if sae.architecture == "relu_l1":
        return np.maximum(pre, 0)
    if sae.architecture == "topk":
        out = np.zeros_like(pre)
        for i, row in enumerate(pre):
            top = np.argsort(-row)[: sae.k]
            out[i, top] = np.maximum(row[top], 0)
        return out
    return np.where(pre > w["threshold"], np.maximum(pre, 0), 0.0)


@pytest.mark.parametrize("arch", ["relu_l1", "topk", "batchtopk"])
def test_encode_decode_match_numpy(arch):
    sae = SparseAutoencoder(6, 10, arch, k=3, l1=0.1, seed=1)
    with torch.no_grad():
        sae.b_enc.copy_(torch.linspace(-0.3, 0.3, 10))
        sae.b_dec.copy_(torch.linspace(-1, 1, 6))
        sae.threshold.fill_(0.2)
    x = np.random.default_rng(0).normal(size=(20, 6))
    f = sae.encode(torch.tensor(x, dtype=torch.float32)).detach().numpy()
    ref = _numpy_encode(sae, x)
    np.testing.assert_allclose(f, ref, atol=1e-5)
    xh = sae.decode(torch.tensor(f)).detach().numpy()
    np.testing.assert_allclose(xh, ref @ sae.W_dec.detach().numpy() + sae.b_dec.detach().numpy(), atol=1e-4)
    if arch == "topk":
        assert ((f > 0).sum(1) <= 3).all()


def test_batchtopk_training_keeps_k_per_token_on_average():
    sae = SparseAutoencoder(6, 10, "batchtopk", k=2, seed=0)
    x = torch.randn(50, 6)
    f = sae.encode(x, batch_topk=True)
    pre = torch.relu(sae.pre_activation(x)).detach().numpy().ravel()
    kept = np.sort(pre)[::-1][:100]
    assert int((f > 0).sum()) == int((kept > 0).sum())
    np.testing.assert_allclose(np.sort(f.detach().numpy().ravel())[::-1][:100], kept, atol=1e-6)


def test_train_sae_reconstructs_and_folds_the_scale():
    g = torch.Generator().manual_seed(0)
    dirs = torch.randn(8, 16, generator=g)
    codes = torch.relu(torch.randn(4000, 8, generator=g)) * (torch.rand(4000, 8, generator=g) < 0.2)
    x = 30.0 * codes @ dirs  # large scale: the folded SAE must take raw activations
    sae, rec = train_sae(ActivationBuffer(x), "topk", 2, seed=0, d_sae=16, steps=400, batch_size=256, progress=False)
    with torch.no_grad():
        xh = sae(x)
    fvu = float(((x - xh) ** 2).sum() / ((x - x.mean(0)) ** 2).sum())
    assert fvu < 0.3, fvu
    assert rec["activations"] == 400 * 256 and rec["activations_per_second"] > 0
    with pytest.raises(SAEError, match="d_in=5 is not the activation size 16"):
        train_sae(ActivationBuffer(x), "topk", 2, d_in=5, steps=1, progress=False)


# --------------------------------------------------------------------------------------------- SAELens layout
@pytest.mark.parametrize("arch", ["relu_l1", "topk", "batchtopk"])
def test_saelens_layout_round_trip(tmp_path, arch):
    from safetensors.torch import load_file

    sae = SparseAutoencoder(5, 7, arch, k=2, l1=0.01, seed=3)
    with torch.no_grad():
        sae.threshold.fill_(0.1)
        sae.b_enc.normal_()
    folder = save_sae(sae, tmp_path / "m", {"hook_name": "blocks.1.hook_resid_post", "model_name": "zoo:dyck2"})
    assert sorted(os.listdir(folder)) == ["cfg.json", "sae_weights.safetensors"]
    cfg = json.loads((folder / "cfg.json").read_text())
    assert (cfg["d_in"], cfg["d_sae"]) == (5, 7)
    assert cfg["architecture"] == {"relu_l1": "standard", "topk": "topk", "batchtopk": "jumprelu"}[arch]
    keys = set(load_file(folder / "sae_weights.safetensors"))
    assert keys == {"W_enc", "W_dec", "b_enc", "b_dec"} | ({"threshold"} if arch == "batchtopk" else set())
    back = load_sae(folder, d_in=5)
    x = torch.randn(9, 5)
    assert back.architecture == arch
    torch.testing.assert_close(back.encode(x), sae.encode(x))
    torch.testing.assert_close(back(x), sae(x))


def test_corrupt_and_foreign_folders_give_one_sentence_errors(tmp_path):
    sae = SparseAutoencoder(4, 6, "topk", k=2)
    good = save_sae(sae, tmp_path / "good")
    with pytest.raises(SAEError, match=r"takes inputs of size d_in=4, but the activations have size 64\.$"):
        load_sae(good, d_in=64)
    with pytest.raises(SAEError, match="does not exist"):
        load_sae(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SAEError, match="has no cfg.json"):
        load_sae(empty)
    bad_json = save_sae(sae, tmp_path / "badjson")
    (bad_json / "cfg.json").write_text("{not json")
    with pytest.raises(SAEError, match="corrupt: not valid JSON"):
        load_sae(bad_json)
    foreign = save_sae(sae, tmp_path / "foreign")
    cfg = json.loads((foreign / "cfg.json").read_text())
    cfg["architecture"] = "gated"
    (foreign / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(SAEError, match="holds a 'gated' SAE"):
        load_sae(foreign)
    other = tmp_path / "other"
    other.mkdir()
    (other / "cfg.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(SAEError, match="not an SAELens config"):
        load_sae(other)
    broken = save_sae(sae, tmp_path / "broken")
    (broken / "sae_weights.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(SAEError, match="corrupt: safetensors could not read it"):
        load_sae(broken)
    shape = save_sae(SparseAutoencoder(4, 6, "topk", k=2), tmp_path / "shape")
    cfg = json.loads((shape / "cfg.json").read_text())
    cfg["d_sae"] = 5
    (shape / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(SAEError, match=r"W_enc has shape \(4, 6\), expected \(4, 5\)"):
        load_sae(shape)
    for e in (SAEError,):
        assert issubclass(e, ValueError)


# --------------------------------------------------------------------------------------------- activations
def test_bad_layer_or_site(dyck1):
    model, task = dyck1
    with pytest.raises(SAEError, match=r"layer must be an int in 0\.\.2 for site 'resid' of a 2-block model"):
        check_site(model, 3, "resid")
    with pytest.raises(SAEError, match=r"layer must be an int in 0\.\.1 for site 'mlp'"):
        collect(model, task, 2, "mlp", 2, 0)
    with pytest.raises(SAEError, match=r"site must be one of \['resid', 'mlp', 'attn'\], got 'heads'"):
        check_site(model, 0, "heads")


def test_traced_activations_match_plain_torch(dyck1):
    model, task = dyck1
    s = task.samples(6, 3)
    hf = model.envoy._module
    ids = torch.as_tensor(s["ids"])
    with torch.no_grad():
        hidden = hf(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True).hidden_states
    rows, cols = torch.as_tensor(s["string"]), torch.as_tensor(s["position"])
    for layer in (0, 1):
        torch.testing.assert_close(activations_of(model, s, layer, "resid"), hidden[layer][rows, cols])
    # the MLP output of block 1, through a plain forward hook
    got = {}
    h = hf.transformer.h[1].mlp.register_forward_hook(lambda m, i, o: got.update(mlp=o))
    with torch.no_grad():
        hf(input_ids=ids, attention_mask=torch.ones_like(ids))
    h.remove()
    torch.testing.assert_close(activations_of(model, s, 1, "mlp"), got["mlp"][rows, cols])


def test_stream_and_buffer_give_activation_batches(dyck1):
    model, task = dyck1
    it = stream(model, task, 1, "resid", 100, seed=0, strings_per_trace=8)
    a, b = next(it), next(it)
    assert a.shape == (100, 64) and b.shape == (100, 64) and not torch.equal(a, b)
    sae, rec = train_sae(it, "relu_l1", 0.01, d_sae=32, steps=3, batch_size=100, progress=False)
    assert rec["activations"] == 300 and sae.d_in == 64
    with pytest.raises(SAEError, match="at least one row"):
        ActivationBuffer(torch.zeros(0, 4))


def test_samples_labels_recompute_from_text(dyck1):
    _, task = dyck1
    s = task.samples(5, 0)
    from workbench.zoo.tasks.dyck import depth_profile

    for i, text in enumerate(s["text"]):
        m = (s["string"] == i) & (s["char"] >= 0)
        np.testing.assert_array_equal(s["depth"][m], depth_profile(text)[s["char"][m]])
        np.testing.assert_array_equal(s["token"][m], np.array(list(text), dtype=object)[s["char"][m]])


# --------------------------------------------------------------------------------------------- scores
def test_detection_matches_sklearn_and_numpy():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y_bin = rng.integers(0, 2, 300).astype(float)
    depth = rng.integers(0, 6, 300).astype(float)
    scores = np.stack([y_bin + rng.normal(0, 1, 300), -y_bin + rng.normal(0, 0.5, 300),
                       np.maximum(depth + rng.normal(0, 2, 300), 0), np.zeros(300)], 1)
    got = detection_scores(scores, np.stack([depth, y_bin], 1), ["depth", "violation"])
    for j in range(4):
        auc = roc_auc_score(y_bin, scores[:, j]) if scores[:, j].std() else 0.5
        assert got[j, 1] == pytest.approx(max(auc, 1 - auc), abs=1e-9)
        r = np.corrcoef(scores[:, j], depth)[0, 1] if scores[:, j].std() else 0.0
        assert got[j, 0] == pytest.approx(abs(r), abs=1e-9)


def test_label_length_mismatch_is_refused(dyck1):
    _, task = dyck1
    s = task.samples(3, 0)
    s["depth"] = s["depth"][:-1]
    with pytest.raises(SAEError, match=r"label 'depth' has \d+ values but there are \d+ samples"):
        label_matrix(s, label_names(task))
    with pytest.raises(SAEError, match="labels must have one row per sample"):
        detection_scores(np.zeros((5, 2)), np.zeros((4, 1)), ["depth"])


def test_hungarian_matching_is_the_best_permutation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    cos, idx = match_decoders(a, b)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = an @ bn.T
    best = max(itertools.permutations(range(5)), key=lambda p: sum(c[i, p[i]] for i in range(5)))
    assert idx.tolist() == list(best)
    np.testing.assert_allclose(cos, c[np.arange(5), list(best)])
    perm = rng.permutation(5)
    cos2, idx2 = match_decoders(a, 2.0 * a[perm])
    np.testing.assert_allclose(cos2, 1.0)
    assert (perm[idx2] == np.arange(5)).all()


def test_stability_curve_counts():
    import xarray as xr

    ds = xr.Dataset({"frequency": (("sae", "latent"), [[0.5, 0.4, 0.001, 0.0]]),
                     "match_cosine": (("sae", "latent"), [[0.9, 0.5, 0.95, 0.99]])},
                    coords={"architecture": ("sae", ["topk"])})
    curve = stability_curve(ds, bins=np.array([1e-4, 0.01, 1.0]))
    assert curve["count"].values.tolist() == [1, 2]
    assert curve["matched_share"].values.tolist() == [1.0, 0.5]


# --------------------------------------------------------------------------------------------- evaluation
@pytest.fixture(scope="module")
def small_eval(dyck1):
    from workbench.analyses.sae import evaluate

    model, task = dyck1
    acts = collect(model, task, 1, "resid", 200, 0)
    saes = {}
    for seed in (0, 1):
        sae, _ = train_sae(ActivationBuffer(acts), "topk", 3, seed=seed, d_sae=16, steps=150, progress=False)
        sae.metadata = {"workbench": {"sparsity": 3, "seed": seed}}
        saes[member_key("topk", 3, seed)] = sae
    ds = evaluate(model, task, saes, 1, "resid", n_strings=40, n_show_strings=5, max_strings=6, progress=False)
    return model, task, saes, ds


def test_evaluation_matches_independent_computations(small_eval):
    from workbench.data import validate_sae

    model, task, saes, ds = small_eval
    validate_sae(ds)
    s = task.samples(40, 1234)
    x = activations_of(model, s, 1, "resid")
    key = str(ds.sae.values[0])
    sae = saes[key]
    with torch.no_grad():
        f = sae.encode(x).numpy().astype(np.float64)
        xh = sae(x).numpy().astype(np.float64)
    xn = x.numpy().astype(np.float64)
    assert float(ds.fvu.sel(sae=key)) == pytest.approx(((xn - xh) ** 2).sum() / ((xn - xn.mean(0)) ** 2).sum(),
                                                       rel=1e-4)
    assert float(ds.l0.sel(sae=key)) == pytest.approx((f > 0).sum(1).mean(), rel=1e-6)
    np.testing.assert_allclose(ds.frequency.sel(sae=key).values, (f > 0).mean(0), atol=1e-6)
    show = s["string"] < 5
    np.testing.assert_allclose(ds.activation.sel(sae=key).values.astype(np.float64), f[show], rtol=2e-3, atol=2e-3)
    # texts and chars let outside code recompute the labels
    for text, char, depth in zip(ds.text.values, ds.char.values, ds.depth.values):
        if char >= 0:
            assert depth == text[: char + 1].count("(") - text[: char + 1].count(")")
    # matching: each SAE is matched to the other seed
    assert set(ds.match_sae.values) == set(ds.sae.values)


def test_causal_effect_matches_a_plain_torch_hook(small_eval):
    """Ablate one latent with a forward hook on block 0 (resid layer 1 = block 0's output) and compare."""
    model, task, saes, ds = small_eval
    key = str(ds.sae.values[0])
    sae = saes[key]
    eff = ds.causal_effect.sel(sae=key).values
    j = int(np.nanargmax(eff))
    s = task.samples(40, 1234)
    names = label_names(task)
    best = int(ds.detection.sel(sae=key).isel(latent=j).argmax("label"))
    lab = label_matrix(s, names)[:, best]
    strings = np.unique(s["string"][lab > 0.5])
    hf = model.envoy._module
    ids = torch.as_tensor(s["ids"])

    def hook(mod, inp, out):
        h = out[0] if isinstance(out, tuple) else out
        fj = sae.encode(h)[..., j: j + 1]
        new = h - fj * sae.W_dec[j]
        return (new, *out[1:]) if isinstance(out, tuple) else new

    with torch.no_grad():
        clean = task.readout(hf(input_ids=ids, attention_mask=torch.ones_like(ids)).logits, s["ids"]).numpy()
        handle = hf.transformer.h[0].register_forward_hook(hook)
        try:
            ablated = task.readout(hf(input_ids=ids, attention_mask=torch.ones_like(ids)).logits, s["ids"]).numpy()
        finally:
            handle.remove()
    diffs = np.abs(ablated - clean)
    if len(strings) > 6:  # evaluate draws 6 of them, with a generator seeded per latent
        strings = np.sort(np.random.default_rng([1234, 5, j]).choice(strings, 6, replace=False))
    assert eff[j] == pytest.approx(diffs[strings].mean(), rel=1e-3, abs=1e-5)
    # the site's zero-ablation baseline and the clean accuracy, recomputed
    assert float(ds.clean_metric) == pytest.approx(((clean > 0) == s["label"]).mean())


def test_neuron_baseline_detection_matches_numpy(small_eval):
    model, task, saes, ds = small_eval
    s = task.samples(40, 1234)
    hf = model.envoy._module
    ids = torch.as_tensor(s["ids"])
    got = {}
    h = hf.transformer.h[0].mlp.c_proj.register_forward_hook(lambda m, i, o: got.update(n=i[0]))
    with torch.no_grad():
        hf(input_ids=ids, attention_mask=torch.ones_like(ids))
    h.remove()
    neurons = got["n"][torch.as_tensor(s["string"]), torch.as_tensor(s["position"])].numpy()
    names = label_names(task)
    ref = detection_scores(neurons, label_matrix(s, names), names)
    mask = ds.unit_kind.values == "neuron"
    np.testing.assert_allclose(ds.unit_detection.values[mask], ref, atol=1e-5)


# --------------------------------------------------------------------------------------------- the grid
def test_grid_resumes_without_redoing_finished_members(tmp_path):
    from workbench.analyses.sae.saelens_format import is_sae_folder

    buf = tmp_path / "acts.safetensors"
    ActivationBuffer(torch.randn(600, 8)).save(str(buf))
    source = {"kind": "buffer", "path": str(buf)}
    settings = {"d_sae": 8, "steps": 5, "batch_size": 64}
    out = tmp_path / "grid"
    first = train_grid(source, out, ["topk"], {"topk": [2]}, [0], settings=settings, progress=False)
    assert first == {"topk-k2-seed0": "done"}
    before = (out / "topk-k2-seed0" / "sae_weights.safetensors").stat().st_mtime_ns
    # an interrupted save leaves only a hidden temporary folder, which is not a finished member
    (out / ".topk-k2-seed1.abc.tmp").mkdir()
    second = train_grid(source, out, ["topk", "relu_l1"], {"topk": [2], "relu_l1": [0.01]}, [0, 1],
                        settings=settings, progress=False)
    assert second == {"topk-k2-seed0": "skipped", "topk-k2-seed1": "done", "relu_l1-l1_0.01-seed0": "done",
                      "relu_l1-l1_0.01-seed1": "done"}
    assert (out / "topk-k2-seed0" / "sae_weights.safetensors").stat().st_mtime_ns == before
    assert all(is_sae_folder(out / k) for k in second)
    with pytest.raises(SAEError, match="does not exist"):
        train_grid({"kind": "buffer", "path": str(tmp_path / "none.safetensors")}, out, ["topk"], {"topk": [2]}, [0])


def test_grid_records_a_failed_member_and_goes_on(tmp_path):
    buf = tmp_path / "acts.safetensors"
    ActivationBuffer(torch.randn(300, 8)).save(str(buf))
    source = {"kind": "buffer", "path": str(buf)}
    out = tmp_path / "grid"
    status = train_grid(source, out, ["topk"], {"topk": [2, 50]}, [0], settings={"d_sae": 8, "steps": 3},
                        progress=False)
    assert status == {"topk-k2-seed0": "done", "topk-k50-seed0": "failed"}
    failures = json.loads((out / "failures.json").read_text())
    assert list(failures) == ["topk-k50-seed0"] and "k must be an int in 1..d_sae=8" in failures["topk-k50-seed0"]
    again = train_grid(source, out, ["topk"], {"topk": [2]}, [0, 1], settings={"d_sae": 8, "steps": 3},
                       progress=False)
    assert again == {"topk-k2-seed0": "skipped", "topk-k2-seed1": "done"}


def test_killed_grid_resumes_without_redoing_finished_members(tmp_path):
    """Kill a running grid (the whole process group, Dask workers included) once a member is written; the rerun
    skips the written members and trains the rest."""
    import signal
    import subprocess
    import sys
    import time

    buf = tmp_path / "acts.safetensors"
    ActivationBuffer(torch.randn(2000, 16)).save(str(buf))
    out = tmp_path / "grid"
    script = (
        "import sys; from workbench.analyses.sae import train_grid\n"
        f"s = train_grid({{'kind': 'buffer', 'path': {str(buf)!r}}}, {str(out)!r}, ['topk'], {{'topk': [2]}}, "
        "[0, 1, 2, 3], settings={'d_sae': 32, 'steps': 1500, 'batch_size': 256}, progress=False)\n"
        "print(s)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not (out.is_dir() and any((p / "cfg.json").is_file()
                                                                   for p in out.iterdir())):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = {p.name: (p / "sae_weights.safetensors").stat().st_mtime_ns for p in out.iterdir()
                if (p / "cfg.json").is_file()}
    assert 1 <= len(finished) < 4, finished
    status = train_grid({"kind": "buffer", "path": str(buf)}, out, ["topk"], {"topk": [2]}, [0, 1, 2, 3],
                        settings={"d_sae": 32, "steps": 1500, "batch_size": 256}, progress=False)
    assert {k for k, v in status.items() if v == "skipped"} == set(finished)
    assert all(v in ("skipped", "done") for v in status.values())
    for key, mtime in finished.items():
        assert (out / key / "sae_weights.safetensors").stat().st_mtime_ns == mtime
    assert len([p for p in out.iterdir() if (p / "cfg.json").is_file()]) == 4
