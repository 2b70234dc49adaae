"""Activation patching and attribution patching: which activations carry the answer from one prompt to another.

Take a clean prompt ("When Mary and John went to the store, John gave a drink to" -> " Mary") and a corrupted one of
the same token length that points elsewhere ("... Mary gave a drink to" -> " John"). **Activation patching** copies
one activation of the clean run into the corrupted run (denoising; noising is the mirror) and measures how far a
metric moves back (Vig et al. 2020; Meng et al. 2022, arXiv 2202.05262; Wang et al. 2022, arXiv 2211.00593). The
effect is normalised, ``(m(patched) - m(corrupted)) / (m(clean) - m(corrupted))``: 1 = that activation alone restores
the clean answer, 0 = it changes nothing. **Attribution patching** (Nanda 2023; Syed et al. 2023, arXiv 2310.10348)
estimates every cell at once to first order, ``(a_clean - a_corrupted) . dm/da`` at the corrupted run, from one
forward and one backward pass; MIB (arXiv 2504.13151) ranks it among the best localisation methods, and an estimate
is only trusted beside its exact counterpart, so its Pearson r against an exact map is kept.

Sites (the residual-layer convention of :mod:`workbench.analyses.core`):

* ``resid``: the residual stream; layer 0 = block 0's input (the embeddings), layer l = the output of block l-1;
* ``attn``: block l's attention output (its output projection's output);
* ``mlp``: block l's MLP output;
* heads (``heads=True``): each head's output before the output projection, i.e. its slice of the projection's
  input, which is laid out by query head on grouped-query models too (SmolLM2, Gemma-3), where several query heads
  share one key/value head.

A cell patches one position, or with ``spans`` a set of positions together (multi-token patching, used by
arXiv 2604.08524 to locate the circuits steering vectors use). **Batched:** many patched runs share one traced pass:
the batch is ``[source, target, target, ...]`` and, layer by layer in execution order, each target row takes the
source row's activation at its cell from the same pass, so no activation leaves the model and ``remote=True`` works.
Only the metric of each run and the top-k logit changes at the final position are saved. Chunks bound memory.
Cells that lie wholly before the first token where the two prompts differ are not run: attention is causal, so every
activation there is the same in both runs and such a patch is exactly a no-op (effect 0, no logit change).
**Built-in checks:** every sweep verifies that a whole-input patch reproduces the source run exactly (a patch that
changed nothing would not) and that the unpatched rows agree across chunks (a batch that zeroed a sequence would not);
``check=True`` also patches clean into clean (effect 1 at every cell) and corrupted into corrupted (0).

>>> import workbench as wb                                                            # doctest: +SKIP
>>> ds = wb.patch(wb.load_model("smollm2-135m"),
...               [("The Eiffel Tower is located in the city of", "The Colosseum is located in the city of")],
...               metric=wb.logit_diff(" Paris", " Rome"), sites=("resid",))           # doctest: +SKIP
>>> ds.effect.sel(site="resid").isel(pair=0).dims                                     # doctest: +SKIP
('layer', 'position')
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nnsight
import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from workbench.analyses.core import _keep_logits, _no_cache
from workbench.analyses.metrics import Metric, MetricError, as_metric, check_shape, logit_diff
from workbench.backend.model import Batch, Model
from workbench.data import PATCH_SITES
from workbench.zoo.tasks.interventions import Pair

DIRECTIONS = ("denoise", "noise")
LAYER_CONVENTION = ("resid: layer 0 = block 0's input (embeddings), layer l = output of block l-1; attn, mlp, heads: "
                    "block l")
#: Bytes a chunk of patched runs may use for activations (a rough bound: every run of a chunk is alive at once).
MEMORY_BUDGET = 1 << 29
#: Largest tolerated |m(whole-input patch) - m(source)| relative to 1 + |m(source)|, and drift of unpatched rows.
CHECK_TOLERANCE = 1e-4
#: A logit change below this is no change (top-k lists hold -1 / NaN there, not an arbitrary order of ties).
NO_CHANGE = 1e-6


class PatchingError(ValueError):
    """Input patching cannot use; the message names the argument, what was expected and what came."""


# ------------------------------------------------------------------------------------------------------------ inputs
def as_pairs(pairs: Any) -> list[Pair]:
    """Pairs from a list of ``(clean, corrupted)`` or ``(clean, corrupted, answer, wrong)`` tuples, of
    :class:`~workbench.zoo.tasks.interventions.Pair`, or a task object with a ``pairs`` attribute or method.

    >>> as_pairs([("a b", "a c", " b", " c")])[0].answer
    ' b'
    """
    source = getattr(pairs, "pairs", pairs)
    source = source() if callable(source) else source
    if isinstance(source, (str, bytes, Pair)) or not hasattr(source, "__iter__"):
        raise PatchingError(f"pairs must be a list of (clean, corrupted) prompt pairs, got {type(pairs).__name__}.")
    out = []
    for i, item in enumerate(source):
        if isinstance(item, Pair):
            out.append(item)
        elif isinstance(item, (tuple, list)) and len(item) in (2, 4) and all(isinstance(s, str) for s in item):
            out.append(Pair(*item))
        else:
            raise PatchingError(f"pairs[{i}] must be a (clean, corrupted) or (clean, corrupted, answer, wrong) tuple "
                                f"of strings, got {item!r}.")
        if not out[-1].clean.strip() or not out[-1].corrupted.strip():
            raise PatchingError(f"pairs[{i}] has an empty prompt: {item!r}.")
    if not out:
        raise PatchingError("pairs is empty; give at least one (clean, corrupted) prompt pair.")
    return out


def _metrics(metric: Any, pairs: list[Pair]) -> list[Metric]:
    if metric is None:
        missing = [i for i, p in enumerate(pairs) if not (p.answer and p.wrong)]
        if missing:
            raise PatchingError(f"metric is None, so each pair must carry its answer and wrong token, but pairs "
                                f"{missing[:5]} do not; pass metric=wb.logit_diff(right, wrong).")
        return [logit_diff(p.answer, p.wrong) for p in pairs]
    if isinstance(metric, Sequence) and not isinstance(metric, str):
        if len(metric) != len(pairs):
            raise PatchingError(f"metric is a list of {len(metric)} metrics for {len(pairs)} pairs; give one per pair.")
        return [as_metric(m, f"metric[{i}]") for i, m in enumerate(metric)]
    return [as_metric(metric)] * len(pairs)


def _check_choice(name: str, values: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise PatchingError(f"{name} must be a non-empty subset of {list(allowed)}, got {list(values)!r}.")
    return tuple(dict.fromkeys(values))


def _check_indices(name: str, values: Sequence[int] | None, n: int, what: str) -> list[int]:
    if values is None:
        return list(range(n))
    values = [values] if isinstance(values, (int, np.integer)) else list(values)
    bad = [v for v in values if not isinstance(v, (int, np.integer)) or not 0 <= v < n]
    if bad or not values:
        raise PatchingError(f"{name} must hold {what} in 0..{n - 1}, got {bad or values!r}.")
    return sorted(set(int(v) for v in values))


@dataclass(frozen=True)
class Spans:
    """The x axis of a map: one slot per position, or named sets of positions patched together."""

    labels: tuple[str, ...]
    positions: tuple[tuple[int, ...], ...]
    per_position: bool


def _spans(spans: Any, length: int) -> Spans:
    if spans is None:
        return Spans(tuple(str(p) for p in range(length)), tuple((p,) for p in range(length)), True)
    items = list(spans.items()) if isinstance(spans, Mapping) else [(None, s) for s in spans]
    if not items:
        raise PatchingError("spans is empty; give lists of positions to patch together, or None for one per token.")
    labels, positions = [], []
    for i, (label, span) in enumerate(items):
        span = [span] if isinstance(span, (int, np.integer)) else list(span)
        where = f"spans[{label!r}]" if label is not None else f"spans[{i}]"
        bad = [p for p in span if not isinstance(p, (int, np.integer)) or not -length <= p < length]
        if bad or not span:
            raise PatchingError(f"{where} must hold positions in 0..{length - 1} (negative counts from the end), got "
                                f"{bad or span!r}.")
        span = sorted({int(p) % length for p in span})
        positions.append(tuple(span))
        labels.append(str(label) if label is not None else (f"{span[0]}-{span[-1]}" if len(span) > 1 and
                                                             span == list(range(span[0], span[-1] + 1))
                                                             else ",".join(map(str, span))))
    return Spans(tuple(labels), tuple(positions), False)


@dataclass
class _Prepared:
    """One pair, tokenized and checked."""

    pair: Pair
    source_ids: torch.Tensor  # (T,)
    target_ids: torch.Tensor  # (T,)
    clean_tokens: np.ndarray
    corrupted_tokens: np.ndarray
    fn: Any  # the bound metric
    metric: Metric
    spans: Spans


def _prepare(model: Model, pairs: list[Pair], metrics: list[Metric], direction: str, spans: Any) -> list[_Prepared]:
    vocab = int(getattr(model.config, "vocab_size", 0) or len(model.tokenizer))
    out, bound = [], {}
    for i, (pair, metric) in enumerate(zip(pairs, metrics)):
        clean = model.tokenize(pair.clean, argument=f"pairs[{i}].clean").token_ids[0]
        corrupted = model.tokenize(pair.corrupted, argument=f"pairs[{i}].corrupted").token_ids[0]
        if len(clean) != len(corrupted):
            raise PatchingError(
                f"pairs[{i}]: the clean and corrupted prompts tokenize to different lengths ({len(clean)} vs "
                f"{len(corrupted)}), so their positions do not line up: clean {list(model.token_strings(clean))} / "
                f"corrupted {list(model.token_strings(corrupted))}.")
        if id(metric) not in bound:
            fn = metric.bind(model)
            check_shape(fn, vocab, metric.name)
            bound[id(metric)] = fn
        ids = torch.as_tensor(clean), torch.as_tensor(corrupted)
        src, tgt = ids if direction == "denoise" else ids[::-1]
        out.append(_Prepared(pair, src, tgt, model.token_strings(clean), model.token_strings(corrupted),
                             bound[id(metric)], metric, _spans(spans, len(clean))))
    return out


# ------------------------------------------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class _Cell:
    """One patched run: ``kind`` in resid/attn/mlp/head, at ``layer`` (and ``head``), over ``positions``; ``slot`` is
    its index along the map's x axis (-1: the whole-input check)."""

    kind: str
    layer: int
    head: int
    slot: int
    positions: tuple[int, ...]


def _cells(sites: Sequence[str], layers: list[int], n_layers: int, heads: list[int] | None, spans: Spans) -> list[_Cell]:
    cells = []
    for site in sites:
        site_layers = [l for l in layers if l <= n_layers] if site == "resid" else [l for l in layers if l < n_layers]
        cells += [_Cell(site, l, -1, s, pos) for l in site_layers for s, pos in enumerate(spans.positions)]
    if heads is not None:
        head_spans = spans.positions if not spans.per_position else (tuple(range(len(spans.positions))),)
        cells += [_Cell("head", l, h, s, pos) for l in layers if l < n_layers for h in heads
                  for s, pos in enumerate(head_spans)]
    return cells


def _plan(cells: Sequence[_Cell], first_row: int) -> dict[tuple[str, int], tuple[torch.Tensor, ...]]:
    """Per (kind, layer): the batch rows and positions (and heads) to overwrite, as index tensors."""
    plan: dict[tuple[str, int], list[list[int]]] = {}
    for r, cell in enumerate(cells, start=first_row):
        rows, pos, hds = plan.setdefault((cell.kind, cell.layer), [[], [], []])
        rows += [r] * len(cell.positions)
        pos += list(cell.positions)
        hds += [cell.head] * len(cell.positions)
    return {k: tuple(torch.tensor(v, dtype=torch.long) for v in lists) for k, lists in plan.items()}


def _row_bytes(model: Model, length: int) -> int:
    c = model.config
    hidden = int(getattr(c, "hidden_size", 0) or getattr(c, "n_embd", 0) or 512)
    inner = int(getattr(c, "intermediate_size", 0) or getattr(c, "n_inner", 0) or 4 * hidden)
    vocab = int(getattr(c, "vocab_size", 0) or 50_000)
    return 4 * length * (8 * hidden + 3 * inner + 2 * model.n_heads * length) + 12 * vocab


def _batch(ids: torch.Tensor) -> Batch:
    """Rows of equal length: no padding."""
    n, length = ids.shape
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
              "position_ids": torch.arange(length).expand(n, length).clone()}
    return Batch(inputs=inputs, token_ids=[r.numpy() for r in ids], offsets=np.zeros(n, dtype=int), single=False,
                 texts=[""] * n)


def _run_chunk(model: Model, prep: _Prepared, source: torch.Tensor, target: torch.Tensor, cells: Sequence[_Cell],
               top_k: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One traced pass over ``[source, target, target x len(cells)]``; every target row but the first takes the
    source row's activation at its cell. Returns the metric of every row, and the top-k logit changes of each patched
    row against the unpatched target at the final position (ids, changes)."""
    rows = 2 + len(cells)
    ids = torch.cat([source[None], target[None].expand(rows - 1, -1)])
    plan = _plan(cells, first_row=2)
    n_layers = model.n_layers
    blocks = list(model.blocks)  # bound before the trace: the body must not touch `model` (see analyses.core)
    attn_out = [model.attn_out_module(l) for l in range(n_layers)] if any(k[0] in ("attn", "head") for k in plan) \
        else [None] * n_layers
    mlp = [model.mlp_module(l) for l in range(n_layers)] if any(k[0] == "mlp" for k in plan) else [None] * n_layers
    unembed, cap, fn, n_heads = model.unembed, model.logit_softcap, prep.fn, model.n_heads
    extra = {**_no_cache(model), **_keep_logits(model)}
    with torch.no_grad(), model.trace(_batch(ids), **extra):
        for layer in range(n_layers):
            if ("resid", layer) in plan:
                r, p, _ = plan[("resid", layer)]
                x = blocks[layer].input
                x[r, p] = x[0, p]
            if ("head", layer) in plan:
                r, p, h = plan[("head", layer)]
                z = attn_out[layer].input
                z = z.view(*z.shape[:-1], n_heads, z.shape[-1] // n_heads)
                z[r, p, h] = z[0, p, h]
            if ("attn", layer) in plan:
                r, p, _ = plan[("attn", layer)]
                a = attn_out[layer].output
                a[r, p] = a[0, p]
            if ("mlp", layer) in plan:
                r, p, _ = plan[("mlp", layer)]
                m = mlp[layer].output
                m[r, p] = m[0, p]
        if ("resid", n_layers) in plan:
            r, p, _ = plan[("resid", n_layers)]
            o = blocks[n_layers - 1].output
            o[r, p] = o[0, p]
        logits = unembed.output[:, -1].float()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        values = fn(logits).save()
        if top_k and rows > 2:
            delta = logits[2:] - logits[1]
            top_ids = delta.abs().topk(top_k, dim=-1).indices.save()
            top_changes = delta.gather(-1, top_ids).save()
    values = values.detach().float().numpy()
    if not (top_k and rows > 2):
        return values, None, None
    ids_out, changes_out = top_ids.numpy().astype(np.int32), top_changes.detach().float().numpy()
    still = np.abs(changes_out) < NO_CHANGE  # a patch that moved no logit has no top changes, only ties at zero
    ids_out[still], changes_out[still] = -1, np.nan
    return values, ids_out, changes_out


# ------------------------------------------------------------------------------------------------------------ sweeps
@dataclass
class _Sweep:
    """Raw results of one pair's sweep, in cell order."""

    source_metric: float
    target_metric: float
    values: np.ndarray
    top_ids: np.ndarray | None
    top_changes: np.ndarray | None


def _sweep(model: Model, prep: _Prepared, source: torch.Tensor, target: torch.Tensor, cells: list[_Cell], top_k: int,
           memory_budget: int, progress: Any, skip_shared: bool = True) -> _Sweep:
    """Every cell of one pair in chunks, with the whole-input check and the unpatched rows' drift check.

    With ``skip_shared``, cells that lie wholly before the first token where source and target differ are not run:
    attention is causal, so every activation there is the same in both runs and the patch is exactly a no-op (the
    target's own metric, no logit change). Head cells span the differing tokens and always run."""
    length = len(target)
    differ = np.flatnonzero((source != target).numpy())
    shared = int(differ[0]) if differ.size else length
    run = [i for i, c in enumerate(cells) if not (skip_shared and c.kind != "head" and max(c.positions) < shared)]
    sentinel = _Cell("resid", 0, -1, -1, tuple(range(length)))
    per_chunk = max(1, min(len(run) + 1, memory_budget // _row_bytes(model, length) - 2))
    queue = [sentinel] + [cells[i] for i in run]
    values, ids, changes, refs = [], [], [], []
    for start in range(0, len(queue), per_chunk):
        chunk = queue[start:start + per_chunk]
        v, i, c = _run_chunk(model, prep, source, target, chunk, top_k)
        refs.append(v[:2])
        values.append(v[2:])
        if i is not None:
            ids.append(i)
            changes.append(c)
        progress.update(len(chunk) - (start == 0))
    progress.update(len(cells) - len(run))
    source_metric, target_metric = (float(x) for x in refs[0])
    drift = max(float(np.abs(r - refs[0]).max()) for r in refs)
    scale = 1.0 + abs(source_metric) + abs(target_metric)
    if not np.isfinite(drift) or drift > CHECK_TOLERANCE * scale:
        raise PatchingError(f"the unpatched source/target runs changed between batches by {drift:.3g} (metric "
                            f"{prep.metric.name}); a batch corrupted a sequence, so no result is returned.")
    ran = np.concatenate(values)
    whole = float(ran[0])
    if not np.isfinite(whole) or abs(whole - source_metric) > CHECK_TOLERANCE * scale:
        raise PatchingError(f"patching the whole input of the source run into the target run gave metric {whole:.6g}, "
                            f"not the source run's {source_metric:.6g}: the patch did not take effect, so no result "
                            "is returned.")
    out = np.full(len(cells), target_metric, dtype=np.float64)
    out[run] = ran[1:]
    top_ids = top_changes = None
    if top_k:
        top_ids = np.full((len(cells), top_k), -1, np.int32)
        top_changes = np.full((len(cells), top_k), np.nan, np.float32)
        if ids:
            top_ids[run], top_changes[run] = np.concatenate(ids)[1:], np.concatenate(changes)[1:]
    return _Sweep(source_metric, target_metric, out, top_ids, top_changes)


def _effect(values: np.ndarray, clean: float, corrupted: float, direction: str) -> np.ndarray:
    """Normalised effect: 1 = the patch moves the metric all the way to the source run's value, 0 = not at all."""
    base, goal = (corrupted, clean) if direction == "denoise" else (clean, corrupted)
    span = goal - base
    if not np.isfinite(span) or abs(span) < 1e-8:
        return np.full_like(values, np.nan)
    return (values - base) / span


# ----------------------------------------------------------------------------------------------------------- patch
def patch(model: Model, pairs: Any, metric: Any = None, sites: Sequence[str] = PATCH_SITES, heads: bool = False,
          spans: Any = None, direction: str = "denoise", *, layers: Sequence[int] | None = None,
          head_indices: Sequence[int] | None = None, top_k: int = 10, check: bool = False,
          skip_shared_prefix: bool = True, memory_budget: int = MEMORY_BUDGET, progress: bool = True) -> xr.Dataset:
    """Activation patching over every (site, layer, position) cell, batched: Dataset
    ``effect``/``metric`` (pair, site, layer, position), see :func:`workbench.data.validate_patching`.

    ``pairs``: (clean, corrupted) prompts of equal token length, ``(clean, corrupted, answer, wrong)`` tuples, or a task
    object. ``metric``: ``wb.logit_diff(right, wrong)``, ``wb.prob(answer)``, a callable on the final position's logits
    ``(runs, vocab) -> (runs,)``, one per pair, or None (each pair's ``logit_diff(answer, wrong)``). ``sites``: any of
    resid/attn/mlp; ``heads=True`` adds ``head_effect`` (pair, layer, head), each head patched at every position (or
    per span). ``spans``: lists of positions patched together (a dict names them), replacing the one-per-token
    ``position`` axis by ``span``. ``direction``: "denoise" (clean activations into the corrupted run) or "noise"
    (corrupted into clean; the effect is the mirror, 1 = the patch breaks the answer). ``layers``/``head_indices``
    restrict the sweep. ``check=True`` also runs the identity checks (clean into clean gives 1 everywhere, corrupted
    into corrupted 0) and raises if they fail. The top ``top_k`` logit changes of each patched run at the final
    position are kept (``top_token_id``, ``top_change``). Cells wholly before the first differing token are exact
    no-ops and are filled in without a run (``skip_shared_prefix=False`` runs them too).

    >>> ds = patch(model, [("When Mary and John went to the store, John gave a drink to",
    ...                     "When Mary and John went to the store, Mary gave a drink to")],
    ...            metric=logit_diff(" Mary", " John"), sites=("resid",))                  # doctest: +SKIP
    """
    pairs = as_pairs(pairs)
    sites = _check_choice("sites", sites, PATCH_SITES) if sites else ()
    if not sites and not heads:
        raise PatchingError("sites is empty and heads=False: nothing to patch; name sites from "
                            f"{list(PATCH_SITES)} or set heads=True.")
    direction = _check_choice("direction", (direction,), DIRECTIONS)[0]
    if not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise PatchingError(f"top_k must be a count >= 0, got {top_k!r}.")
    n_layers = model.n_layers
    layer_list = _check_indices("layers", layers, n_layers + 1, "residual layers")
    head_list = _check_indices("head_indices", head_indices, model.n_heads, "heads") if heads else None
    if head_indices is not None and not heads:
        raise PatchingError("head_indices is given but heads=False; set heads=True to patch heads.")
    _check_modules(model, sites, heads)
    top_k = int(min(top_k, int(getattr(model.config, "vocab_size", top_k) or top_k)))
    prepared = _prepare(model, pairs, _metrics(metric, pairs), direction, spans)
    plans = [_cells(sites, layer_list, n_layers, head_list, p.spans) for p in prepared]
    total = sum(len(c) for c in plans) * (3 if check else 1)
    sweeps, checks = [], []
    with tqdm(total=total, desc="patching", unit="run", disable=not progress) as bar:
        for prep, cells in zip(prepared, plans):
            sweeps.append(_sweep(model, prep, prep.source_ids, prep.target_ids, cells, top_k, memory_budget, bar,
                                 skip_shared=skip_shared_prefix))
        if check:
            for prep, cells, sweep in zip(prepared, plans, sweeps):
                clean, corrupted = _clean_corrupted(sweep, direction)
                for ids, expected in ((_clean_ids(prep, direction), 1.0), (_corrupted_ids(prep, direction), 0.0)):
                    same = _sweep(model, prep, ids, ids, cells, 0, memory_budget, bar, skip_shared=False)
                    err = np.abs(_effect(same.values, clean, corrupted, direction) - expected)
                    checks.append(float(np.nanmax(err)) if err.size else 0.0)
    if check and max(checks) > 1e-3:
        raise PatchingError(f"the identity checks failed: patching clean into clean / corrupted into corrupted is off "
                            f"by up to {max(checks):.3g} in normalised effect (expected 1 / 0 at every cell).")
    ds = _assemble(model, prepared, plans, sweeps, sites, head_list, direction, "exact")
    if check:
        ds.attrs["identity_check_max_error"] = max(checks)
    return ds


def _check_modules(model: Model, sites: Sequence[str], heads: bool) -> None:
    try:
        if "attn" in sites or heads:
            model.attn_out_module(0)
        if "mlp" in sites:
            model.mlp_module(0)
    except AttributeError as e:
        raise PatchingError(f"sites={list(sites)}{', heads=True' if heads else ''}: {e}") from None


def _clean_corrupted(sweep: _Sweep, direction: str) -> tuple[float, float]:
    if direction == "denoise":
        return sweep.source_metric, sweep.target_metric
    return sweep.target_metric, sweep.source_metric


def _clean_ids(prep: _Prepared, direction: str) -> torch.Tensor:
    return prep.source_ids if direction == "denoise" else prep.target_ids


def _corrupted_ids(prep: _Prepared, direction: str) -> torch.Tensor:
    return prep.target_ids if direction == "denoise" else prep.source_ids


# -------------------------------------------------------------------------------------------------------- dataset
def _assemble(model: Model, prepared: list[_Prepared], plans: list[list[_Cell]], sweeps: list[_Sweep],
              sites: Sequence[str], heads: list[int] | None, direction: str, method: str) -> xr.Dataset:
    """The Dataset of :func:`workbench.data.validate_patching` from per-pair sweeps (exact) or estimates."""
    n_pairs, n_layers = len(prepared), model.n_layers
    per_position = prepared[0].spans.per_position
    if not per_position and len({p.spans.labels for p in prepared}) != 1:
        raise PatchingError("spans must give the same named spans for every pair.")
    width = max(len(p.target_ids) for p in prepared) if per_position else len(prepared[0].spans.labels)
    x = "position" if per_position else "span"
    layers = np.arange(n_layers + 1)
    shape = (n_pairs, len(sites), n_layers + 1, width)
    effect, raw = np.full(shape, np.nan, np.float32), np.full(shape, np.nan, np.float32)
    head_spans = 1 if per_position else width
    hshape = (n_pairs, n_layers + 1, model.n_heads, head_spans)  # the shared layer axis: no head at layer n_layers
    head_effect, head_raw = np.full(hshape, np.nan, np.float32), np.full(hshape, np.nan, np.float32)
    k = sweeps[0].top_ids.shape[1] if sweeps and sweeps[0].top_ids is not None else 0
    top_ids = np.full(shape + (k,), -1, np.int32)
    top_changes = np.full(shape + (k,), np.nan, np.float32)
    head_top_ids = np.full(hshape + (k,), -1, np.int32)
    head_top_changes = np.full(hshape + (k,), np.nan, np.float32)
    clean_m, corrupted_m = np.zeros(n_pairs, np.float32), np.zeros(n_pairs, np.float32)
    site_index = {s: i for i, s in enumerate(sites)}
    for i, (cells, sweep) in enumerate(zip(plans, sweeps)):
        clean, corrupted = _clean_corrupted(sweep, direction)
        clean_m[i], corrupted_m[i] = clean, corrupted
        values = _effect(sweep.values, clean, corrupted, direction)
        for j, cell in enumerate(cells):
            if cell.kind == "head":
                idx = (i, cell.layer, cell.head, cell.slot)
                head_effect[idx], head_raw[idx] = values[j], sweep.values[j]
                if k:
                    head_top_ids[idx], head_top_changes[idx] = sweep.top_ids[j], sweep.top_changes[j]
            else:
                idx = (i, site_index[cell.kind], cell.layer, cell.slot)
                effect[idx], raw[idx] = values[j], sweep.values[j]
                if k:
                    top_ids[idx], top_changes[idx] = sweep.top_ids[j], sweep.top_changes[j]
    dims = ("pair", "site", "layer", x)
    data: dict[str, Any] = {"effect": (dims, effect), "metric": (dims, raw),
                            "clean_metric": (("pair",), clean_m), "corrupted_metric": (("pair",), corrupted_m)}
    hdims = ("pair", "layer", "head") + (() if per_position else ("span",))
    squeeze = (lambda a: a[..., 0, :] if a.ndim == 5 else a[..., 0]) if per_position else (lambda a: a)
    if heads is not None:
        data["head_effect"] = (hdims, squeeze(head_effect))
        data["head_metric"] = (hdims, squeeze(head_raw))
    coords: dict[str, Any] = {"pair": np.arange(n_pairs), "site": list(sites), "layer": layers,
                              "clean": ("pair", [p.pair.clean for p in prepared]),
                              "corrupted": ("pair", [p.pair.corrupted for p in prepared]),
                              "answer": ("pair", [(p.metric.tokens + ("",))[0] for p in prepared]),
                              "wrong": ("pair", [(p.metric.tokens + ("", ""))[1] for p in prepared])}
    if heads is not None:
        coords["head"] = np.arange(model.n_heads)
    if per_position:
        coords["position"] = np.arange(width)
        for name, attr in (("token", "clean_tokens"), ("corrupted_token", "corrupted_tokens")):
            table = np.full((n_pairs, width), "", dtype=object)
            for i, p in enumerate(prepared):
                table[i, : len(getattr(p, attr))] = getattr(p, attr)
            coords[name] = (("pair", "position"), table)
    else:
        coords["span"] = np.arange(width)
        coords["span_label"] = ("span", list(prepared[0].spans.labels))
        coords["span_positions"] = ("span", [json.dumps(list(s)) for s in prepared[0].spans.positions])
    if k:
        used = np.unique(np.concatenate([top_ids[top_ids >= 0], head_top_ids[head_top_ids >= 0]]))
        coords["rank"] = np.arange(k)
        coords["vocab_id"] = ("vocab", used.astype(np.int64))
        coords["vocab_token"] = ("vocab", model.token_strings(used).astype(object) if used.size else
                                 np.array([], dtype=object))
        data["top_token_id"] = (dims + ("rank",), top_ids)
        data["top_change"] = (dims + ("rank",), top_changes)
        if heads is not None:
            data["head_top_token_id"] = (hdims + ("rank",), squeeze(head_top_ids))
            data["head_top_change"] = (hdims + ("rank",), squeeze(head_top_changes))
    names = sorted({p.metric.name for p in prepared})
    if len(names) == 1:
        metric_name = names[0]
    elif all(p.metric.kind == "logit_diff" for p in prepared):
        metric_name = "logit_diff(answer, wrong), each pair's own (coords answer, wrong)"
    else:
        metric_name = "per pair: " + "; ".join(p.metric.name for p in prepared)
    ds = xr.Dataset(data, coords=coords, attrs=model.provenance(
        "patching", metric=metric_name, method=method,
        direction=direction, layer_convention=LAYER_CONVENTION,
        effect=("(m(patched) - m(corrupted)) / (m(clean) - m(corrupted))" if direction == "denoise" else
                "(m(patched) - m(clean)) / (m(corrupted) - m(clean))")))
    return ds


# ---------------------------------------------------------------------------------------------------- summaries
def pair_metrics(model: Model, pairs: Any, metric: Any = None, progress: bool = True) -> xr.Dataset:
    """The metric of the clean and the corrupted run of every pair, unpatched: Dataset (pair) with ``clean_metric``,
    ``corrupted_metric`` and, for ``logit_diff`` metrics, ``clean_correct`` (the clean prompt prefers its answer) and
    ``corrupted_correct`` (the corrupted prompt prefers the wrong one, i.e. its own answer). How well a model does a
    task before anything is patched; one traced pass per pair.

    >>> acc = pair_metrics(model, ioi_pairs)                                                    # doctest: +SKIP
    >>> float(acc.clean_correct.mean())                                                         # doctest: +SKIP
    """
    pairs = as_pairs(pairs)
    prepared = _prepare(model, pairs, _metrics(metric, pairs), "denoise", None)
    clean, corrupted = np.zeros(len(pairs), np.float32), np.zeros(len(pairs), np.float32)
    for i, prep in enumerate(tqdm(prepared, desc="pairs", unit="pair", disable=not progress)):
        values, _, _ = _run_chunk(model, prep, prep.source_ids, prep.target_ids, [], 0)
        clean[i], corrupted[i] = values[:2]
    ds = xr.Dataset({"clean_metric": ("pair", clean), "corrupted_metric": ("pair", corrupted)},
                    coords={"pair": np.arange(len(pairs)), "clean": ("pair", [p.clean for p in pairs]),
                            "corrupted": ("pair", [p.corrupted for p in pairs])},
                    attrs=model.provenance("pair_metrics", metric=";".join(sorted({p.metric.name for p in prepared}))))
    if all(p.metric.kind == "logit_diff" for p in prepared):
        ds = ds.assign(clean_correct=ds.clean_metric > 0, corrupted_correct=ds.corrupted_metric < 0)
    return ds


def cells_holding(ds: xr.Dataset, share: float = 0.5, site: str = "resid", pair: int | None = None) -> list[dict]:
    """The fewest cells of one site's map whose |effect| adds up to ``share`` of the map's total |effect|, largest
    first (the mean over pairs, NaN ignored, unless ``pair`` is given): dicts with ``layer``, ``position`` (or
    ``span``), ``token`` (the clean token there, of ``pair`` or the first pair) and ``effect``. Where a map's effect
    sits, in a form a table or a sentence can quote.

    >>> ds = xr.Dataset({"effect": (("site", "layer", "position"), [[[0.0, 0.9], [0.1, 0.5]]])},
    ...                 coords={"site": ["resid"], "token": ("position", ["a", "b"])})
    >>> [(c["layer"], c["token"]) for c in cells_holding(ds)]
    [(0, 'b')]
    """
    if not 0 < share <= 1:
        raise PatchingError(f"share must lie in (0, 1], got {share!r}.")
    if site not in [str(s) for s in ds.site.values]:
        raise PatchingError(f"site {site!r} is not in this map; it has {[str(s) for s in ds.site.values]}.")
    effect = ds.effect.sel(site=site)
    if "pair" in effect.dims:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
            effect = effect.isel(pair=pair) if pair is not None else effect.mean("pair", skipna=True)
    x = "span" if "span" in effect.dims else "position"
    values = effect.transpose("layer", x).values
    flat = np.nan_to_num(np.abs(values)).ravel()
    total = flat.sum()
    if total == 0:
        return []
    order = np.argsort(-flat, kind="stable")
    keep = order[: int(np.searchsorted(np.cumsum(flat[order]), share * total - 1e-12) + 1)]
    labels = ds.coords.get("token") if x == "position" else ds.coords.get("span_label")
    if labels is not None and "pair" in labels.dims:
        labels = labels.isel(pair=pair or 0)
    out = []
    for index in keep:
        layer, col = np.unravel_index(index, values.shape)
        out.append({"layer": int(effect.layer.values[layer]), x: int(effect[x].values[col]),
                    "token": str(labels.values[col]) if labels is not None else "",
                    "effect": float(values[layer, col])})
    return out


# ---------------------------------------------------------------------------------------------------- attribution
def attribution_patch(model: Model, pairs: Any, metric: Any = None, sites: Sequence[str] = PATCH_SITES,
                      heads: bool = False, spans: Any = None, direction: str = "denoise", *,
                      layers: Sequence[int] | None = None, exact: xr.Dataset | None = None,
                      progress: bool = True) -> xr.Dataset:
    """Attribution patching: the first-order estimate ``(a_source - a_target) . dm/da`` at the target run of every
    cell of :func:`patch`, from one traced forward pass over ``[source, target]`` and one backward pass, in the same
    Dataset form (``method="attribution"``, ``metric`` = the target's metric plus the estimate). With ``exact`` (a
    :func:`patch` Dataset of the same pairs), ``pearson_r`` (site) and ``head_pearson_r`` say how well the estimate
    tracks the exact map (Syed et al. 2023, arXiv 2310.10348).

    >>> est = attribution_patch(model, pairs, sites=("resid",), exact=ds)                    # doctest: +SKIP
    >>> float(est.pearson_r.sel(site="resid"))                                              # doctest: +SKIP
    """
    pairs = as_pairs(pairs)
    sites = _check_choice("sites", sites, PATCH_SITES) if sites else ()
    if not sites and not heads:
        raise PatchingError(f"sites is empty and heads=False: nothing to estimate; name sites from {list(PATCH_SITES)}.")
    direction = _check_choice("direction", (direction,), DIRECTIONS)[0]
    n_layers = model.n_layers
    layer_list = _check_indices("layers", layers, n_layers + 1, "residual layers")
    _check_modules(model, sites, heads)
    prepared = _prepare(model, pairs, _metrics(metric, pairs), direction, spans)
    head_list = list(range(model.n_heads)) if heads else None
    plans = [_cells(sites, layer_list, n_layers, head_list, p.spans) for p in prepared]
    sweeps = []
    params = [p for p in model.envoy._module.parameters()] if not model.remote else []
    frozen = [p.requires_grad for p in params]
    try:
        for p in params:  # only activations need gradients; leave no .grad on the model
            p.requires_grad_(False)
        for prep, cells in tqdm(list(zip(prepared, plans)), desc="attribution", unit="pair", disable=not progress):
            sweeps.append(_estimate(model, prep, cells, sites, heads))
    finally:
        for p, flag in zip(params, frozen):
            p.requires_grad_(flag)
    ds = _assemble(model, prepared, plans, sweeps, sites, head_list, direction, "attribution")
    if exact is not None:
        ds = with_correlation(ds, exact)
    return ds


def _estimate(model: Model, prep: _Prepared, cells: list[_Cell], sites: Sequence[str], heads: bool) -> _Sweep:
    """Per-position first-order estimates of one pair at every activation the cells name, from one traced forward
    pass over ``[source, target]`` and one ``torch.autograd.grad`` call on the target's metric inside the trace
    (plain autograd on the real tensors: parameters are frozen, so only activation gradients are computed). A logit
    difference is read off the final norm's output and two rows of the unembedding, and the trace stops before the LM
    head, which a full-vocabulary metric would need."""
    n_layers, n_heads = model.n_layers, model.n_heads
    blocks = list(model.blocks)
    needed = {(c.kind, c.layer) for c in cells}
    attn_out = [model.attn_out_module(l) if ("attn", l) in needed or ("head", l) in needed else None
                for l in range(n_layers)]
    mlp = [model.mlp_module(l) if ("mlp", l) in needed else None for l in range(n_layers)]
    unembed, cap, fn = model.unembed, model.logit_softcap, prep.fn
    extra = {**_no_cache(model), **_keep_logits(model)}
    ids = torch.stack([prep.source_ids, prep.target_ids])
    # a logit difference needs two rows of the unembedding, not the whole vocabulary: read it off the final norm's
    # output directly and stop the trace before the LM head (a large share of a small model's weights)
    direct = prep.metric.kind == "logit_diff"
    pair_ids = torch.tensor(prep.metric.token_ids(model)) if direct else None
    norm = model.final_norm
    # (kind, layer, module, side) in execution order: a block's input, its heads (the output projection's input),
    # the attention output, the MLP output; the last block's output is residual layer n_layers
    where = [(kind, layer, module, side) for layer in range(n_layers)
             for kind, module, side in (("resid", blocks[layer], "input"), ("head", attn_out[layer], "input"),
                                        ("attn", attn_out[layer], "output"), ("mlp", mlp[layer], "output"))
             if (kind, layer) in needed]
    if ("resid", n_layers) in needed:
        where.append(("resid", n_layers, blocks[n_layers - 1], "output"))
    keys = [(kind, layer) for kind, layer, _, _ in where]
    with model.trace(_batch(ids), **extra) as tracer:
        first = blocks[0].input
        first.requires_grad_(True)
        acts = [module.input if side == "input" else module.output for _, _, module, side in where]
        if direct:
            h = blocks[n_layers - 1].output[:, -1]
            h = norm(h) if norm is not None else h
            logits = (h @ unembed.weight[pair_ids].T).float()
            bias = getattr(unembed, "bias", None)
            if bias is not None:
                logits = logits + bias[pair_ids]
            if cap:
                logits = torch.tanh(logits / cap) * cap
            values = logits[:, 0] - logits[:, 1]
        else:
            logits = unembed.output[:, -1].float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            values = fn(logits)
        saved = values.detach().save()
        grads = torch.autograd.grad(values[1], acts)
        out = nnsight.save([])
        for key, a, g in zip(keys, acts, grads):
            d = ((a[0] - a[1]) * g[1]).detach()
            out.append(d.view(d.shape[0], n_heads, d.shape[-1] // n_heads).sum(-1) if key[0] == "head" else d.sum(-1))
        if direct:
            tracer.stop()
    metric = saved.float().numpy()
    per_position = {key: value.float().numpy() for key, value in zip(keys, out)}
    estimates = np.array([float(per_position[(c.kind, c.layer)][list(c.positions)].sum(0)[c.head]) if c.kind == "head"
                          else float(per_position[(c.kind, c.layer)][list(c.positions)].sum())
                          for c in cells], dtype=np.float64)
    return _Sweep(float(metric[0]), float(metric[1]), metric[1] + estimates, None, None)


def with_correlation(estimate: xr.Dataset, exact: xr.Dataset) -> xr.Dataset:
    """``estimate`` with ``pearson_r`` (site), and ``head_pearson_r`` when both have heads: Pearson r between the
    estimated and the exact normalised effects over every cell both have.

    >>> r = with_correlation(est, exact).pearson_r                                            # doctest: +SKIP
    """
    common = [s for s in estimate.site.values if s in exact.site.values]
    if not common:
        raise PatchingError(f"exact has none of the estimate's sites {list(estimate.site.values)}.")
    if estimate.sizes.get("pair") != exact.sizes.get("pair") or \
            list(estimate.clean.values) != list(exact.clean.values):
        raise PatchingError("exact must be patch()'s Dataset of the same pairs as the estimate.")
    rs = []
    for site in estimate.site.values:
        if site not in common:
            rs.append(np.nan)
            continue
        a, b = xr.align(estimate.effect.sel(site=site), exact.effect.sel(site=site), join="inner")
        rs.append(_pearson(a.values, b.values))
    out = estimate.assign(pearson_r=("site", np.array(rs, dtype=np.float32)))
    if "head_effect" in estimate and "head_effect" in exact:
        a, b = xr.align(estimate.head_effect, exact.head_effect, join="inner")
        out = out.assign(head_pearson_r=np.float32(_pearson(a.values, b.values)))
    return out


# ------------------------------------------------------------------------------------------------------ many models
def patch_many(models: Sequence[str], pairs: Any, root: str | os.PathLike, metric: Any = None, *,
               client: Any = None, workers: int = 1, progress: bool = True, **options: Any) -> xr.Dataset:
    """:func:`patch` of the same pairs on every model in ``models`` (zoo names or model folders), one Dask task per
    model on the shared runner (:mod:`workbench.runner`): each writes ``root/<model>.nc``, a rerun skips finished
    models, a failed one is recorded in ``root/<model>.failed.json`` and the others go on. Returns the maps side by
    side along a leading ``model`` dim (layers past a shallower model's depth are NaN). ``options`` go to
    :func:`patch`; ``metric`` must be picklable (a Metric, or a callable defined at a notebook's top level).

    >>> ds = patch_many(["dyck-hierarchical", "dyck-sign-matching"], pairs, "/tmp/dyck-patching",
    ...                 metric=logit_diff("True", "False"), sites=("resid",))          # doctest: +SKIP
    """
    from pathlib import Path

    from workbench.runner import Task, run_tasks

    names = [str(m) for m in models]
    if not names or len(set(names)) != len(names):
        raise PatchingError(f"models must be a non-empty list of distinct model names, got {names!r}.")
    pairs = as_pairs(pairs)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files = {name: root / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".nc") for name in names}
    failures = {name: path.with_suffix(".failed.json") for name, path in files.items()}
    options = {**options, "progress": False}

    def failed(name: str, text: str) -> None:
        failures[name].write_text(json.dumps({"model": name, "error": text}))

    status = run_tasks([Task(name, _patch_one, (name, pairs, metric, options, str(files[name]))) for name in names],
                       is_done=lambda name: files[name].is_file(), on_failure=failed,
                       on_success=lambda name: failures[name].unlink(missing_ok=True), client=client,
                       workers=workers, progress=progress, desc="patching models", what="model")
    bad = {name: json.loads(failures[name].read_text())["error"] for name, s in status.items() if s == "failed"}
    if bad:
        raise PatchingError(f"{len(bad)} of {len(names)} models failed (finished ones are kept under {str(root)!r}; "
                            f"call patch_many again to re-run only these): {bad}")
    from workbench.data import load

    maps = [load(files[name]) for name in names]
    width = max(m.sizes.get("vocab", 0) for m in maps)
    for i, m in enumerate(maps):  # each model's table of top-k token strings, padded to one width (-1, "")
        ids, tokens = np.full(width, -1, np.int64), np.full(width, "", dtype=object)
        if "vocab_id" in m.coords:
            ids[: m.sizes["vocab"]], tokens[: m.sizes["vocab"]] = m.vocab_id.values, m.vocab_token.values
            m = m.drop_vars(["vocab_id", "vocab_token"])
        maps[i] = m.assign(vocab_id=("vocab", ids), vocab_token=("vocab", tokens)).assign_coords(model=names[i])
    out = xr.concat(maps, dim="model", join="outer", data_vars="all", coords="different", compat="equals",
                    combine_attrs="drop_conflicts")
    return out.set_coords(["vocab_id", "vocab_token"])


def _patch_one(name: str, pairs: list[Pair], metric: Any, options: dict[str, Any], path: str) -> str:
    """One Dask task of :func:`patch_many`: load, patch, save atomically."""
    from workbench.backend import load_model
    from workbench.data import save

    save(patch(load_model(name), pairs, metric, **options), path)
    return path


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.corrcoef(a[ok], b[ok])[0, 1])


__all__ = ["patch", "attribution_patch", "patch_many", "pair_metrics", "cells_holding", "with_correlation", "as_pairs", "PatchingError", "MetricError", "Pair",
           "DIRECTIONS"]
