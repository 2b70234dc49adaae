"""Attention-head analyses of the Dyck population study: head-type scores, prediction of OOD behaviour, ablations.

After Li, Kaufmann, Wattenberg, Alvarez-Melis & Saphra (2025), "Can Interpretation Predict Behavior on Unseen Data?"
(arXiv 2507.06445). On the ``[end]`` query's attention row over the bracket positions of ``[start] s [end]``, with
``d_j`` the running depth after bracket j and only strings that have both ``d < 0`` and ``d >= 0`` positions:

- violation-detecting: min attention on {d < 0} > max attention on {d >= 0};
- non-negative: min attention on {d >= 0} > max attention on {d < 0};
- sign-matching: violation-detecting if the final depth is < 0, else non-negative;
- hierarchical: violation-detecting + non-negative (the two exclude each other).

A head's score is the fraction of qualifying strings where its row has the property; a model "has" a type when one of
its heads scores >= 0.8. The max hierarchical score on in-distribution strings predicts whether a model generalizes
(OOD accuracy >= 0.5); :func:`auroc` and :func:`bootstrap_auroc` measure how well. :func:`ablate` replaces heads'
attention patterns (uniform over the causal prefix, or the dataset mean) inside the forward pass, through nnsight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import nnsight
import numpy as np
import torch
import xarray as xr

from workbench.analyses.core import attention
from workbench.backend.model import Model
from workbench.data import HEAD_SCORE_TYPES
from workbench.zoo.tasks import dyck as task

__all__ = ["HEAD_SCORE_TYPES", "end_rows", "scores_from_rows", "head_scores", "has_type", "auroc", "bootstrap_auroc",
           "setting_baseline", "prediction_table", "mean_patterns", "ablate", "ablation_effects", "ablation_by_type"]


# ------------------------------------------------------------------------------------------------------ head scores
def _strings(strings: Sequence[str] | task.DyckSet) -> list[str]:
    out = list(strings.strings if isinstance(strings, task.DyckSet) else strings)
    if not out:
        raise ValueError("strings is empty; expected at least one bracket string.")
    for i, s in enumerate(out):
        task.check_brackets(s, f"strings[{i}]")
    return out


def qualifies(s: str) -> bool:
    """True when ``s`` has both a ``d < 0`` and a ``d >= 0`` position (the strings the scores are defined on).

    >>> qualifies(")("), qualifies("(())")
    (True, False)
    """
    d = task.depth_profile(s)
    return bool((d < 0).any() and (d >= 0).any())


def end_rows(model: Model, strings: Sequence[str] | task.DyckSet, batch_size: int = 256) -> list[np.ndarray]:
    """For each string, the ``[end]`` row of every head over its bracket positions: arrays (layer, head, len(s)).

    Computed with :func:`workbench.attention` (one nnsight trace per batch).

    >>> rows = end_rows(load_model("dyck-hierarchical"), ["())(", "(()))("])      # doctest: +SKIP
    >>> [r.shape[-1] for r in rows]                                               # doctest: +SKIP
    [4, 6]
    """
    strings = _strings(strings)
    rows: list[np.ndarray] = []
    for i in range(0, len(strings), batch_size):
        chunk = strings[i: i + batch_size]
        att = attention(model, [task.to_text(s) for s in chunk]).values  # (prompt, layer, head, query, key)
        for j, s in enumerate(chunk):
            n = len(s)
            rows.append(att[j, :, :, n + 1, 1: n + 1])
    return rows


def scores_from_rows(rows: Sequence[np.ndarray], strings: Sequence[str]) -> np.ndarray:
    """Head-type scores from ``[end]`` rows: array (layer, head, 4) in the order of ``HEAD_SCORE_TYPES``.

    Strings without both ``d < 0`` and ``d >= 0`` positions are skipped; with none left the scores are NaN.

    >>> rows = [np.array([[[0.1, 0.9]]])]            # one layer, one head, string ")(" : depths -1, 0
    >>> scores_from_rows(rows, [")("]).ravel().tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    if len(rows) != len(strings):
        raise ValueError(f"rows and strings must have the same length, got {len(rows)} and {len(strings)}.")
    shape = rows[0].shape[:2] if rows else (0, 0)
    total = np.zeros((*shape, 4))
    count = 0
    for row, s in zip(rows, strings):
        d = task.depth_profile(s)
        neg = d < 0
        if not neg.any() or neg.all():
            continue
        if row.shape[-1] != len(s):
            raise ValueError(f"a row covers {row.shape[-1]} keys but its string {s!r} has {len(s)} brackets.")
        a_neg, a_pos = row[..., neg], row[..., ~neg]
        viol = a_neg.min(-1) > a_pos.max(-1)
        nonneg = a_pos.min(-1) > a_neg.max(-1)
        sign = viol if d[-1] < 0 else nonneg
        total += np.stack([viol, nonneg, sign, viol | nonneg], axis=-1)
        count += 1
    return total / count if count else np.full((*shape, 4), np.nan)


def head_scores(model: Model, strings: Sequence[str] | task.DyckSet, batch_size: int = 256) -> xr.DataArray:
    """Head-type scores of every head of ``model`` on ``strings``: DataArray (layer, head, score).

    ``attrs["n_strings"]`` is the number of strings the scores are averaged over (those with both signs of depth).

    >>> from workbench import load_model                                         # doctest: +SKIP
    >>> s = head_scores(load_model("dyck-violation"), task.ood_set(0, 200))      # doctest: +SKIP
    >>> float(s.sel(score="hierarchical").max()) > 0.8                           # doctest: +SKIP
    True
    """
    strings = [s for s in _strings(strings) if qualifies(s)]
    if strings:
        values = scores_from_rows(end_rows(model, strings, batch_size), strings)
    else:
        values = np.full((model.n_layers, model.n_heads, 4), np.nan)
    return xr.DataArray(values, dims=("layer", "head", "score"),
                        coords={"layer": np.arange(values.shape[0]), "head": np.arange(values.shape[1]),
                                "score": list(HEAD_SCORE_TYPES)},
                        name="head_score", attrs=model.provenance("head_scores", n_strings=len(strings)))


def has_type(head_score: xr.DataArray, threshold: float = 0.8) -> xr.DataArray:
    """Whether a model has each head type: some head's score >= ``threshold`` (reduces ``layer`` and ``head``).

    >>> da = xr.DataArray(np.array([[[0.9, 0.1, 0.1, 0.9]]]), dims=("layer", "head", "score"),
    ...                   coords={"score": list(HEAD_SCORE_TYPES)})
    >>> has_type(da).values.tolist()
    [True, False, False, True]
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}.")
    return (head_score.fillna(-1) >= threshold).any(("layer", "head"))


# ------------------------------------------------------------------------------------------------------- prediction
def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney rank statistic (ties count one half).

    NaN when only one class is present.

    >>> auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels).astype(bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores and labels must be 1-D of the same length, got shapes {s.shape} and {y.shape}.")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN; drop or fill those models first.")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i: j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray, n_boot: int = 2000,
                    level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """AUROC with a percentile bootstrap interval over models: ``(auroc, low, high)``.

    >>> a, lo, hi = bootstrap_auroc([0.1, 0.2, 0.3, 0.9, 0.8, 0.7], [0, 0, 0, 1, 1, 1], n_boot=200)
    >>> a, lo <= a <= hi
    (1.0, True)
    """
    s, y = np.asarray(scores, dtype=float), np.asarray(labels).astype(bool)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(s), size=len(s))
        value = auroc(s[idx], y[idx])
        if not np.isnan(value):
            boots.append(value)
    a = auroc(s, y)
    if not boots:
        return a, float("nan"), float("nan")
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return a, float(lo), float(hi)


SETTING = ("n_layers", "n_heads", "weight_decay")


def _done(pop: xr.Dataset) -> xr.Dataset:
    """The members that finished training (all of them when the Dataset has no ``status``)."""
    return pop.isel(model=np.flatnonzero(pop["status"].values == "done")) if "status" in pop else pop


def _max_id_hierarchical(pop: xr.Dataset) -> np.ndarray:
    """Each model's max ID hierarchical-head score (0 where no head qualifies): the paper's predictor."""
    return pop["head_score"].sel(split="id", score="hierarchical").max(("layer", "head")).fillna(0).values


def _setting_keys(pop: xr.Dataset) -> np.ndarray:
    """(model, 3) float array of each model's (layers, heads, weight decay)."""
    return np.stack([np.asarray(pop[c].values, dtype=float) for c in SETTING], axis=1)


def setting_baseline(pop: xr.Dataset, target: np.ndarray, scheme: str = "loo") -> np.ndarray:
    """A hyperparameters-only predictor of ``target`` (bool per model), never using a model's own outcome.

    ``scheme="loo"``: the rate of ``target`` among the OTHER models of the same setting (layers, heads, weight decay):
    the analogue of the paper's random-split baseline. ``scheme="setting"`` (leave one setting out): the rate among
    models of the settings that differ from this one in exactly one hyperparameter, as a model of unseen settings
    must be predicted from its neighbours. Models with no reference get the overall rate of the others.

    >>> pop = xr.Dataset(coords={"n_layers": ("model", [1, 1, 2]), "n_heads": ("model", [2, 2, 2]),
    ...                          "weight_decay": ("model", [0.0, 0.0, 0.0])})
    >>> setting_baseline(pop, np.array([True, False, True])).tolist()
    [0.0, 1.0, 0.5]
    """
    if scheme not in ("loo", "setting"):
        raise ValueError(f"scheme must be 'loo' or 'setting', got {scheme!r}.")
    target = np.asarray(target, dtype=float)
    keys = _setting_keys(pop)
    out = np.empty(len(target))
    for i in range(len(target)):
        if scheme == "loo":
            ref = np.all(keys == keys[i], axis=1)
            ref[i] = False
        else:
            ref = np.sum(keys != keys[i], axis=1) == 1
        if not ref.any():
            ref = np.ones(len(target), bool)
            ref[i] = False
        out[i] = target[ref].mean()
    return out


def prediction_table(pop: xr.Dataset, threshold: float | str = 0.5, n_boot: int = 2000, seed: int = 0,
                     id_min: float | None = None) -> xr.Dataset:
    """AUROC (with bootstrap interval) of predictors of ``ood_accuracy >= threshold`` over a population Dataset.

    Predictors (coord ``predictor``): ``id_hierarchical`` (max ID hierarchical head score, the paper's),
    ``hyperparameters_loo`` and ``hyperparameters_setting`` (:func:`setting_baseline`). Only members with
    ``status == "done"`` (when that variable exists) are used, and with ``id_min`` only those whose ID accuracy is at
    least ``id_min`` (models that fit the training rule, as all of the paper's do). ``threshold="median"`` splits at
    the median OOD accuracy of the models used.

    >>> tab = prediction_table(workbench.load("data/dyck/population.nc"))     # doctest: +SKIP
    >>> float(tab.auroc.sel(predictor="id_hierarchical")) > 0.75              # doctest: +SKIP
    True
    """
    pop = _done(pop)
    if id_min is not None:
        pop = pop.isel(model=np.flatnonzero(pop["id_accuracy"].values >= id_min))
    if isinstance(threshold, str):
        if threshold != "median":
            raise ValueError(f"threshold must be a number or 'median', got {threshold!r}.")
        threshold = float(np.median(pop["ood_accuracy"].values))
    y = pop["ood_accuracy"].values >= threshold
    preds = {"id_hierarchical": _max_id_hierarchical(pop), "hyperparameters_loo": setting_baseline(pop, y, "loo"),
             "hyperparameters_setting": setting_baseline(pop, y, "setting")}
    rows = np.array([bootstrap_auroc(v, y, n_boot=n_boot, seed=seed) for v in preds.values()])
    return xr.Dataset({"auroc": ("predictor", rows[:, 0]), "low": ("predictor", rows[:, 1]),
                       "high": ("predictor", rows[:, 2])},
                      coords={"predictor": list(preds)},
                      attrs={"threshold": float(threshold), "n_models": int(len(y)), "n_positive": int(y.sum()),
                             "n_boot": n_boot, "id_min": -1.0 if id_min is None else float(id_min)})


def within_group_auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray,
                       groups: Sequence[Any] | np.ndarray) -> tuple[float, int]:
    """AUROC counted over (positive, negative) pairs from the SAME group only: ``(auroc, n_pairs)``.

    With groups = hyperparameter settings this asks whether a score ranks models that share every hyperparameter,
    which no hyperparameters-only predictor can do (it ties every such pair: exactly 0.5). The stratified analogue of
    evaluating on one held-out setting at a time. NaN when no group holds both classes.

    >>> within_group_auroc([0.9, 0.1, 0.2, 0.8], [1, 0, 1, 0], ["a", "a", "b", "b"])
    (0.5, 2)
    """
    s, y, g = np.asarray(scores, dtype=float), np.asarray(labels).astype(bool), np.asarray(groups)
    if not (s.shape == y.shape == g.shape[:1]) or s.ndim != 1:
        raise ValueError(f"scores, labels and groups must have one entry per model, got shapes {s.shape}, {y.shape} "
                         f"and {g.shape}.")
    wins, pairs = 0.0, 0
    for key in np.unique(g, axis=0):
        m = np.all((g == key).reshape(len(g), -1), axis=1)
        pos, neg = s[m & y], s[m & ~y]
        if pos.size and neg.size:
            diff = pos[:, None] - neg[None, :]
            wins += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
            pairs += diff.size
    return (wins / pairs if pairs else float("nan")), pairs


def within_setting_auroc(pop: xr.Dataset, threshold: float = 0.5, n_boot: int = 2000, seed: int = 0,
                         level: float = 0.95) -> xr.Dataset:
    """:func:`within_group_auroc` of the max ID hierarchical score for ``ood_accuracy >= threshold``, the groups being
    hyperparameter settings (layers, heads, weight decay), with a bootstrap interval that resamples settings.

    A hyperparameters-only predictor scores exactly 0.5 here by construction, so this isolates what the head score
    adds beyond the hyperparameters (the question of the paper's leave-one-setting-out evaluation).

    >>> res = within_setting_auroc(workbench.load("data/dyck/population.nc"))     # doctest: +SKIP
    >>> res.auroc.item(), res.attrs["n_pairs"]                                     # doctest: +SKIP
    (0.52..., 42)
    """
    pop = _done(pop)
    y = pop["ood_accuracy"].values >= threshold
    hier = _max_id_hierarchical(pop)
    keys = _setting_keys(pop)
    value, pairs = within_group_auroc(hier, y, keys)
    settings = np.unique(keys, axis=0)
    members = [np.flatnonzero(np.all(keys == k, axis=1)) for k in settings]
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(members), size=len(members))
        idx = np.concatenate([members[i] for i in pick])
        tag = np.concatenate([np.full(len(members[i]), j) for j, i in enumerate(pick)])  # resampled copies stay apart
        b, _ = within_group_auroc(hier[idx], y[idx], tag)
        if not np.isnan(b):
            boots.append(b)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if boots else (np.nan, np.nan)
    n_mixed = sum(bool(y[m].any() and (~y[m]).any()) for m in members)
    return xr.Dataset({"auroc": value, "low": float(lo), "high": float(hi)},
                      attrs={"n_pairs": pairs, "n_settings": len(members), "n_settings_mixed": n_mixed,
                             "threshold": float(threshold), "n_boot": n_boot})


# -------------------------------------------------------------------------------------------------------- ablations
def mean_patterns(model: Model, strings: Sequence[str] | task.DyckSet, batch_size: int = 256) -> dict[int, np.ndarray]:
    """Dataset-mean attention pattern of every head, per string length: ``{n_brackets: (layer, head, n+2, n+2)}``.

    Strings of different lengths cannot share one pattern, so the mean is taken over the strings of each length.

    >>> means = mean_patterns(load_model("dyck-hierarchical"), task.ood_set(0, 100))   # doctest: +SKIP
    >>> means[8].shape[-2:]                                                            # doctest: +SKIP
    (10, 10)
    """
    strings = _strings(strings)
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for i in range(0, len(strings), batch_size):
        chunk = strings[i: i + batch_size]
        att = attention(model, [task.to_text(s) for s in chunk]).values
        for j, s in enumerate(chunk):
            n = len(s) + 2
            sums[len(s)] = sums.get(len(s), 0) + att[j, :, :, :n, :n]
            counts[len(s)] = counts.get(len(s), 0) + 1
    return {k: sums[k] / counts[k] for k in sums}


def _pattern_tensor(kind: str, model: Model, strings: list[str], batch, layer: int, head: int,
                    means: Mapping[int, np.ndarray] | None) -> torch.Tensor:
    """The replacement pattern of one head for a left-padded batch: (batch, width, width)."""
    width = batch.padded_length
    out = torch.zeros((len(strings), width, width))
    for i, (s, off) in enumerate(zip(strings, batch.offsets)):
        n, off = len(s) + 2, int(off)
        if kind == "uniform":
            p = torch.tril(torch.ones(n, n)) / torch.arange(1, n + 1, dtype=torch.float32)[:, None]
        else:
            p = torch.as_tensor(np.asarray(means[len(s)][layer, head], dtype=np.float32))
        out[i, off:, off:] = p
    return out


def ablate(model: Model, strings: Sequence[str] | task.DyckSet, heads: Iterable[tuple[int, int]], kind: str = "mean",
           means: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
    """(FALSE, TRUE) logits at ``[end]`` with the attention pattern of each ``(layer, head)`` replaced, shape (n, 2).

    ``kind="uniform"``: every query attends uniformly to its causal prefix. ``kind="mean"``: the dataset-mean pattern
    of that head for strings of the same length (``means`` from :func:`mean_patterns`; computed on ``strings`` when
    omitted). ``kind="given"`` with ``means`` maps lengths to patterns too, e.g. a single string's own pattern (a no-op
    ablation, used in tests). The replacement happens inside the forward pass through nnsight: the per-head output of
    the attention interface (``attn.source.attention_interface_1``) is recomputed as ``pattern @ value``.

    >>> logits = ablate(load_model("dyck-violation"), ["()()"], [(1, 0)], "uniform")   # doctest: +SKIP
    """
    if kind not in ("uniform", "mean", "given"):
        raise ValueError(f"kind must be 'uniform', 'mean' or 'given', got {kind!r}.")
    strings = _strings(strings)
    heads = sorted({(int(l), int(h)) for l, h in heads})
    for l, h in heads:
        if not (0 <= l < model.n_layers and 0 <= h < model.n_heads):
            raise ValueError(f"heads holds ({l}, {h}), outside {model.n_layers} layers x {model.n_heads} heads.")
    if kind == "mean" and means is None:
        means = mean_patterns(model, strings)
    if kind == "given" and means is None:
        raise ValueError("kind='given' needs means={length: (layer, head, n+2, n+2) pattern}.")
    if kind != "uniform":
        missing = sorted({len(s) for s in strings} - set(means))
        if missing:
            raise ValueError(f"means has no pattern for string length(s) {missing}.")
    batch = model.tokenize([task.to_text(s) for s in strings], argument="strings")
    patterns = {(l, h): _pattern_tensor("uniform" if kind == "uniform" else "mean", model, strings, batch, l, h, means)
                for l, h in heads}
    layers = sorted({l for l, _ in heads})
    modules = {l: model.attention_module(l) for l in layers}
    unembed = model.unembed
    with torch.no_grad(), model.trace(batch):
        for l in layers:
            interface = modules[l].source.attention_interface_1
            value = interface.inputs[0][3]  # (batch, head, seq, head_dim)
            out = interface.output[0]  # (batch, seq, head, head_dim)
            for ll, h in heads:
                if ll == l:
                    out[:, :, h, :] = torch.matmul(patterns[(l, h)], value[:, h])
        logits = nnsight.save(unembed.output[:, -1, :2])
    return logits.detach().float().numpy()


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(-1) == labels).mean())


def ablation_effects(model: Model, data: task.DyckSet, kinds: Sequence[str] = ("mean", "uniform"),
                     all_heads: bool = True) -> xr.DataArray:
    """Accuracy on ``data`` after ablating each head alone (and, with ``all_heads``, every head at once), minus the
    clean accuracy: DataArray (layer, head, kind); the all-heads effect is ``attrs["all_heads"]`` per kind.

    >>> eff = ablation_effects(load_model("dyck-violation"), task.ood_set(0, 100))    # doctest: +SKIP
    >>> eff.dims                                                                      # doctest: +SKIP
    ('layer', 'head', 'kind')
    """
    clean = _accuracy(ablate(model, data, [], "uniform"), data.labels)
    means = mean_patterns(model, data) if "mean" in kinds else None
    values = np.full((model.n_layers, model.n_heads, len(kinds)), np.nan)
    all_effect = {}
    for k, kind in enumerate(kinds):
        for l in range(model.n_layers):
            for h in range(model.n_heads):
                values[l, h, k] = _accuracy(ablate(model, data, [(l, h)], kind, means), data.labels) - clean
        if all_heads:
            every = [(l, h) for l in range(model.n_layers) for h in range(model.n_heads)]
            all_effect[kind] = _accuracy(ablate(model, data, every, kind, means), data.labels) - clean
    return xr.DataArray(values, dims=("layer", "head", "kind"),
                        coords={"layer": np.arange(model.n_layers), "head": np.arange(model.n_heads),
                                "kind": list(kinds)},
                        name="ablation_effect",
                        attrs=model.provenance("ablation_effects", clean_accuracy=clean, data=data.kind,
                                               **{f"all_heads_{k}": v for k, v in all_effect.items()}))


def ablation_by_type(pop: xr.Dataset, threshold: float = 0.8, kind: str = "mean", split: str = "id") -> xr.Dataset:
    """Mean change in OOD accuracy when one head is ablated, grouped by the head's type: Dataset on ``type``.

    A head is of type T when its ``split`` score for T is >= ``threshold`` (types overlap: a sign-matching head is also
    violation-detecting or non-negative on most strings); ``other`` holds heads of no type. Uses the population's
    ``ablation_effect`` (model, layer, head, kind). Returns ``effect`` (mean), ``sem`` (standard error), ``n_heads``
    and ``n_models`` per type, and ``frac_negative`` (share of those heads whose ablation lowered OOD accuracy).

    >>> tab = ablation_by_type(workbench.load("data/dyck/population.nc"))      # doctest: +SKIP
    >>> list(tab.type.values)                                                  # doctest: +SKIP
    ['violation_detecting', 'nonnegative', 'sign_matching', 'hierarchical', 'other']
    """
    if "ablation_effect" not in pop:
        raise ValueError("pop has no 'ablation_effect' variable; train the population with ablations.")
    if kind not in list(pop["kind"].values):
        raise ValueError(f"kind must be one of {list(pop['kind'].values)}, got {kind!r}.")
    pop = _done(pop)
    sc = pop["head_score"].sel(split=split).transpose("model", "layer", "head", "score").values
    eff = pop["ablation_effect"].sel(kind=kind).transpose("model", "layer", "head").values
    real = ~np.isnan(eff) & ~np.isnan(sc).all(-1)
    typed = np.nan_to_num(sc, nan=-1) >= threshold
    masks = {t: typed[..., i] & real for i, t in enumerate(HEAD_SCORE_TYPES)}
    masks["other"] = ~typed.any(-1) & real
    rows = {"effect": [], "sem": [], "n_heads": [], "n_models": [], "frac_negative": []}
    for m in masks.values():
        e = eff[m]
        rows["effect"].append(float(e.mean()) if e.size else np.nan)
        rows["sem"].append(float(e.std(ddof=1) / np.sqrt(e.size)) if e.size > 1 else np.nan)
        rows["n_heads"].append(int(e.size))
        rows["n_models"].append(int(m.any((1, 2)).sum()))
        rows["frac_negative"].append(float((e < 0).mean()) if e.size else np.nan)
    return xr.Dataset({k: ("type", v) for k, v in rows.items()}, coords={"type": list(masks)},
                      attrs={"threshold": threshold, "kind": kind, "split": split})
