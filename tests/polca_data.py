"""A synthetic POLCA Dataset whose clusters are known by construction (for the widget, chart and browser tests):
addition problems as samples, three vectors (two kept, one dropped), trajectories that fall at known steps."""

from __future__ import annotations

import numpy as np
import xarray as xr

from workbench.analyses.polca import findings as F
from workbench.data import validate_polca
from workbench.zoo.tasks import addition as task

STEPS = np.arange(0, 1001, 20)
TAU = 300.0


def _ramp(start: float, length: float, depth: float) -> np.ndarray:
    return -depth * np.clip((STEPS - start) / length, 0, 1)


def make_polca(n_problems: int = 60, seed: int = 0) -> xr.Dataset:
    """Vector 0 splits the samples by place (1s/10s fall early and deep, 100s/1000s late and shallow), vector 1 by
    carry (carry tokens fall late), vector 2 rises (dropped by the filter). Clusters come from the real HDBSCAN."""
    rng = np.random.default_rng(seed)
    probs = task.problems(n_problems, seed)
    t = task.answer_table(probs)
    n = len(t["place"])
    low = np.isin(t["place"], ["1s", "10s"])
    carry = t["carry"]
    v0 = np.where(low[:, None], _ramp(100, 100, 1.0), _ramp(500, 200, 0.4))
    v1 = np.where(carry[:, None], _ramp(600, 100, 0.8), _ramp(150, 100, 0.3))
    v2 = np.linspace(0, 0.5, STEPS.size)[None] * np.ones((n, 1))
    pl = np.stack([v0, v1, v2]) + rng.normal(0, 0.04, (3, n, STEPS.size))
    pl[:, :, 0] = 0.0
    exact = 2.3 * np.exp(-STEPS / 80)[None] * rng.uniform(0.8, 1.2, (n, 1)) + 0.01
    mcs, ms = F.scaled_sizes(n)
    cluster = F.cluster_vectors(pl, mcs, ms)
    delta = 40.0
    breaks = np.stack([F.break_steps(pl[b], STEPS, delta) for b in range(3)])
    exact_cluster = F.hdbscan_labels(exact, mcs, ms)
    n_cl = max(int(cluster.max()) + 1, int(exact_cluster.max()) + 1, 1)
    break_step = np.full((3, n_cl), np.nan)
    for b in range(3):
        for c in range(int(cluster[b].max()) + 1):
            break_step[b, c] = breaks[b][cluster[b] == c].mean()
    eb = F.break_steps(exact, STEPS, delta)
    exact_break = np.full(n_cl, np.nan)
    for c in range(int(exact_cluster.max()) + 1):
        exact_break[c] = eb[exact_cluster == c].mean()
    ds = xr.Dataset(
        {"projected_loss": (("basis", "sample", "step"), pl.astype(np.float32)),
         "exact_loss": (("sample", "step"), exact.astype(np.float32)),
         "cluster": (("basis", "sample"), cluster.astype(np.int16)),
         "exact_cluster": ("sample", exact_cluster.astype(np.int16)),
         "break_step": (("basis", "cluster_id"), break_step),
         "exact_break_step": ("cluster_id", exact_break)},
        coords={"step": STEPS, "sample": np.arange(n), "basis": np.arange(3), "cluster_id": np.arange(n_cl),
                "found_at": ("basis", [0, 200, 400]), "eigenvalue": ("basis", [50.0, 20.0, 5.0]),
                "kept": ("basis", F.vector_filter(pl)),
                "text": ("sample", t["text"].astype(object)), "place": ("sample", t["place"].astype(object)),
                "carry": ("sample", t["carry"].astype(np.int8)), "digit": ("sample", t["digit"].astype(np.int8)),
                "target_start": ("sample", t["token"]), "target_end": ("sample", t["token"] + 1)},
        attrs={"tau": TAU, "delta": delta, "model": "synthetic"})
    return validate_polca(ds)
