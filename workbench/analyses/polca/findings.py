"""From per-checkpoint projections to POLCA's findings: per-step terms, projected loss, filters, HDBSCAN clusters,
break times, hidden breakthroughs and cluster homogeneity. Plain numpy (and scikit-learn's HDBSCAN): no model.

Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language Model Training" (arXiv 2506.15872), Sec. 3-4.
Shapes: ``S`` checkpoints (steps ``t_0 < ... < t_{S-1}``), ``K`` directions, ``N`` samples.

* ``D[s, k, x] = <b_k, grad l(x; theta_s)>`` (first derivative along ``b_k``), ``c[s, k] = <b_k, theta_s>``.
* First-order term of step ``s -> s+1``: ``D[s] * (c[s+1] - c[s])`` (LCA along ``b`` instead of one parameter).
* Second-order term: ``h = 1/2 lambda_s(b) <dtheta, b>^2 * <dg(x), b> / <dg(X), b>`` with ``dg = g_{s+1} - g_s``.
  **Our choices** (the paper leaves them open): ``X`` is the study's own sample set, so ``<dg(X), b>`` is the mean of
  ``<dg(x), b>`` over the samples and the second-order terms of the samples average exactly to
  ``1/2 lambda <dtheta, b>^2``; ``lambda_s(b) = b^T H_s b`` is recomputed along training, not kept from when ``b``
  was found (the curvature of the mean loss on the fixed Hessian sample, :func:`workbench.analyses.polca.gradients.curvature`,
  at every ``curvature_every``-th checkpoint and linear in between, so vectors found late get the early curvature
  they had early). The ratio is the trapezoid-rule value ``1/2 <dtheta, b> <dg(x), b>`` times
  ``m = lambda <dtheta, b> / <dg(X), b>``; where ``|m| > max_ratio`` (10: the mean gradient change is under a tenth
  of what the curvature predicts) the term falls back to the trapezoid value, so no term exceeds ten times it.
* Projected loss ``L_b(x, t_j) = sum_{s < j}`` of the terms (zero at the first checkpoint).
* Filters: drop vectors whose mean projected loss rises from the first step to the last; per remaining vector, drop
  samples whose projected loss rises.
* Clusters: HDBSCAN on each vector's trajectories ``L_b(x, .)``, one vector at a time; outliers ``-1``, filtered ``-2``.
* Break time ``break(f) = argmax_t [f(t+D) - f(t)] - [f(t) - f(t-D)]`` per sample; a cluster's break step is the mean
  over its samples; a cluster holds a hidden breakthrough when that comes after ``tau``, the step where the exact loss
  has flattened (:func:`flattening_step`).

>>> terms = first_order_terms(np.ones((3, 1, 2)), np.array([[0.0], [1.0], [3.0]]))
>>> projected_loss(terms)[0].tolist()
[[0.0, 1.0, 3.0], [0.0, 1.0, 3.0]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OUTLIER, FILTERED = -1, -2
#: the paper's Table 1 (max carry homogeneity, share of clusters with a hidden breakthrough)
PAPER_TABLE1: dict[str, tuple[float, float]] = {
    "exact loss": (0.514, 0.0), "change in exact loss": (0.524, 0.0), "LCA (largest parameters)": (0.792, 0.019),
    "Fisher <b, grad l>^2": (0.664, 0.284), "random orthonormal basis": (0.902, 0.031),
    "first-order POLCA": (0.948, 0.307), "POLCA": (0.973, 0.355),
}


# ----------------------------------------------------------------------------------------------------- per-step terms
def _check_shapes(d: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, c = np.asarray(d, dtype=np.float64), np.asarray(c, dtype=np.float64)
    if d.ndim != 3:
        raise ValueError(f"D must have shape (step, direction, sample), got {d.shape}.")
    if c.shape != d.shape[:2]:
        raise ValueError(f"coordinates must have shape (step, direction) = {d.shape[:2]}, got {c.shape}.")
    if d.shape[0] < 2:
        raise ValueError(f"need at least 2 checkpoints for a step, got {d.shape[0]}.")
    return d, c


def first_order_terms(d: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``<b, grad l(x; theta_s)> * <b, theta_{s+1} - theta_s>`` for every step: ``(S-1, K, N)``.

    >>> first_order_terms(np.full((2, 1, 1), 2.0), np.array([[1.0], [4.0]])).ravel().tolist()
    [6.0]
    """
    d, c = _check_shapes(d, c)
    return d[:-1] * np.diff(c, axis=0)[:, :, None]


def trapezoid_terms(d: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``1/2 <dtheta, b> <dg(x), b>`` for every step: ``(S-1, K, N)``, the trapezoid-rule value that the paper's
    second-order ratio approximates (exact for a quadratic loss along ``b``).

    >>> trapezoid_terms(np.array([[[0.0]], [[2.0]]]), np.array([[0.0], [3.0]])).ravel().tolist()
    [3.0]
    """
    d, c = _check_shapes(d, c)
    return 0.5 * np.diff(c, axis=0)[:, :, None] * np.diff(d, axis=0)


def second_order_terms(d: np.ndarray, c: np.ndarray, curvature: np.ndarray, max_ratio: float = 10.0) -> np.ndarray:
    """``1/2 lambda_s(b) <dtheta, b>^2 <dg(x), b> / <dg(X), b>`` with ``X`` = all samples (their mean), bounded.

    The paper's term is the trapezoid value ``1/2 <dtheta, b> <dg(x), b>`` times ``m = lambda <dtheta, b> / <dg(X), b>``,
    the ratio of the mean gradient change the curvature predicts to the one that happened. Where the mean change is
    near zero, ``m`` explodes (a ratio above 100 on about 1% of token-steps before this guard), so where
    ``|m| > max_ratio`` (``|<dg(X), b>| < |lambda <dtheta, b>| / max_ratio``) the term falls back to the trapezoid
    value: every term is at most ``max_ratio`` times its trapezoid value. ``curvature`` is ``lambda`` per (checkpoint,
    direction), ``(S, K)``; step ``s`` uses ``curvature[s]``.

    >>> d = np.array([[[0.0, 0.0]], [[1.0, 3.0]]])          # dg(x) = 1 and 3, mean 2
    >>> second_order_terms(d, np.array([[0.0], [2.0]]), np.array([[0.5], [0.5]])).ravel().tolist()
    [0.5, 1.5]
    """
    d, c = _check_shapes(d, c)
    lam = np.asarray(curvature, dtype=np.float64)
    if lam.shape != c.shape:
        raise ValueError(f"curvature must have shape (step, direction) = {c.shape}, got {lam.shape}.")
    if not max_ratio > 0:
        raise ValueError(f"max_ratio must be a positive number, got {max_ratio!r}.")
    dtheta = np.diff(c, axis=0)  # (S-1, K)
    dg = np.diff(d, axis=0)  # (S-1, K, N)
    den = dg.mean(axis=2)  # <dg(X), b> with X = the samples
    predicted = lam[:-1] * dtheta  # the mean gradient change the curvature predicts
    ok = (den != 0) & (np.abs(den) * max_ratio >= np.abs(predicted))
    m = np.divide(predicted, den, out=np.ones_like(den), where=ok)  # 1 where guarded: the trapezoid value
    return trapezoid_terms(d, c) * m[:, :, None]


def polca_terms(d: np.ndarray, c: np.ndarray, curvature: np.ndarray | None = None, max_ratio: float = 10.0
                ) -> np.ndarray:
    """Per-step POLCA terms ``(S-1, K, N)``: first order, plus second order when ``curvature`` is given.

    >>> polca_terms(np.ones((2, 1, 1)), np.array([[0.0], [1.0]])).item()
    1.0
    """
    terms = first_order_terms(d, c)
    if curvature is not None:
        terms = terms + second_order_terms(d, c, curvature, max_ratio)
    return terms


def projected_loss(terms: np.ndarray) -> np.ndarray:
    """``L_b(x, t_j) = sum_{s<j} term[s]`` as ``(K, N, S)``, zero at the first checkpoint.

    >>> projected_loss(np.ones((2, 1, 1))).ravel().tolist()
    [0.0, 1.0, 2.0]
    """
    t = np.asarray(terms, dtype=np.float64)
    cum = np.concatenate([np.zeros((1, *t.shape[1:])), np.cumsum(t, axis=0)], axis=0)  # (S, K, N)
    return np.transpose(cum, (1, 2, 0))


# ------------------------------------------------------------------------------------------------------------ filters
def vector_filter(pl: np.ndarray) -> np.ndarray:
    """Keep (True) the vectors whose mean projected loss does not rise from the first step to the last: ``(K,)``.

    >>> vector_filter(np.array([[[0.0, -1.0]], [[0.0, 1.0]]])).tolist()
    [True, False]
    """
    pl = np.asarray(pl)
    mean = pl.mean(axis=1)
    return mean[:, -1] <= mean[:, 0]


def sample_filter(pl: np.ndarray) -> np.ndarray:
    """Keep (True) the samples whose projected loss does not rise from the first step to the last: ``(K, N)``.

    >>> sample_filter(np.array([[[0.0, -1.0], [0.0, 2.0]]])).tolist()
    [[True, False]]
    """
    pl = np.asarray(pl)
    return pl[:, :, -1] <= pl[:, :, 0]


# ---------------------------------------------------------------------------------------------------------- clusters
def scaled_sizes(n_samples: int, cluster_share: float = 0.03, samples_share: float = 1 / 15) -> tuple[int, int]:
    """HDBSCAN's ``(min_cluster_size, min_samples)`` scaled to the sample count as in the paper (150 of 5,000 = 3%;
    ``min_samples = n / 15``), each at least 2.

    >>> scaled_sizes(5000)
    (150, 333)
    """
    return max(2, int(round(cluster_share * n_samples))), max(2, int(n_samples * samples_share))


def hdbscan_labels(traj: np.ndarray, min_cluster_size: int, min_samples: int) -> np.ndarray:
    """HDBSCAN (scikit-learn) labels of the rows of ``traj`` (``(n, S)`` trajectories; ``-1`` = outlier).
    ``min_samples`` is capped at the row count.

    >>> x = np.r_[np.zeros((20, 3)), np.ones((20, 3))] + np.random.default_rng(0).normal(0, .01, (40, 3))
    >>> len(set(hdbscan_labels(x, 5, 5)))
    2
    """
    from sklearn.cluster import HDBSCAN

    traj = np.asarray(traj, dtype=np.float64)
    n = traj.shape[0]
    if n < max(2, min_cluster_size):
        return np.full(n, OUTLIER, dtype=np.int64)
    model = HDBSCAN(min_cluster_size=int(min_cluster_size), min_samples=int(min(min_samples, n - 1)),
                    copy=True)
    return model.fit_predict(traj).astype(np.int64)


def cluster_vectors(pl: np.ndarray, min_cluster_size: int, min_samples: int, keep_vector: np.ndarray | None = None,
                    keep_sample: np.ndarray | None = None, progress: bool = False) -> np.ndarray:
    """Cluster labels ``(K, N)``: HDBSCAN on each vector's kept trajectories; ``-1`` outlier, ``-2`` filtered (every
    sample of a dropped vector is ``-2``).

    >>> noise = np.random.default_rng(0).normal(0, 1e-3, (20, 4))
    >>> pl = (np.r_[np.tile([0, -1, -1, -1.0], (10, 1)), np.tile([0, -2, -3, -3.0], (10, 1))] + noise)[None]
    >>> cluster_vectors(pl, 5, 3)[0].tolist() == [1] * 10 + [0] * 10
    True
    """
    from tqdm.auto import tqdm

    pl = np.asarray(pl)
    k, n, _ = pl.shape
    keep_vector = vector_filter(pl) if keep_vector is None else np.asarray(keep_vector, bool)
    keep_sample = sample_filter(pl) if keep_sample is None else np.asarray(keep_sample, bool)
    out = np.full((k, n), FILTERED, dtype=np.int64)
    for b in tqdm(range(k), desc="HDBSCAN", disable=not progress):
        if not keep_vector[b]:
            continue
        idx = np.flatnonzero(keep_sample[b])
        if idx.size:
            out[b, idx] = _ordered(hdbscan_labels(pl[b, idx], min_cluster_size, min_samples), pl[b, idx])
    return out


def _ordered(labels: np.ndarray, traj: np.ndarray) -> np.ndarray:
    """Relabel clusters by their final mean value (most negative first), so labels are stable and meaningful."""
    ids = [c for c in np.unique(labels) if c >= 0]
    order = sorted(ids, key=lambda c: float(traj[labels == c, -1].mean()))
    remap = {c: i for i, c in enumerate(order)}
    return np.array([remap.get(int(c), int(c)) for c in labels], dtype=np.int64)


# ---------------------------------------------------------------------------------------------------------- breaks
def lag_for(delta: float, steps: np.ndarray) -> int:
    """``delta`` (training steps) as a lag in checkpoints of the (uniform) step grid, at least 1.

    >>> lag_for(100, np.arange(0, 1000, 20))
    5
    """
    steps = np.asarray(steps)
    h = np.diff(steps)
    if h.size == 0 or np.any(h <= 0):
        raise ValueError("steps must be strictly increasing, with at least two of them.")
    if not np.allclose(h, h[0]):
        raise ValueError(f"steps must be evenly spaced for break times, got spacings from {h.min()} to {h.max()}.")
    return max(1, int(round(float(delta) / float(h[0]))))


def break_steps(traj: np.ndarray, steps: np.ndarray, delta: float) -> np.ndarray:
    """Break step of every row of ``traj`` (``(n, S)``): ``argmax_t [f(t+D) - f(t)] - [f(t) - f(t-D)]`` over the
    checkpoints with both neighbours (the paper's Eq. 9; for a falling curve, the elbow at the end of its drop).

    >>> t = np.arange(0, 100, 10)
    >>> f = np.where(t < 50, -t, -50.0)                   # falls until step 50, then flat
    >>> break_steps(f[None], t, 20).tolist()
    [50]
    """
    traj = np.asarray(traj, dtype=np.float64)
    steps = np.asarray(steps)
    d = lag_for(delta, steps)
    s = traj.shape[-1]
    if s < 2 * d + 1:
        raise ValueError(f"delta={delta} needs at least {2 * d + 1} checkpoints, got {s}.")
    second = traj[..., 2 * d:] - 2 * traj[..., d: s - d] + traj[..., : s - 2 * d]
    return steps[d + np.argmax(second, axis=-1)]


def cluster_break_steps(labels: np.ndarray, breaks: np.ndarray, n_clusters: int) -> np.ndarray:
    """Each cluster's mean break step, ``(K, n_clusters)`` (NaN past a direction's last cluster), from the cluster
    ``labels`` and per-sample ``breaks`` of K directions (``(K, N)`` each).

    >>> cluster_break_steps(np.array([[0, 0, 1, -1]]), np.array([[10, 30, 5, 0]]), 3).tolist()
    [[20.0, 5.0, nan]]
    """
    labels, breaks = np.atleast_2d(labels), np.atleast_2d(breaks)
    out = np.full((labels.shape[0], n_clusters), np.nan)
    for k in range(labels.shape[0]):
        for c in range(int(labels[k].max()) + 1):
            out[k, c] = breaks[k][labels[k] == c].mean()
    return out


def flattening_step(exact_mean: np.ndarray, steps: np.ndarray, share: float = 0.9) -> int:
    """tau, the step where the exact loss has flattened: the first checkpoint from which the mean exact loss, smoothed
    by a centred running median over 5 checkpoints (so a single spike does not move it), stays within
    ``1 - share`` of its total drop above its final value: ``L(t') - L_end <= (1 - share) (L_0 - L_end)`` for every
    later ``t'``.

    >>> flattening_step(np.array([10, 5, 2, 1.5, 1.2, 1.0]), np.arange(6) * 10)
    30
    """
    y = np.asarray(exact_mean, dtype=np.float64)
    steps = np.asarray(steps)
    if y.size != steps.size or y.size < 2:
        raise ValueError(f"exact_mean and steps must have the same length >= 2, got {y.size} and {steps.size}.")
    pad = np.pad(y, 2, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(pad, 5), axis=1) if y.size >= 5 else y
    end = smooth[-1]
    limit = end + (1 - share) * (smooth[0] - end)
    above = np.flatnonzero(smooth > limit)
    first = 0 if above.size == 0 else min(int(above[-1]) + 1, y.size - 1)
    return int(steps[first])


# ----------------------------------------------------------------------------------------------------- clusters table
@dataclass
class ClusterStats:
    """One cluster of one direction."""

    direction: int
    cluster: int
    size: int
    break_step: float
    hidden: bool
    carry_homogeneity: float
    carry_recall: float
    carry_f1: float
    counts: bool  # passes the 10s/100s rule (> 85% of its carry tokens in the 10s or 100s place)


def cluster_stats(labels: np.ndarray, breaks: np.ndarray, tau: float, carry: np.ndarray, place: np.ndarray,
                  carry_places: Sequence[str] = ("10s", "100s"), place_share: float = 0.85) -> list[ClusterStats]:
    """Per cluster of every direction (``labels``/``breaks``: ``(K, N)``, breaks per sample): size, mean break step,
    hidden breakthrough (mean break > ``tau``), carry homogeneity (share of carry tokens), recall and F1 against all
    the carry tokens of ``carry_places`` among the samples (clustered or not, filtered or not), and whether it counts
    (more than ``place_share`` of its carry tokens lie in ``carry_places``).

    >>> s = cluster_stats(np.array([[0, 0, 1, -1]]), np.array([[10, 30, 5, 0]]), 15, np.array([1, 1, 0, 1], bool),
    ...                   np.array(["10s", "100s", "10s", "10s"]))
    >>> [(c.cluster, c.break_step, c.hidden, c.carry_homogeneity, c.counts) for c in s]
    [(0, 20.0, True, 1.0, True), (1, 5.0, False, 0.0, False)]
    """
    labels = np.atleast_2d(labels)
    breaks = np.atleast_2d(breaks)
    carry = np.asarray(carry, bool)
    in_places = np.isin(np.asarray(place).astype(str), list(carry_places))
    out = []
    for k in range(labels.shape[0]):
        target = carry & in_places
        for c in sorted(int(x) for x in np.unique(labels[k]) if x >= 0):
            m = labels[k] == c
            n_carry = int((m & carry).sum())
            homog = n_carry / int(m.sum())
            tp = int((m & target).sum())
            recall = tp / int(target.sum()) if target.any() else 0.0
            precision = tp / int(m.sum())
            f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
            counts = n_carry > 0 and int((m & carry & in_places).sum()) > place_share * n_carry
            brk = float(np.mean(breaks[k][m]))
            out.append(ClusterStats(k, c, int(m.sum()), brk, bool(brk > tau), homog, recall, f1, bool(counts)))
    return out


def summarize(stats: Sequence[ClusterStats], top: int = 3) -> dict[str, object]:
    """Table-1 figures of one method: max carry homogeneity over counting clusters, share of clusters with a hidden
    breakthrough, cluster count, and the ``top`` counting clusters (homogeneity, recall, F1, break step).

    >>> summarize([ClusterStats(0, 0, 10, 50.0, True, 0.9, 0.4, 0.5, True)])["max_homogeneity"]
    0.9
    """
    counting = sorted((s for s in stats if s.counts), key=lambda s: -s.carry_homogeneity)
    return {
        "max_homogeneity": counting[0].carry_homogeneity if counting else float("nan"),
        "hidden_share": float(np.mean([s.hidden for s in stats])) if stats else float("nan"),
        "n_clusters": len(stats),
        "top": [{"direction": s.direction, "cluster": s.cluster, "size": s.size,
                 "homogeneity": round(s.carry_homogeneity, 4), "recall": round(s.carry_recall, 4),
                 "f1": round(s.carry_f1, 4), "break_step": round(s.break_step, 1)} for s in counting[:top]],
    }


@dataclass
class PlantedRecovery:
    """How one approach recovers a planted group: its best cluster (highest F1 against the planted tokens)."""

    direction: int
    cluster: int
    size: int
    carry_homogeneity: float  # share of carry tokens in the cluster
    planted_recall: float  # share of all planted tokens the cluster holds
    planted_precision: float  # share of the cluster that is planted
    break_step: float  # the cluster's mean break step
    hidden: bool  # break step after tau

    def found(self, homogeneity: float = 0.9, recall: float = 0.5) -> bool:
        """The issue's test: carry homogeneity >= 0.9 and at least half of the planted tokens."""
        return self.carry_homogeneity >= homogeneity and self.planted_recall >= recall


def planted_recovery(labels: np.ndarray, cluster_breaks: np.ndarray, planted: np.ndarray, carry: np.ndarray,
                     tau: float) -> PlantedRecovery | None:
    """The cluster, over every direction of one approach, that best matches a planted group (highest F1 against the
    ``planted`` tokens), or None when no cluster holds a planted token. ``labels``: ``(D, N)`` cluster labels;
    ``cluster_breaks``: ``(D, C)`` each cluster's mean break step.

    >>> r = planted_recovery(np.array([[0, 0, 1, 1], [0, 0, 0, -1]]), np.array([[900.0, 100.0], [50.0, np.nan]]),
    ...                      np.array([1, 1, 0, 0], bool), np.array([1, 1, 1, 0], bool), tau=500)
    >>> (r.direction, r.cluster, r.planted_recall, r.hidden)
    (0, 0, 1.0, True)
    """
    labels = np.atleast_2d(labels)
    planted, carry = np.asarray(planted, bool), np.asarray(carry, bool)
    best, best_f1 = None, 0.0
    for k in range(labels.shape[0]):
        for c in sorted(int(x) for x in np.unique(labels[k]) if x >= 0):
            m = labels[k] == c
            tp = int((m & planted).sum())
            if tp == 0:
                continue
            recall, precision = tp / int(planted.sum()), tp / int(m.sum())
            f1 = 2 * recall * precision / (recall + precision)
            if f1 > best_f1:
                brk = float(cluster_breaks[k, c])
                best_f1, best = f1, PlantedRecovery(k, c, int(m.sum()), float(carry[m].mean()), recall, precision,
                                                    brk, bool(brk > tau))
    return best


def composition(labels: np.ndarray, values: np.ndarray) -> dict[int, dict[str, float]]:
    """Share of every category of ``values`` in each cluster of one direction (``labels``: ``(N,)``).

    >>> composition(np.array([0, 0, 1]), np.array(["a", "b", "a"]))
    {0: {'a': 0.5, 'b': 0.5}, 1: {'a': 1.0, 'b': 0.0}}
    """
    values = np.asarray(values).astype(str)
    cats = sorted(set(values.tolist()))
    out = {}
    for c in sorted(int(x) for x in np.unique(labels) if x >= 0):
        m = labels == c
        out[c] = {v: float(np.mean(values[m] == v)) for v in cats}
    return out


def homogeneity(labels: np.ndarray, values: np.ndarray, value: object | None = None) -> np.ndarray:
    """Per cluster (in label order) the share of ``value`` in it, or of its most common category when ``value`` is
    None: the homogeneity of a cluster against any categorical sample label.

    >>> homogeneity(np.array([0, 0, 0, 1, -1]), np.array([1, 1, 0, 0, 1]), value=1).round(3).tolist()
    [0.667, 0.0]
    """
    labels = np.asarray(labels)
    values = np.asarray(values)
    out = []
    for c in sorted(int(x) for x in np.unique(labels) if x >= 0):
        v = values[labels == c]
        if value is None:
            _, counts = np.unique(v.astype(str), return_counts=True)
            out.append(counts.max() / v.size)
        else:
            out.append(float(np.mean(v == value)))
    return np.asarray(out, dtype=np.float64)


def to_json(obj: object) -> str:
    """JSON text of a findings summary (numpy scalars made plain)."""
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))


__all__ = ["first_order_terms", "second_order_terms", "trapezoid_terms", "polca_terms", "projected_loss",
           "vector_filter", "sample_filter", "scaled_sizes", "hdbscan_labels", "cluster_vectors", "break_steps", "lag_for",
           "flattening_step", "cluster_stats", "cluster_break_steps", "summarize", "planted_recovery", "PlantedRecovery", "composition", "homogeneity", "ClusterStats",
           "PAPER_TABLE1", "OUTLIER", "FILTERED"]
