"""Head-type scores, has-type, AUROC and the hyperparameters-only baseline against brute-force re-implementations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import xarray as xr

from workbench.analyses import attention as A
from workbench.data import HEAD_SCORE_TYPES
from workbench.zoo.tasks import dyck as task


def _brute_scores(rows, strings):
    """METHODS D's definitions with plain Python loops, one head at a time."""
    n_l, n_h = rows[0].shape[:2]
    out = np.zeros((n_l, n_h, 4))
    used = 0
    for row, s in zip(rows, strings):
        d, depth = [], 0
        for c in s:
            depth += 1 if c == "(" else -1
            d.append(depth)
        neg_idx = [j for j in range(len(s)) if d[j] < 0]
        pos_idx = [j for j in range(len(s)) if d[j] >= 0]
        if not neg_idx or not pos_idx:
            continue
        used += 1
        for l in range(n_l):
            for h in range(n_h):
                a = row[l, h]
                viol = min(a[j] for j in neg_idx) > max(a[j] for j in pos_idx)
                nonneg = min(a[j] for j in pos_idx) > max(a[j] for j in neg_idx)
                sign = viol if d[-1] < 0 else nonneg
                out[l, h] += [viol, nonneg, sign, viol + nonneg]
    return out / used


def _random_strings(rng, k):
    out = []
    for i in range(k):
        n = 2 * int(rng.integers(1, 10))
        kind = i % 3
        out.append(task.nested(rng, n) if kind == 0 else task.unequal(rng, n) if kind == 1
                   else task.equal_not_nested(rng, n))
    return out


def test_scores_match_brute_force_on_random_rows():
    rng = np.random.default_rng(0)
    strings = _random_strings(rng, 60)
    rows = []
    for s in strings:
        d = task.depth_profile(s)
        r = rng.random((2, 3, len(s)))
        # plant perfect violation / non-negative heads so every type occurs, not only the all-False case
        r[0, 0] = np.where(d < 0, 0.9, 0.1) + 0.01 * rng.random(len(s))
        r[0, 1] = np.where(d < 0, 0.1, 0.9) + 0.01 * rng.random(len(s))
        rows.append(r / r.sum(-1, keepdims=True))
    got = A.scores_from_rows(rows, strings)
    np.testing.assert_allclose(got, _brute_scores(rows, strings))
    assert got[0, 0, 0] == 1.0 and got[0, 1, 1] == 1.0  # the planted heads
    np.testing.assert_allclose(got[..., 3], got[..., 0] + got[..., 1])


def test_scores_from_real_model_match_plain_torch_attention(tmp_path):
    """head_scores (nnsight traces) against HF's own output_attentions + the brute-force scorer."""
    import workbench
    from workbench.zoo import dyck

    hf = dyck.build_model(2, 2, init_seed=3)
    hf.save_pretrained(tmp_path)
    dyck.make_tokenizer().save_pretrained(tmp_path)
    model = workbench.load_model(tmp_path)
    data = task.ood_set(0, 40)
    scores = A.head_scores(model, data)
    assert scores.dims == ("layer", "head", "score") and list(scores.score.values) == list(HEAD_SCORE_TYPES)
    rows = []
    for s in data.strings:
        ids, _ = task.encode([s], dyck.VOCAB, dyck.PAD_ID)
        with torch.no_grad():
            att = hf(input_ids=torch.from_numpy(ids), output_attentions=True).attentions
        rows.append(np.stack([a[0, :, len(s) + 1, 1: len(s) + 1].numpy() for a in att]))
    np.testing.assert_allclose(scores.values, _brute_scores(rows, list(data.strings)), atol=1e-12)
    assert scores.attrs["n_strings"] == 40  # every OOD string dips below 0 and has d >= 0 positions
    # ID strings: nested ones never dip below 0, so only some FALSE strings are scored
    id_scores = A.head_scores(model, task.id_set(1, 40))
    assert 0 < id_scores.attrs["n_strings"] < 20
    nothing = A.head_scores(model, ["(())", "()"])
    assert nothing.attrs["n_strings"] == 0 and np.isnan(nothing.values).all()


def test_has_type_threshold():
    da = xr.DataArray(np.array([[[0.79, 0.2, 0.5, 0.99]], [[0.1, 0.8, np.nan, 0.9]]]), dims=("layer", "head", "score"),
                      coords={"score": list(HEAD_SCORE_TYPES)})
    assert A.has_type(da).values.tolist() == [False, True, False, True]
    assert A.has_type(da, threshold=0.5).values.tolist() == [True, True, True, True]
    with pytest.raises(ValueError, match="threshold must lie in"):
        A.has_type(da, 1.5)


def _pairwise_auroc(s, y):
    pos = [a for a, t in zip(s, y) if t]
    neg = [a for a, t in zip(s, y) if not t]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auroc_equals_pairwise_count_with_ties():
    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        s = rng.integers(0, 6, size=n) / 5.0  # many ties
        y = rng.random(n) < 0.4
        if y.all() or not y.any():
            assert np.isnan(A.auroc(s, y))
            continue
        assert A.auroc(s, y) == pytest.approx(_pairwise_auroc(s, y))
    with pytest.raises(ValueError, match="same length"):
        A.auroc([0.1, 0.2], [1])


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(5)
    y = rng.random(80) < 0.5
    s = y + rng.normal(0, 0.8, 80)
    a, lo, hi = A.bootstrap_auroc(s, y, n_boot=300, seed=1)
    assert lo < a < hi and 0.5 < a < 1
    assert A.bootstrap_auroc(s, y, n_boot=300, seed=1) == (a, lo, hi)


def test_setting_baseline_against_brute_force():
    rng = np.random.default_rng(6)
    layers = rng.integers(1, 4, 40)
    heads = rng.choice([2, 4], 40)
    wd = rng.choice([0.0, 1e-3], 40)
    y = rng.random(40) < 0.5
    pop = xr.Dataset(coords={"n_layers": ("model", layers), "n_heads": ("model", heads),
                             "weight_decay": ("model", wd)})
    got = A.setting_baseline(pop, y, "loo")
    for i in range(40):
        same = [j for j in range(40) if j != i and (layers[j], heads[j], wd[j]) == (layers[i], heads[i], wd[i])]
        ref = same or [j for j in range(40) if j != i]
        assert got[i] == pytest.approx(np.mean(y[ref]))
    got = A.setting_baseline(pop, y, "setting")
    for i in range(40):
        near = [j for j in range(40) if int(layers[j] != layers[i]) + int(heads[j] != heads[i]) + int(wd[j] != wd[i]) == 1]
        ref = near or [j for j in range(40) if j != i]
        assert got[i] == pytest.approx(np.mean(y[ref]))
    with pytest.raises(ValueError, match="scheme must be"):
        A.setting_baseline(pop, y, "forest")


def test_within_group_auroc_counts_only_same_group_pairs():
    rng = np.random.default_rng(11)
    for _ in range(100):
        n = int(rng.integers(2, 30))
        s, y, g = rng.integers(0, 4, n) / 3.0, rng.random(n) < 0.5, rng.integers(0, 4, n)
        pairs = [(s[i], s[j]) for i in range(n) for j in range(n) if g[i] == g[j] and y[i] and not y[j]]
        got, n_pairs = A.within_group_auroc(s, y, g)
        assert n_pairs == len(pairs)
        if not pairs:
            assert np.isnan(got)
            continue
        assert got == pytest.approx(np.mean([1.0 if p > q else 0.5 if p == q else 0.0 for p, q in pairs]))
    # any function of the group alone ties every counted pair
    g = rng.integers(0, 3, 40)
    assert A.within_group_auroc(g * 0.3, rng.random(40) < 0.5, g)[0] == 0.5
    with pytest.raises(ValueError, match="one entry per model"):
        A.within_group_auroc([0.1, 0.2], [1, 0], [0])


def test_within_setting_auroc_on_a_synthetic_population():
    rng = np.random.default_rng(8)
    n = 48
    layers, seeds_hier = np.repeat([1, 2, 3], 16), rng.random(n)
    ood = 0.2 * layers + 0.6 * seeds_hier + rng.normal(0, 0.05, n) - 0.1  # depth AND the score drive OOD
    hs = np.zeros((n, 2, 1, 1, 4))
    hs[:, 0, 0, 0, 3] = seeds_hier
    pop = xr.Dataset({"ood_accuracy": ("model", ood), "head_score": (("model", "split", "layer", "head", "score"), hs)},
                     coords={"n_layers": ("model", layers), "n_heads": ("model", np.tile([2, 4], 24)),
                             "weight_decay": ("model", np.zeros(n)), "split": ["id", "ood"],
                             "score": list(HEAD_SCORE_TYPES)})
    res = A.within_setting_auroc(pop, n_boot=200)
    keys = list(zip(layers, np.tile([2, 4], 24)))
    y = ood >= 0.5
    pairs = [(seeds_hier[i], seeds_hier[j]) for i in range(n) for j in range(n) if keys[i] == keys[j] and y[i] and not y[j]]
    assert res.attrs["n_pairs"] == len(pairs) and res.attrs["n_settings"] == 6
    assert res.auroc.item() == pytest.approx(np.mean([float(p > q) for p, q in pairs]))
    assert res.low.item() <= res.auroc.item() <= res.high.item() and res.auroc.item() > 0.8


def test_prediction_table_on_a_synthetic_population():
    rng = np.random.default_rng(7)
    n = 30
    hs = rng.random((n, 2, 2, 2, 4))
    ood = rng.random(n)
    idacc = np.where(np.arange(n) % 5 == 0, 0.7, 1.0)
    status = np.array(["done"] * (n - 2) + ["failed", "missing"], dtype=object)
    pop = xr.Dataset({"id_accuracy": ("model", idacc), "ood_accuracy": ("model", ood),
                      "head_score": (("model", "split", "layer", "head", "score"), hs), "status": ("model", status)},
                     coords={"n_layers": ("model", rng.integers(1, 3, n)), "n_heads": ("model", np.full(n, 2)),
                             "weight_decay": ("model", np.zeros(n)), "split": ["id", "ood"],
                             "score": list(HEAD_SCORE_TYPES)})
    tab = A.prediction_table(pop, n_boot=50)
    keep = np.arange(n - 2)
    hier = hs[keep, 0, :, :, 3].max((1, 2))
    assert tab.attrs["n_models"] == n - 2
    assert tab.auroc.sel(predictor="id_hierarchical").item() == pytest.approx(_pairwise_auroc(hier, ood[keep] >= 0.5))
    fit = A.prediction_table(pop, threshold="median", id_min=0.9, n_boot=50)
    keep = np.flatnonzero((idacc >= 0.9) & (status == "done"))
    med = np.median(ood[keep])
    assert fit.attrs["n_models"] == len(keep) and fit.attrs["threshold"] == med
    assert fit.auroc.sel(predictor="id_hierarchical").item() == pytest.approx(
        _pairwise_auroc(hs[keep, 0, :, :, 3].max((1, 2)), ood[keep] >= med))
    with pytest.raises(ValueError, match="threshold must be"):
        A.prediction_table(pop, threshold="mean")
