"""POLCA's findings on synthetic trajectories whose clusters, break steps and filters are known by construction, and
the per-step terms (second order, X = the samples, the denominator guard) against direct computation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from workbench.analyses.polca import findings as F

STEPS = np.arange(0, 2001, 20)
TAU = 800


def ramp(start: float, length: float, depth: float) -> np.ndarray:
    """Falls linearly by ``depth`` from ``start`` to ``start + length``, flat before and after."""
    return -depth * np.clip((STEPS - start) / length, 0, 1)


# group: (ramp start, ramp length, depth, size) -> the break (end of the drop) is start + length
GROUPS = {"early": (200, 200, 1.0, 90), "late": (1000, 200, 0.6, 80), "latest": (1500, 200, 1.5, 70)}


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    rows, truth = [], []
    for g, (s, length, depth, n) in enumerate(GROUPS.values()):
        rows.append(ramp(s, length, depth) + rng.normal(0, 0.01, (n, STEPS.size)))
        truth += [g] * n
    rising = np.linspace(0, 0.5, STEPS.size) + rng.normal(0, 0.01, (30, STEPS.size))  # learns nothing: filtered
    traj = np.concatenate(rows + [rising])
    truth = np.array(truth + [-2] * 30)
    bad_vector = np.linspace(0, 1, STEPS.size)[None] * rng.uniform(0.5, 1.5, (traj.shape[0], 1))  # mean rises
    pl = np.stack([traj, bad_vector])  # (K=2, N, S)
    return pl, truth


def test_filters_drop_rising_vectors_and_samples(synthetic):
    pl, truth = synthetic
    assert F.vector_filter(pl).tolist() == [True, False]
    keep = F.sample_filter(pl)
    assert keep[0].tolist() == (truth >= 0).tolist()


def test_hdbscan_recovers_the_groups(synthetic):
    pl, truth = synthetic
    mcs, ms = F.scaled_sizes(pl.shape[1])
    labels = F.cluster_vectors(pl, mcs, ms)
    assert (labels[1] == F.FILTERED).all()  # the dropped vector
    assert (labels[0][truth == -2] == F.FILTERED).all()  # the rising samples
    clustered = labels[0] >= 0
    assert clustered[truth >= 0].mean() > 0.95  # few outliers
    assert adjusted_rand_score(truth[clustered], labels[0][clustered]) == 1.0
    # clusters are numbered by their final projected loss, lowest first: latest (-1.5), early (-1.0), late (-0.6)
    for g, expected in zip(range(3), (1, 2, 0)):
        assert set(labels[0][(truth == g) & clustered]) == {expected}


def test_break_steps_and_hidden_breakthroughs(synthetic):
    pl, truth = synthetic
    delta = TAU / 10
    breaks = F.break_steps(pl[0], STEPS, delta)
    for g, (s, length, _, _) in enumerate(GROUPS.values()):
        assert np.all(np.abs(breaks[truth == g] - (s + length)) <= 20)  # within one checkpoint of the true elbow
    labels = F.cluster_vectors(pl, *F.scaled_sizes(pl.shape[1]))
    place = np.array(["100s"] * 90 + ["10s"] * 80 + ["1000s"] * 70 + ["1s"] * 30)
    carry = np.array([False] * 45 + [True] * 45 + [True] * 80 + [True] * 70 + [False] * 30)
    stats = F.cluster_stats(labels[:1], breaks[None], TAU, carry, place)
    by_cluster = {s.cluster: s for s in stats}
    assert len(stats) == 3
    late, early, latest = by_cluster[2], by_cluster[1], by_cluster[0]
    assert early.break_step == pytest.approx(np.mean(breaks[(truth == 0) & (labels[0] == 1)]))
    assert (early.hidden, late.hidden, latest.hidden) == (False, True, True)
    # carry homogeneity: late = every token a 10s carry; early = half; latest = 1000s carries (does not count)
    assert late.carry_homogeneity == 1.0 and late.counts
    assert early.carry_homogeneity == pytest.approx(0.5, abs=0.03) and early.counts
    assert latest.carry_homogeneity == 1.0 and not latest.counts
    target = carry & np.isin(place, ["10s", "100s"]) & (labels[0] >= 0)
    assert late.carry_recall == pytest.approx(((labels[0] == 2) & target).sum() / target.sum())
    summary = F.summarize(stats)
    assert summary["max_homogeneity"] == 1.0 and summary["top"][0]["cluster"] == 2
    assert summary["hidden_share"] == pytest.approx(2 / 3)


def test_break_step_is_the_elbow_of_a_single_drop():
    f = ramp(600, 300, 2.0)
    assert F.break_steps(f[None], STEPS, 100).tolist() == [900]
    assert F.lag_for(100, STEPS) == 5
    with pytest.raises(ValueError, match="evenly spaced"):
        F.lag_for(100, np.array([0, 10, 30]))
    with pytest.raises(ValueError, match="needs at least"):
        F.break_steps(np.zeros((1, 5)), np.arange(5) * 20, 100)


def test_flattening_step_ignores_a_spike():
    loss = 2.3 * np.exp(-STEPS / 150) + 0.01
    tau = F.flattening_step(loss, STEPS)
    drop = loss[0] - loss[-1]
    assert loss[STEPS == tau][0] - loss[-1] <= 0.1 * drop < loss[STEPS == tau - 20][0] - loss[-1]
    spiky = loss.copy()
    spiky[STEPS == 1500] = 1.5  # one checkpoint's spike does not move tau
    assert F.flattening_step(spiky, STEPS) == tau


def test_projected_loss_sums_the_terms():
    rng = np.random.default_rng(1)
    terms = rng.normal(size=(7, 3, 5))
    pl = F.projected_loss(terms)
    assert pl.shape == (3, 5, 8) and np.all(pl[:, :, 0] == 0)
    np.testing.assert_allclose(pl[:, :, 4], terms[:4].sum(0))


def test_second_order_terms_average_to_the_quadratic_term():
    """With X = the samples, the second-order terms of one step average to 1/2 lambda <dtheta, b>^2 exactly."""
    rng = np.random.default_rng(2)
    d = rng.normal(size=(6, 4, 50)) + np.arange(6)[:, None, None] * 0.3  # gradients drift: <dg(X), b> away from 0
    c = np.cumsum(rng.normal(size=(6, 4)), axis=0)
    lam = rng.uniform(0.5, 3, (6, 4))
    h = F.second_order_terms(d, c, lam, max_ratio=np.inf)  # unguarded: the paper's ratio on every step
    np.testing.assert_allclose(h.mean(axis=2), 0.5 * lam[:-1] * np.diff(c, axis=0) ** 2)
    # and each sample's share is proportional to its own change in gradient along b
    dg = np.diff(d, axis=0)
    np.testing.assert_allclose(h / h.mean(axis=2, keepdims=True), dg / dg.mean(axis=2, keepdims=True))
    total = F.polca_terms(d, c, lam, max_ratio=np.inf)
    np.testing.assert_allclose(total, F.first_order_terms(d, c) + h)


def test_second_order_guard_bounds_the_term_where_the_mean_change_crosses_zero():
    """<dg(X), b> runs from +1 through 0 to -1 over 40 steps while the curvature predicts +1 every step: the ratio
    term is the paper's value while |<dg(X), b>| >= 1/10 of the prediction and the trapezoid value below that."""
    steps, n = 41, 6
    rng = np.random.default_rng(5)
    spread = rng.normal(0, 0.5, (steps - 1, n))
    spread -= spread.mean(axis=1, keepdims=True)
    mean_change = np.linspace(1.0, -1.0, steps - 1)  # crosses zero (never exactly zero: 40 points)
    dg = mean_change[:, None] + spread  # (S-1, N)
    d = np.concatenate([np.zeros((1, n)), np.cumsum(dg, axis=0)])[:, None, :]  # (S, 1, N)
    c = (np.arange(steps) * 0.5)[:, None]  # dtheta = 0.5 every step
    lam = np.full((steps, 1), 2.0)  # lambda * dtheta = 1
    h = F.second_order_terms(d, c, lam)[:, 0]
    trapezoid = 0.5 * 0.5 * dg
    paper = 0.5 * 2.0 * 0.25 * dg / mean_change[:, None]
    guarded = np.abs(mean_change) < 0.1
    assert guarded.sum() == 4 and np.abs(paper[guarded]).max() > 10 * np.abs(trapezoid[guarded]).max()
    np.testing.assert_allclose(h[~guarded], paper[~guarded])
    np.testing.assert_allclose(h[guarded], trapezoid[guarded])
    assert np.all(np.abs(h) <= 10 * np.abs(trapezoid) + 1e-12)
    # a tighter bound guards more steps, never fewer
    tight = F.second_order_terms(d, c, lam, max_ratio=2.0)[:, 0]
    assert np.all(np.abs(tight) <= 2 * np.abs(trapezoid) + 1e-12)
    with pytest.raises(ValueError, match="max_ratio"):
        F.second_order_terms(d, c, lam, max_ratio=0)


def test_recall_counts_every_carry_token_of_the_places_clustered_or_not():
    """Four 10s/100s carry tokens: two in cluster 0 (with one non-carry token), one an outlier, one filtered. Recall is
    2 of 4, not 2 of the 3 clustered; F1 = 2 (2/3)(1/2) / (2/3 + 1/2) = 4/7."""
    labels = np.array([[0, 0, 0, -1, -2, 1, 1]])
    carry = np.array([1, 1, 0, 1, 1, 1, 0], bool)
    place = np.array(["10s", "100s", "10s", "10s", "100s", "1000s", "1s"])
    stats = F.cluster_stats(labels, np.zeros((1, 7)), 5.0, carry, place)
    first = stats[0]
    assert (first.size, first.carry_homogeneity) == (3, pytest.approx(2 / 3))
    assert first.carry_recall == pytest.approx(0.5) and first.carry_f1 == pytest.approx(4 / 7)
    assert stats[1].carry_recall == 0.0 and not stats[1].counts  # its carry token is a 1000s one


def test_second_order_guard_falls_back_to_the_trapezoid():
    d = np.zeros((2, 1, 4))
    d[1, 0] = [1.0, -1.0, 2.0, -2.0]  # <dg(X), b> = 0: the ratio is undefined
    c = np.array([[0.0], [0.5]])
    h = F.second_order_terms(d, c, np.array([[10.0], [10.0]]))
    np.testing.assert_allclose(h[0, 0], 0.5 * 0.5 * d[1, 0])
    assert np.all(np.isfinite(h))


def test_homogeneity_and_composition_for_any_label():
    labels = np.array([0, 0, 0, 1, 1, -1, -2])
    place = np.array(["1s", "1s", "10s", "100s", "100s", "1s", "1s"])
    np.testing.assert_allclose(F.homogeneity(labels, place), [2 / 3, 1.0])
    np.testing.assert_allclose(F.homogeneity(labels, place, value="1s"), [2 / 3, 0.0])
    comp = F.composition(labels, place)
    assert comp[1] == {"100s": 1.0, "10s": 0.0, "1s": 0.0}
    assert set(comp) == {0, 1}


def test_scaled_sizes_follow_the_paper():
    assert F.scaled_sizes(5000) == (150, 333)
    assert F.scaled_sizes(2000) == (60, 133)
