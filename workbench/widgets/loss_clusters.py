"""LossClusters: explore a POLCA Dataset: the basis vectors, each vector's clusters of samples that learn together,
their hidden breakthroughs, and what the clusters are made of.

POLCA is Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language Model Training" (arXiv 2506.15872); the
Dataset comes from :func:`workbench.analyses.polca.polca` and passes :func:`workbench.data.validate_polca`. The widget
reads xarray only (no torch).

* **Basis list**: one row per vector with a sparkline of its mean projected loss, the step it was found at, its number
  of clusters and its best homogeneity for the chosen ``label``; vectors dropped by the filter are greyed.
* **Selected vector**: each cluster's median projected loss with an interquartile band over steps, beside the same
  clusters' median exact loss (dashed); break-step markers, the tau line, and rules at the steps where every vector
  was found.
* **Composition bars** per cluster by any categorical sample coordinate (``label``, switchable), for the POLCA
  clusters and, side by side, the exact-loss clusters.
* **A cluster** (click, or the keyboard): its samples listed with the answer token highlighted, and their own
  trajectories drawn over the bands. ``cluster`` and :attr:`selected_samples` are synced to the kernel.

Transport: numbers travel as binary buffers (``_serialize.pack``; trajectories as uint8 codes over each vector's
range), never JSON lists. A vector's payload (cluster quartiles, exact-loss medians, its samples' trajectories) is
sent only for the selected vector, unless every vector's payload fits ``offline_budget`` bytes (default
:data:`~workbench.widgets._offline.OFFLINE_BUDGET`, 8 MB, the rule every widget follows) and the first message with
them stays under ``MAX_MESSAGE_BYTES``: then all of them are in the widget state from the start, so a saved notebook
or an exported page (:func:`workbench.widgets.export.to_html`) switches vectors with no kernel; otherwise a page
without a kernel says that another vector needs one (``_offline``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_polca
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget, offline_status
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, MessageTooLarge, pack, quantize_unit

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: Bytes of vector payloads that may sit in the widget state at once (every vector's, when they fit); the shared
#: offline budget (the older name, kept).
STATE_BUDGET: int = OFFLINE_BUDGET
#: Most categories a label may have to be offered for composition bars.
MAX_CATEGORIES: int = 24
#: Most samples whose text the widget lists for a clicked cluster.
MAX_LISTED: int = 200
_SKIP_LABELS = {"sample", "text", "target_start", "target_end", "problem"}


# ------------------------------------------------------------------------------------------------------------ helpers
def categorical_labels(ds: xr.Dataset) -> dict[str, list[str]]:
    """Sample coordinates usable as categorical labels (at most :data:`MAX_CATEGORIES` values), with their sorted
    categories as strings, in natural order (numbers inside them compare as numbers).

    >>> ds = xr.Dataset(coords={"place": ("sample", ["1s", "10s", "1s"]), "carry": ("sample", [0, 1, 1])})
    >>> categorical_labels(ds)
    {'place': ['1s', '10s'], 'carry': ['0', '1']}
    """
    out = {}
    for name, c in ds.coords.items():
        if c.dims != ("sample",) or str(name) in _SKIP_LABELS:
            continue
        values = np.asarray(c.values)
        if values.dtype.kind == "f":
            continue
        cats = sorted({str(v) for v in values.tolist()}, key=_natural)
        if 1 < len(cats) <= MAX_CATEGORIES:
            out[str(name)] = cats
    return out


def _natural(s: str) -> tuple:
    try:
        return (0, float(s.rstrip("s")), s)
    except ValueError:
        return (1, 0.0, s)


def label_codes(ds: xr.Dataset, label: str, cats: list[str]) -> np.ndarray:
    """Category index of every sample for ``label``."""
    index = {c: i for i, c in enumerate(cats)}
    return np.array([index[str(v)] for v in np.asarray(ds.coords[label].values).tolist()], dtype=np.float32)


def cluster_homogeneity(clusters: np.ndarray, codes: np.ndarray, cats: list[str]) -> np.ndarray:
    """Per cluster (0..C-1): for a two-valued label whose values are 0/1 (or False/True), the share of 1 (e.g. carry
    tokens, the paper's carry homogeneity without its place rule); otherwise the share of the cluster's most common
    category.

    >>> cluster_homogeneity(np.array([0, 0, 1, -1]), np.array([1.0, 0.0, 1.0, 1.0]), ["0", "1"]).tolist()
    [0.5, 1.0]
    """
    n = int(clusters.max()) + 1 if clusters.size and clusters.max() >= 0 else 0
    binary = cats in (["0", "1"], ["False", "True"])
    out = np.zeros(n)
    for c in range(n):
        v = codes[clusters == c]
        if v.size == 0:
            out[c] = np.nan
        elif binary:
            out[c] = float(np.mean(v == 1))
        else:
            out[c] = np.bincount(v.astype(int), minlength=len(cats)).max() / v.size
    return out


def cluster_curves(traj: np.ndarray, clusters: np.ndarray) -> dict[str, np.ndarray]:
    """Median, first and third quartile over steps of each cluster's trajectories: ``(C, S)`` each.

    >>> q = cluster_curves(np.array([[0.0, 1], [0, 3], [0, 5]]), np.array([0, 0, 0]))
    >>> q["median"].tolist(), q["q1"].tolist(), q["q3"].tolist()
    ([[0.0, 3.0]], [[0.0, 2.0]], [[0.0, 4.0]])
    """
    n = int(clusters.max()) + 1 if clusters.size and clusters.max() >= 0 else 0
    s = traj.shape[1]
    out = {k: np.full((n, s), np.nan, np.float32) for k in ("median", "q1", "q3")}
    for c in range(n):
        t = traj[clusters == c]
        if t.size:
            q1, med, q3 = np.percentile(t, [25, 50, 75], axis=0)
            out["q1"][c], out["median"][c], out["q3"][c] = q1, med, q3
    return out


def _target_spans(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    n = ds.sizes["sample"]
    if "target_start" in ds.coords and "target_end" in ds.coords:
        return np.asarray(ds.target_start.values, np.int64), np.asarray(ds.target_end.values, np.int64)
    return np.full(n, -1), np.full(n, -1)


# ------------------------------------------------------------------------------------------------------------- widget
class LossClusters(anywidget.AnyWidget):
    """POLCA's clusters of one basis vector at a time, beside the exact-loss clusters.

    ``LossClusters(ds, basis=None, label=None, cluster=-1, offline_budget=8_000_000)``: ``ds`` passes
    :func:`workbench.data.validate_polca`;
    ``basis`` (default: the first vector kept by the filter), ``label`` (a categorical sample coordinate, default
    ``place`` when present) and ``cluster`` (-1: none) are synced both ways; :attr:`selected_samples` holds the
    sample indices of the selected cluster. ``state_budget`` is the older name of ``offline_budget`` and still works.

    >>> import workbench as wb                                                              # doctest: +SKIP
    >>> w = wb.LossClusters(wb.load("data/polca/addition_polca.nc"), label="carry")        # doctest: +SKIP
    """

    _esm = _STATIC / "loss_clusters.js"
    _css = _STATIC / "loss_clusters.css"

    basis = traitlets.Int(0).tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    cluster = traitlets.Int(-1).tag(sync=True)
    selected_samples = traitlets.List(traitlets.Int(), read_only=True).tag(sync=True)
    _info = traitlets.Dict().tag(sync=True)  # labels, texts, scalars, meta of _summary
    _summary = traitlets.Bytes(b"").tag(sync=True)  # packed float32 arrays shared by every vector
    _vectors = traitlets.Dict().tag(sync=True)  # str(vector) -> {"meta", "data", "traj_meta", "traj"} (binary)
    _offline = traitlets.Dict().tag(sync=True)

    def __init__(self, ds: Any, basis: int | None = None, label: str | None = None, cluster: int = -1,
                 offline_budget: int = OFFLINE_BUDGET, state_budget: int | None = None, **kwargs: Any) -> None:
        budget = (check_budget(offline_budget) if state_budget is None
                  else check_budget(state_budget, "state_budget"))
        ds = validate_polca(ds)
        self._ds = ds.transpose("basis", "sample", "step", ...)
        self._n_basis = int(ds.sizes["basis"])
        if self._n_basis == 0 or ds.sizes["sample"] == 0 or ds.sizes["step"] < 2:
            raise DataModelError(f"LossClusters needs at least one vector, one sample and two steps; got sizes "
                                 f"{dict(ds.sizes)}.")
        self._labels = categorical_labels(ds)
        kept = np.asarray(ds.kept.values, bool) if "kept" in ds.coords else np.ones(self._n_basis, bool)
        if basis is None:
            basis = int(np.flatnonzero(kept)[0]) if kept.any() else 0
        self._check_basis(basis)
        if label is None:
            label = "place" if "place" in self._labels else next(iter(self._labels), "")
        self._check_label(label)
        self._ready = False
        super().__init__(**kwargs)
        payloads = {k: self.vector_payload(k) for k in range(self._n_basis)}
        sizes = {k: len(p["data"]) + len(p["traj"]) for k, p in payloads.items()}
        self._all_in_state = sum(sizes.values()) <= budget
        info, summary = self.summary()
        status = offline_status(sum(sizes.values()), budget, "every vector's clusters and trajectories")
        if self._all_in_state and len(summary) + sum(sizes.values()) > MAX_MESSAGE_BYTES:
            # the first message would pass the cap: the kernel sends each vector when it is picked
            self._all_in_state = info["all_in_state"] = False
            status = {**status, "complete": False, "missing": "every vector's clusters and trajectories do not fit "
                      "one kernel message beside the summary"}
        self._payloads = payloads if self._all_in_state else {}
        total = len(summary) + (sum(sizes.values()) if self._all_in_state else sizes[basis])
        if total > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(f"the widget's first message needs {total:,} bytes, over the "
                                  f"{MAX_MESSAGE_BYTES:,}-byte cap; select fewer samples or steps (ds.isel(...)).")
        with self.hold_sync():
            self._info, self._summary = info, summary
            self._offline = {**status, "vectors": "state" if self._all_in_state else "kernel"}
            self.label = label
            self.basis = int(basis)
            self._vectors = ({str(k): p for k, p in payloads.items()} if self._all_in_state
                             else {str(basis): payloads[basis]})
            self.cluster = int(cluster)
            self._set_selection()
        self._ready = True

    # ------------------------------------------------------------------------------------------------- checks
    def _check_basis(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise DataModelError(f"basis must be an integer index, got {value!r}.")
        if not 0 <= int(value) < self._n_basis:
            raise DataModelError(f"basis={value} is out of range: the Dataset has {self._n_basis} vector(s), so "
                                 f"expected 0 <= basis < {self._n_basis}.")
        return int(value)

    def _check_label(self, value: Any) -> str:
        if value == "" and not self._labels:
            return ""
        if value not in self._labels:
            raise DataModelError(f"label={value!r} is not a categorical sample coordinate of the Dataset; expected one "
                                 f"of {sorted(self._labels)}.")
        return str(value)

    def _n_clusters(self, b: int) -> int:
        c = np.asarray(self._ds.cluster.values[b])
        return int(c.max()) + 1 if c.size and c.max() >= 0 else 0

    @traitlets.validate("basis")
    def _validate_basis(self, proposal: dict[str, Any]) -> int:
        try:
            return self._check_basis(proposal["value"])
        except DataModelError as e:
            raise traitlets.TraitError(str(e)) from None

    @traitlets.validate("label")
    def _validate_label(self, proposal: dict[str, Any]) -> str:
        try:
            return self._check_label(proposal["value"])
        except DataModelError as e:
            raise traitlets.TraitError(str(e)) from None

    @traitlets.validate("cluster")
    def _validate_cluster(self, proposal: dict[str, Any]) -> int:
        v = proposal["value"]
        n = self._n_clusters(self.basis) if getattr(self, "_ready", False) else None
        if n is not None and not -1 <= int(v) < n:
            raise traitlets.TraitError(f"cluster={v} is out of range: vector {self.basis} has {n} cluster(s), so "
                                       f"expected -1 (none) or 0 <= cluster < {n}.")
        return int(v)

    @traitlets.observe("basis")
    def _on_basis(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_ready", False) or change["old"] == change["new"]:
            return
        with self.hold_sync():
            if not self._all_in_state and str(change["new"]) not in self._vectors:
                self._vectors = {str(change["new"]): self.vector_payload(change["new"])}
            if self.cluster >= self._n_clusters(change["new"]):
                self.cluster = -1
            self._set_selection()

    @traitlets.observe("cluster")
    def _on_cluster(self, change: dict[str, Any]) -> None:
        if getattr(self, "_ready", False):
            self._set_selection()

    def _set_selection(self) -> None:
        c = np.asarray(self._ds.cluster.values[self.basis])
        sel = np.flatnonzero(c == self.cluster).tolist() if self.cluster >= 0 else []
        self.set_trait("selected_samples", [int(i) for i in sel])

    # ------------------------------------------------------------------------------------------------ payloads
    def summary(self) -> tuple[dict[str, Any], bytes]:
        """What every vector shares: steps, per-vector facts, the mean projected loss of each vector (sparklines),
        exact-loss clusters (quartiles, median exact loss), label codes, answer-token spans, and the texts."""
        ds = self._ds
        pl = np.asarray(ds.projected_loss.values, np.float64)
        exact = np.asarray(ds.exact_loss.values, np.float64)
        ecl = np.asarray(ds.exact_cluster.values, np.int64)
        k = self._n_basis
        labels = list(self._labels)
        codes = {name: label_codes(ds, name, cats) for name, cats in self._labels.items()}
        best = np.full((k, max(1, len(labels))), np.nan, np.float32)
        n_cl = np.zeros(k, np.float32)
        for b in range(k):
            c = np.asarray(ds.cluster.values[b], np.int64)
            n_cl[b] = self._n_clusters(b)
            for j, name in enumerate(labels):
                h = cluster_homogeneity(c, codes[name], self._labels[name])
                best[b, j] = np.nanmax(h) if h.size and np.isfinite(h).any() else np.nan
        eq = cluster_curves(exact, ecl)
        start, end = _target_spans(ds)
        kept = np.asarray(ds.kept.values, np.float32) if "kept" in ds.coords else np.ones(k, np.float32)
        arrays = {
            "steps": np.asarray(ds.step.values, np.float32),
            "found_at": np.asarray(ds.found_at.values, np.float32),
            "eigenvalue": np.asarray(ds.eigenvalue.values, np.float32) if "eigenvalue" in ds.coords
            else np.full(k, np.nan, np.float32),
            "kept": kept, "n_clusters": n_cl, "best": best,
            "mean_pl": pl.mean(axis=1).astype(np.float32),
            "exact_mean": exact.mean(axis=0).astype(np.float32),
            "exact_cluster": ecl.astype(np.float32),
            "exact_median": eq["median"], "exact_q1": eq["q1"], "exact_q3": eq["q3"],
            "exact_break": np.asarray(ds.exact_break_step.values, np.float32) if "exact_break_step" in ds
            else np.zeros(0, np.float32),
            "codes": np.stack([codes[n] for n in labels]) if labels else np.zeros((0, ds.sizes["sample"]), np.float32),
            "target_start": start.astype(np.float32), "target_end": end.astype(np.float32),
        }
        meta, buf = pack(arrays)
        texts = [str(t) for t in ds.text.values] if "text" in ds.coords else [f"sample {i}" for i in
                                                                              range(ds.sizes["sample"])]
        info = {"summary_meta": meta, "labels": labels, "categories": self._labels, "texts": texts,
                "tau": float(ds.attrs.get("tau", np.nan)), "delta": float(ds.attrs.get("delta", np.nan)),
                "n_basis": k, "n_samples": int(ds.sizes["sample"]), "n_steps": int(ds.sizes["step"]),
                "all_in_state": bool(self._all_in_state), "max_listed": MAX_LISTED,
                "title": str(ds.attrs.get("model", "")), "paper": "arXiv 2506.15872"}
        return info, buf

    def vector_payload(self, b: int) -> dict[str, Any]:
        """One vector's payload: cluster labels, per-cluster quartiles of projected loss, per-cluster median exact
        loss, break steps and sizes (packed float32), and every sample's trajectory as uint8 codes over the vector's
        range (``value = lo + code * (hi - lo) / 254``, 255 = NaN).

        >>> p = LossClusters(ds).vector_payload(0)                                          # doctest: +SKIP
        >>> sorted(p)                                                                        # doctest: +SKIP
        ['data', 'meta', 'traj', 'traj_meta']
        """
        b = self._check_basis(b)
        ds = self._ds
        traj = np.asarray(ds.projected_loss.values[b], np.float64)
        c = np.asarray(ds.cluster.values[b], np.int64)
        q = cluster_curves(traj, c)
        exact = cluster_curves(np.asarray(ds.exact_loss.values, np.float64), c)["median"]
        n = self._n_clusters(b)
        brk = np.asarray(ds.break_step.values[b], np.float32)[:n]
        sizes = np.array([(c == i).sum() for i in range(n)], np.float32)
        meta, data = pack({"cluster": c.astype(np.float32), "median": q["median"], "q1": q["q1"], "q3": q["q3"],
                           "exact_median": exact, "break": brk, "sizes": sizes})
        finite = traj[np.isfinite(traj)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        span = hi - lo if hi > lo else 1.0
        tmeta, tbuf = quantize_unit((traj - lo) / span)
        return {"meta": {**meta, "vector": b}, "data": data,
                "traj_meta": {**dict(tmeta), "lo": lo, "hi": lo + span}, "traj": tbuf}


__all__ = ["LossClusters", "categorical_labels", "cluster_homogeneity", "cluster_curves", "STATE_BUDGET"]
