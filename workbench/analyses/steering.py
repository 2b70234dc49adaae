"""Steering vectors: take a direction in the residual stream, add it while the model reads or writes, and judge what
it does by the model's own likelihoods, beside baselines.

* :func:`steering_vector`: the difference of means of one residual layer over a positive and a negative prompt set
  (Turner et al. 2023, arXiv 2308.10248; Rimsky et al. 2024, arXiv 2312.06681), with its provenance (layer, position
  rule, a hash of both sets), so a vector never loses where it came from.
* :func:`steer`: greedy generations at every coefficient (0 included), with each generated token's log-probability,
  and the exact positions the vector touched (``where``: the prompt, the generated tokens, or both).
* :func:`steering_eval`: the likelihood evaluation of "Towards Reliable Evaluation of Behavior Steering
  Interventions": on held-out contexts like the real use, the mean log-probability of a completion that shows the
  behaviour minus one that does not, against the coefficient; standardised (so behaviours compare on one axis); always
  beside same-norm random vectors (several seeds) and a prompt that asks for the behaviour.
* :func:`layer_sweep`, :func:`sparsify`, :func:`ov_tokens`, and frozen attention in :func:`steering_eval`
  (``freeze_attention=True``): the checks of arXiv 2604.08524 (steering acts through the OV circuit; vectors stay
  effective when sparsified; the OV circuit reads them as vocabulary).

The residual-layer convention is :mod:`workbench.analyses.core`'s: layer 0 = block 0's input (the embeddings), layer
l = the output of block l-1; a vector taken at layer l is added there. Every trace returns reduced values only
(next tokens, log-probabilities, scores), so ``remote=True`` runs.

>>> v = steering_vector(model, ["I loved it."], ["I hated it."], layer=10)              # doctest: +SKIP
>>> ds = steer(model, ["The movie was"], v, layer=10, coefs=[0, 4, 8], max_new_tokens=12)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from workbench.analyses.core import LAYER_CONVENTION, _keep_logits, _no_cache
from workbench.backend.model import Batch, Model

WHERE = ("prompt", "generated", "all")
POSITIONS = ("last", "mean")


class SteeringError(ValueError):
    """Input steering cannot use; the message names the argument, what was expected and what came."""


# ------------------------------------------------------------------------------------------------------- checks
def _texts(name: str, texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise SteeringError(f"{name} must be a non-empty list of strings, got {texts!r:.80}.")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise SteeringError(f"{name}[{bad[0]}] must be a non-empty string, got {texts[bad[0]]!r}.")
    return list(texts)


def _layer(model: Model, layer: Any) -> int:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer <= model.n_layers:
        raise SteeringError(f"layer must be a residual layer in 0..{model.n_layers} (0 = embeddings, l = output of "
                            f"block l-1), got {layer!r}.")
    return int(layer)


def _vector(model: Model, vector: Any) -> torch.Tensor:
    values = vector.values if isinstance(vector, xr.DataArray) else vector
    v = torch.as_tensor(np.asarray(values, dtype=np.float32))
    hidden = _hidden_size(model)
    if v.ndim != 1 or v.shape[0] != hidden:
        raise SteeringError(f"vector must have the model's hidden size ({hidden},), got shape {tuple(v.shape)}.")
    if not torch.isfinite(v).all():
        raise SteeringError("vector holds NaN or inf values.")
    return v


def _coefs(coefs: Any) -> np.ndarray:
    c = np.asarray(coefs, dtype=np.float64).ravel() if np.ndim(coefs) else np.asarray([coefs], dtype=np.float64)
    if c.size == 0:
        raise SteeringError("coefs is empty; give the coefficients to steer with, e.g. [-8, -4, 0, 4, 8].")
    if not np.isfinite(c).all():
        raise SteeringError(f"coefs must be finite numbers, got {coefs!r}.")
    return c


def _hidden_size(model: Model) -> int:
    c = model.config
    return int(getattr(c, "hidden_size", 0) or getattr(c, "n_embd", 0))


def _where(where: str) -> str:
    if where not in WHERE:
        raise SteeringError(f"where must be one of {list(WHERE)}, got {where!r}.")
    return where


def _set_hash(texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ the vector
def steering_vector(model: Model, positive: Sequence[str], negative: Sequence[str], layer: int,
                    position: str = "last") -> xr.DataArray:
    """Mean residual at ``layer`` over ``positive`` minus the mean over ``negative``: DataArray (hidden).

    ``position`` "last" reads each prompt's final token, "mean" averages over its tokens. The provenance records the
    layer, the position rule and a hash of each prompt set.

    >>> v = steering_vector(model, ["I loved it."], ["I hated it."], layer=10)             # doctest: +SKIP
    >>> v.dims, v.attrs["position"]                                                        # doctest: +SKIP
    (('hidden',), 'last')
    """
    positive, negative = _texts("positive", positive), _texts("negative", negative)
    layer = _layer(model, layer)
    if position not in POSITIONS:
        raise SteeringError(f"position must be one of {list(POSITIONS)}, got {position!r}.")
    means = [_mean_residual(model, texts, layer, position) for texts in (positive, negative)]
    diff = (means[0] - means[1]).astype(np.float32)
    return xr.DataArray(diff, dims=("hidden",), name="steering_vector", attrs=model.provenance(
        "steering_vector", layer=layer, position=position, layer_convention=LAYER_CONVENTION,
        positive_hash=_set_hash(positive), negative_hash=_set_hash(negative), n_positive=len(positive),
        n_negative=len(negative), norm=float(np.linalg.norm(diff))))


def _mean_residual(model: Model, texts: list[str], layer: int, position: str) -> np.ndarray:
    batch = model.tokenize(texts)
    blocks = list(model.blocks)
    mask = batch.inputs["attention_mask"].float()
    with torch.no_grad(), model.trace(batch, **_no_cache(model)) as tracer:
        h = blocks[layer].input if layer < len(blocks) else blocks[-1].output
        if position == "last":
            summary = h[:, -1].float().sum(0).save()  # left padding: the last position is every text's own
        else:
            summary = ((h.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).sum(0).save()
        tracer.stop()
    return summary.numpy() / len(texts)


# -------------------------------------------------------------------------------------------------- steering
@dataclass
class _Rows:
    """A batch of token rows of equal length (left-padded prompts, then generated tokens), and which positions get
    the vector with which coefficient."""

    ids: torch.Tensor  # (rows, length)
    mask: torch.Tensor  # (rows, length) attention mask
    prompt_len: int  # padded prompt width: positions >= prompt_len are generated
    coef: torch.Tensor  # (rows,)


def _touch(rows: _Rows, where: str) -> torch.Tensor:
    """(rows, length) float: 1 where the vector is added (real tokens only)."""
    length = rows.ids.shape[1]
    generated = torch.arange(length) >= rows.prompt_len
    region = {"prompt": ~generated, "generated": generated, "all": torch.ones(length, dtype=torch.bool)}[where]
    return (region[None, :] & rows.mask.bool()).float()


def _rows_batch(ids: torch.Tensor, mask: torch.Tensor) -> Batch:
    """Left-padded token rows as a traceable batch (position ids count real tokens only)."""
    position_ids = (mask.cumsum(1) - 1).clamp(min=0)
    return Batch(inputs={"input_ids": ids, "attention_mask": mask, "position_ids": position_ids}, token_ids=[],
                 offsets=np.zeros(len(ids), dtype=int), single=False, texts=[])


def _next_tokens(model: Model, rows: _Rows, vector: torch.Tensor, layer: int, where: str) -> torch.Tensor:
    """One traced pass of ``rows`` with ``coef * vector`` added at ``layer`` where ``where`` says: the greedy next
    token and its log-probability at the last position, (rows, 2). Only the last position's logits are computed."""
    blocks = list(model.blocks)
    unembed, cap = model.unembed, model.logit_softcap
    add = (_touch(rows, where) * rows.coef[:, None])[..., None] * vector  # (rows, length, hidden)
    n_layers = len(blocks)
    with torch.no_grad(), model.trace(_rows_batch(rows.ids, rows.mask), **_no_cache(model), **_keep_logits(model)):
        h = blocks[layer].input if layer < n_layers else blocks[n_layers - 1].output
        h[:] = h + add.to(h.dtype)
        logits = unembed.output[:, -1].float()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        best = torch.log_softmax(logits, -1).max(-1)
        out = torch.stack([best.indices.float(), best.values], -1).save()
    return out


def _prompt_rows(model: Model, prompts: list[str], coefs: np.ndarray) -> tuple[_Rows, Batch]:
    batch = model.tokenize(prompts)
    ids = batch.inputs["input_ids"].repeat(len(coefs), 1)
    mask = batch.inputs["attention_mask"].repeat(len(coefs), 1)
    coef = torch.tensor(np.repeat(coefs, len(prompts)), dtype=torch.float32)
    return _Rows(ids, mask, ids.shape[1], coef), batch


def steer(model: Model, prompts: Sequence[str], vector: Any, layer: int, coefs: Sequence[float],
          max_new_tokens: int = 20, where: str = "all", progress: bool = True) -> xr.Dataset:
    """Greedy generations of every prompt at every coefficient, with ``coef * vector`` added to the residual stream
    at ``layer``: Dataset with ``text`` (coef, prompt), ``token``/``token_id``/``logprob`` (coef, prompt, step),
    ``touched`` (coef, prompt, step) and ``prompt_touched`` (prompt, position) marking exactly where the vector was
    added (``where``: "prompt", "generated" or "all"), and ``prompt_fluency`` (coef, prompt): the mean
    log-probability of the generated tokens under the unsteered model (a coefficient that breaks the text shows as a
    drop), ``fluency`` (coef) its mean over prompts. One traced
    pass per generated token over every (coefficient, prompt) row; only the chosen tokens and log-probabilities
    leave the model.

    >>> ds = steer(model, ["I watched the film and it was"], v, layer=10, coefs=[0, 6])      # doctest: +SKIP
    >>> str(ds.text.sel(coef=6).item())                                                     # doctest: +SKIP
    """
    prompts = _texts("prompts", prompts)
    vector = _vector(model, vector)
    layer, where, coefs = _layer(model, layer), _where(where), _coefs(coefs)
    limit = model.context_length
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
        raise SteeringError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}.")
    rows, batch = _prompt_rows(model, prompts, coefs)
    if limit is not None and rows.ids.shape[1] + max_new_tokens > limit:
        raise SteeringError(f"max_new_tokens={max_new_tokens} after a {rows.ids.shape[1]}-token prompt exceeds "
                            f"{model.name!r}'s context of {limit} tokens.")
    eos = {int(model.tokenizer.eos_token_id)} if model.tokenizer.eos_token_id is not None else set()
    n_rows = len(rows.ids)
    tokens = np.full((n_rows, max_new_tokens), -1, dtype=np.int64)
    logprob = np.full((n_rows, max_new_tokens), np.nan, dtype=np.float32)
    ended = np.zeros(n_rows, dtype=bool)
    for step in tqdm(range(max_new_tokens), desc="steering", unit="token", disable=not progress):
        nxt = _next_tokens(model, rows, vector, layer, where).numpy()
        chosen = nxt[:, 0].astype(np.int64)
        alive = ~ended
        tokens[alive, step], logprob[alive, step] = chosen[alive], nxt[alive, 1]
        ended |= np.isin(chosen, list(eos))
        fill = torch.as_tensor(np.where(alive, chosen, model.tokenizer.pad_token_id or 0))
        rows = _Rows(torch.cat([rows.ids, fill[:, None]], 1), torch.cat([rows.mask, torch.as_tensor(alive)[:, None].long()], 1),
                     rows.prompt_len, rows.coef)
        if ended.all():
            break
    plain = _Rows(rows.ids, rows.mask, rows.prompt_len, torch.zeros_like(rows.coef))  # the unsteered model
    unsteered = _steered_region_trace(model, plain, vector, layer, torch.zeros(rows.ids.shape),
                                      keep=rows.ids.shape[1] - rows.prompt_len + 1).numpy()[:, rows.prompt_len - 1:]
    generated = tokens >= 0
    fluency = np.where(generated, unsteered[:, :max_new_tokens], np.nan)
    touched_region = _touch(rows, where).bool().numpy()
    gen_touched = np.zeros((n_rows, max_new_tokens), dtype=bool)
    width = min(max_new_tokens, touched_region.shape[1] - rows.prompt_len)
    gen_touched[:, :width] = touched_region[:, rows.prompt_len:rows.prompt_len + width] & generated[:, :width]
    shape = (len(coefs), len(prompts))
    strings = np.where(generated, model.token_strings(np.where(generated, tokens, 0)), "").astype(object)
    texts = np.array([model.tokenizer.decode([t for t in row if t >= 0 and t not in eos]) for row in tokens],
                     dtype=object)
    prompt_tokens, prompt_touched = _prompt_coords(model, batch, where)
    with np.errstate(invalid="ignore"):
        mean_fluency = np.nanmean(np.where(generated, fluency, np.nan), axis=1) if generated.any() else \
            np.full(n_rows, np.nan)
    ds = xr.Dataset(
        {"text": (("coef", "prompt"), texts.reshape(shape)),
         "token": (("coef", "prompt", "step"), strings.reshape(shape + (-1,))),
         "token_id": (("coef", "prompt", "step"), tokens.reshape(shape + (-1,))),
         "logprob": (("coef", "prompt", "step"), logprob.reshape(shape + (-1,))),
         "touched": (("coef", "prompt", "step"), gen_touched.reshape(shape + (-1,))),
         "prompt_fluency": (("coef", "prompt"), mean_fluency.astype(np.float32).reshape(shape)),
         "fluency": (("coef",), np.nanmean(mean_fluency.reshape(shape), axis=1).astype(np.float32)),
         "prompt_touched": (("prompt", "position"), prompt_touched)},
        coords={"coef": coefs, "prompt": np.arange(len(prompts)), "step": np.arange(max_new_tokens),
                "prompt_text": ("prompt", np.array(prompts, dtype=object)),
                "prompt_token": (("prompt", "position"), prompt_tokens)},
        attrs=model.provenance("steer", layer=layer, where=where, layer_convention=LAYER_CONVENTION,
                               vector_norm=float(vector.norm()), vector_hash=_set_hash(vector.tolist()),
                               decoding="greedy"))
    return ds


def _prompt_coords(model: Model, batch: Batch, where: str) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(t) for t in batch.token_ids)
    tokens = np.full((len(batch.token_ids), width), "", dtype=object)
    touched = np.zeros((len(batch.token_ids), width), dtype=bool)
    for i, ids in enumerate(batch.token_ids):
        tokens[i, : len(ids)] = model.token_strings(ids)
        touched[i, : len(ids)] = where in ("prompt", "all")
    return tokens, touched


# ----------------------------------------------------------------------------------------------- evaluation
def _completion_scores(model: Model, contexts: list[tuple[str, str, str]], vector: torch.Tensor, layer: int,
                       coefs: np.ndarray, where: str, prefix: str = "", freeze: bool = False) -> np.ndarray:
    """(coef, context): log p(behaviour completion) - log p(non-behaviour completion), summed over each
    completion's tokens, with ``coef * vector`` added while the model reads the context (and, for "all", the
    completion)."""
    ids, mask, spans, region = _eval_batch(model, contexts, where, prefix)
    width = ids.shape[1]
    out = np.zeros((len(coefs), len(contexts)))
    k = len(coefs)  # every coefficient's rows in one traced pass
    n = len(ids)
    rows = _Rows(ids.repeat(k, 1), mask.repeat(k, 1), width,
                 torch.tensor(np.repeat(coefs, n), dtype=torch.float32))
    logp = _steered_region_trace(model, rows, vector, layer, region.repeat(k, 1), freeze,
                                 keep=max(spans) + 1).numpy()
    for i in range(k):
        block = logp[i * n:(i + 1) * n]
        totals = np.array([block[r, width - 1 - m:].sum() for r, m in enumerate(spans)])
        out[i] = totals[0::2] - totals[1::2]
    return out


def _eval_batch(model: Model, contexts: list[tuple[str, str, str]], where: str,
                prefix: str = "") -> tuple[torch.Tensor, torch.Tensor, list[int], torch.Tensor]:
    """Every (context + completion) text, behaviour then non-behaviour, left-padded: ids, mask, each completion's
    token count, and the region (rows, length) where the vector goes (``where``: the context is "prompt", the
    completion "generated")."""
    texts, spans = [], []
    for ctx, good, bad in contexts:
        for completion in (good, bad):
            ctx_ids = model.tokenize(prefix + ctx).token_ids[0]
            full = model.tokenize(prefix + ctx + completion).token_ids[0]
            if len(full) <= len(ctx_ids) or list(full[: len(ctx_ids)]) != list(ctx_ids):
                raise SteeringError(f"the completion {completion!r} does not extend the context {ctx!r} as its own "
                                    "tokens; start completions with a space or punctuation.")
            texts.append(prefix + ctx + completion)
            spans.append(len(full) - len(ctx_ids))
    batch = model.tokenize(texts)
    ids, mask = batch.inputs["input_ids"], batch.inputs["attention_mask"]
    width = ids.shape[1]
    completion = torch.zeros_like(mask, dtype=torch.bool)  # the completion tokens play the generated ones
    for r, n in enumerate(spans):
        completion[r, width - n:] = True
    region = {"prompt": ~completion, "generated": completion, "all": torch.ones_like(completion)}[where]
    return ids, mask, spans, (region & mask.bool()).float()


def _steered_region_trace(model: Model, rows: _Rows, vector: torch.Tensor, layer: int,
                          region: torch.Tensor, freeze: bool = False, keep: int | None = None) -> torch.Tensor:
    """Log-probability of every next token of ``rows`` with ``coef * vector`` added at ``layer`` over ``region``
    (rows, length - 1); with ``keep``, only the last ``keep`` positions' logits are computed (the others are NaN),
    which bounds memory by rows x keep x vocabulary when only the final tokens are scored.
    With ``freeze``, every attention pattern from ``layer`` on is held at the unsteered run's: each row runs beside an
    unsteered twin in the same pass, and the steered row's attention output is recomputed as the twin's attention
    probabilities times the steered row's own values (QK frozen, OV live)."""
    blocks = list(model.blocks)
    unembed, cap = model.unembed, model.logit_softcap
    n_rows, n_layers = len(rows.ids), len(blocks)
    coef = torch.cat([rows.coef, torch.zeros_like(rows.coef)]) if freeze else rows.coef
    ids = rows.ids.repeat(2, 1) if freeze else rows.ids
    mask = rows.mask.repeat(2, 1) if freeze else rows.mask
    region = region.repeat(2, 1) if freeze else region
    add = (region * coef[:, None])[..., None] * vector
    batch = _rows_batch(ids, mask)
    frozen = list(range(layer, n_layers)) if freeze else []
    values = {l: _value_projection(model, l) for l in frozen}
    attention = {l: model.attention_module(l) for l in frozen}
    n_heads = model.n_heads
    kwargs = _no_cache(model)
    width = rows.ids.shape[1]
    if keep is not None:
        keep = min(int(keep), width)
        kept = _keep_logits(model, keep)
        kwargs.update(kept)
        keep = keep if kept else None
    targets = rows.ids[:, 1:] if keep is None else rows.ids[:, width - keep + 1:]
    with torch.no_grad(), model.trace(batch, **kwargs):
        # the attention call inside each block, through nnsight's source view: reached first in the body, so the
        # forward is rewritten before it runs (on a remote server too)
        interfaces = {l: attention[l].source.attention_interface_1 for l in frozen}
        h = blocks[layer].input if layer < n_layers else blocks[n_layers - 1].output
        h[:] = h + add.to(h.dtype)
        for l in frozen:
            v = values[l].output  # (2 rows, T, kv heads x head dim)
            interface = interfaces[l]
            out, probs = interface.output
            groups = n_heads // (v.shape[-1] // out.shape[-1])
            v = v.view(v.shape[0], v.shape[1], -1, out.shape[-1]).transpose(1, 2).repeat_interleave(groups, dim=1)
            held = torch.matmul(probs[n_rows:], v[:n_rows]).transpose(1, 2)
            interface.output = (torch.cat([held.to(out.dtype), out[n_rows:]]), probs)
        logits = unembed.output[:n_rows, :-1].float()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        out = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0].save()
    if keep is None:
        return out
    full = torch.full((n_rows, width - 1), float("nan"))
    full[:, width - keep:] = out
    return full


def _value_projection(model: Model, layer: int) -> Any:
    """Block ``layer``'s value projection (its output holds every key/value head's values side by side)."""
    attention = model.attention_module(layer)
    if not hasattr(attention, "v_proj"):
        raise SteeringError(f"freeze_attention needs separate value projections (v_proj: Llama, SmolLM, Qwen, Gemma); "
                            f"{model.name!r} ({model.adapter.family}) has none.")
    return attention.v_proj


def _contexts(contexts: Any) -> list[tuple[str, str, str]]:
    if isinstance(contexts, str) or not isinstance(contexts, Sequence) or not contexts:
        raise SteeringError("contexts must be a non-empty list of (context, behaviour completion, non-behaviour "
                            "completion) triples.")
    out = []
    for i, c in enumerate(contexts):
        triple = (c.context, c.behaviour, getattr(c, "non_behaviour", getattr(c, "other", None))) \
            if hasattr(c, "context") else c
        if not isinstance(triple, (tuple, list)) or len(triple) != 3 or not all(isinstance(s, str) and s
                                                                                  for s in triple):
            raise SteeringError(f"contexts[{i}] must be a (context, behaviour completion, non-behaviour completion) "
                                f"triple of non-empty strings, got {c!r}.")
        out.append(tuple(triple))
    return out


def steering_eval(model: Model, vector: Any, layer: int, contexts: Any, coefs: Sequence[float], *,
                  random_seeds: int = 3, behaviour_prompt: str | None = None, where: str = "all",
                  freeze_attention: bool = False, progress: bool = True) -> xr.Dataset:
    """The likelihood evaluation of a steering vector against its baselines: Dataset ``score`` (baseline, coef) with
    baseline "steer" (this vector), "random" (the mean over ``random_seeds`` random vectors of the same norm; their
    spread in ``random_low``/``random_high``) and "prompt" (no vector; ``behaviour_prompt`` put before every
    context, constant over coef). A score is the mean over ``contexts`` (context, behaviour completion,
    non-behaviour completion) of log p(behaviour) - log p(non-behaviour). ``effect`` standardises it: the change from
    the unsteered score in units of the unsteered per-context spread, so two behaviours compare on one axis.
    ``per_context`` keeps every context's difference for the vector. ``freeze_attention=True`` adds
    ``frozen_score`` and ``frozen_effect`` (standardised like ``effect``) on (coef): the vector's score with every attention pattern from ``layer`` on held at the unsteered
    run's, and ``frozen_share``, the share of the steering effect (score change from coefficient 0, summed over the
    coefficients) it keeps (arXiv 2604.08524 keeps 91.25%: steering acts through the OV circuit).

    >>> ev = steering_eval(model, v, 10, contexts, coefs=[-8, -4, 0, 4, 8])                  # doctest: +SKIP
    >>> ev.score.sel(baseline="steer").values                                               # doctest: +SKIP
    """
    vector = _vector(model, vector)
    layer, where, coefs = _layer(model, layer), _where(where), _coefs(coefs)
    contexts = _contexts(contexts)
    if 0.0 not in coefs:
        coefs = np.sort(np.append(coefs, 0.0))
    if isinstance(random_seeds, bool) or not isinstance(random_seeds, (int, np.integer)) or random_seeds < 0:
        raise SteeringError(f"random_seeds must be a count >= 0, got {random_seeds!r}.")
    bar = tqdm(total=1 + random_seeds + (behaviour_prompt is not None), desc="steering eval", disable=not progress)
    steer_scores = _completion_scores(model, contexts, vector, layer, coefs, where)
    bar.update()
    randoms = []
    for seed in range(random_seeds):
        g = torch.Generator().manual_seed(seed)
        r = torch.randn(vector.shape, generator=g)
        r = r / r.norm() * vector.norm()
        randoms.append(_completion_scores(model, contexts, r, layer, coefs, where).mean(1))
        bar.update()
    prompt_score = np.nan
    if behaviour_prompt is not None:
        prompt_score = float(_completion_scores(model, contexts, vector, layer, np.array([0.0]), where,
                                                prefix=behaviour_prompt).mean())
        bar.update()
    bar.close()
    base = steer_scores[list(coefs).index(0.0)]
    spread = float(base.std(ddof=1)) if len(base) > 1 else float("nan")
    random_mean = np.mean(randoms, 0) if randoms else np.full(len(coefs), np.nan)
    score = np.stack([steer_scores.mean(1), random_mean, np.full(len(coefs), prompt_score)])
    effect = (score - base.mean()) / spread if spread and np.isfinite(spread) else np.full_like(score, np.nan)
    data = {"score": (("baseline", "coef"), score.astype(np.float32)),
            "effect": (("baseline", "coef"), effect.astype(np.float32)),
            "per_context": (("coef", "context"), steer_scores.astype(np.float32))}
    if randoms:
        data["random_low"] = (("coef",), np.min(randoms, 0).astype(np.float32))
        data["random_high"] = (("coef",), np.max(randoms, 0).astype(np.float32))
        data["random_score"] = (("seed", "coef"), np.array(randoms, dtype=np.float32))
    attrs: dict[str, Any] = {}
    if freeze_attention:
        frozen = _completion_scores(model, contexts, vector, layer, coefs, where, freeze=True).mean(1)
        data["frozen_score"] = (("coef",), frozen.astype(np.float32))
        data["frozen_effect"] = (("coef",), ((frozen - base.mean()) / spread if spread and np.isfinite(spread)
                                             else np.full_like(frozen, np.nan)).astype(np.float32))
        change = np.abs(steer_scores.mean(1) - base.mean()).sum()
        attrs["frozen_share"] = float(np.abs(frozen - base.mean()).sum() / change) if change else float("nan")
    return xr.Dataset(data, coords={"baseline": ["steer", "random", "prompt"], "coef": coefs,
                                    "context": np.arange(len(contexts)),
                                    "context_text": ("context", [c[0] for c in contexts])},
                      attrs=model.provenance("steering_eval", layer=layer, where=where, random_seeds=int(random_seeds),
                                             behaviour_prompt=behaviour_prompt or "", unsteered_spread=spread,
                                             vector_norm=float(vector.norm()),
                                             score="mean over contexts of log p(behaviour) - log p(non-behaviour)",
                                             effect="(score - unsteered score) / unsteered per-context spread",
                                             **attrs))


def _metric_gradient(model: Model, contexts: list[tuple[str, str, str]], layer: int, where: str) -> torch.Tensor:
    """d/dh of the evaluation metric (the sum over contexts of log p(behaviour) - log p(non-behaviour)), unsteered,
    summed over every position where the vector would be added: (hidden,). One traced pass and one autograd call."""
    ids, mask, spans, region = _eval_batch(model, contexts, where)
    width, n_layers = ids.shape[1], model.n_layers
    blocks, unembed, cap = list(model.blocks), model.unembed, model.logit_softcap
    sign = torch.tensor([1.0 if r % 2 == 0 else -1.0 for r in range(len(ids))])
    chosen = torch.zeros(len(ids), width - 1)
    for r, n in enumerate(spans):
        chosen[r, width - 1 - n:] = sign[r]
    batch = _rows_batch(ids, mask)
    params = [p for p in model.envoy._module.parameters()] if not model.remote else []
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        with model.trace(batch, **_no_cache(model)):
            first = blocks[0].input
            first.requires_grad_(True)
            h = blocks[layer].input if layer < n_layers else blocks[n_layers - 1].output
            logits = unembed.output[:, :-1].float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
            metric = (logp * chosen).sum()
            (grad,) = torch.autograd.grad(metric, [h])
            summed = (grad * region[..., None]).sum((0, 1)).detach().save()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
    return summed


def sparsify(model: Model, vector: Any, layer: int, contexts: Any, coef: float,
             sparsities: Sequence[float] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99), where: str = "all",
             progress: bool = True) -> xr.Dataset:
    """The share of the vector's effect at ``coef`` kept when only the top (1 - sparsity) of its dimensions are kept,
    ranked by |v_i| ("magnitude") or by attribution |v_i . dm/dh_i| ("attribution", the metric's gradient at the
    unsteered run): Dataset ``sparsity_effect`` (ranking, sparsity), and ``sparsity_80`` (ranking): the largest
    sparsity that keeps 80% of the effect (arXiv 2604.08524 keeps most of it at 90-99%).

    >>> sp = sparsify(model, v, 10, contexts, coef=4.0)                                      # doctest: +SKIP
    >>> sp.sparsity_80.sel(ranking="attribution").item()                                    # doctest: +SKIP
    """
    v = _vector(model, vector)
    layer, where, contexts = _layer(model, layer), _where(where), _contexts(contexts)
    sparsities = np.asarray(sparsities, dtype=np.float64)
    if sparsities.size == 0 or ((sparsities < 0) | (sparsities >= 1)).any():
        raise SteeringError(f"sparsities must lie in [0, 1), got {list(sparsities)!r}.")
    coef = float(_coefs(coef)[0])
    base_full = _completion_scores(model, contexts, v, layer, np.array([0.0, coef]), where).mean(1)
    full = base_full[1] - base_full[0]
    grad = _metric_gradient(model, contexts, layer, where)
    rankings = {"magnitude": v.abs(), "attribution": (v * grad).abs()}
    shares = np.zeros((len(rankings), len(sparsities)))
    for i, (name, weight) in enumerate(tqdm(rankings.items(), desc="sparsify", disable=not progress)):
        order = torch.argsort(weight, descending=True)
        for j, sparsity in enumerate(sparsities):
            keep = max(1, int(round((1 - sparsity) * len(v))))
            sparse = torch.zeros_like(v)
            sparse[order[:keep]] = v[order[:keep]]
            score = _completion_scores(model, contexts, sparse, layer, np.array([coef]), where).mean()
            shares[i, j] = (score - base_full[0]) / full if full else np.nan
    keeps = [float(sparsities[row >= 0.8].max()) if (row >= 0.8).any() else float("nan") for row in shares]
    return xr.Dataset({"sparsity_effect": (("ranking", "sparsity"), shares.astype(np.float32)),
                       "sparsity_80": (("ranking",), np.array(keeps, dtype=np.float32))},
                      coords={"ranking": list(rankings), "sparsity": sparsities},
                      attrs=model.provenance("sparsify", layer=layer, coef=coef, where=where,
                                             full_effect=float(full)))


def _norm_scale(norm: Any) -> torch.Tensor | None:
    """The elementwise scale of an RMSNorm (Gemma's stores weight - 1) or LayerNorm module, or None."""
    weight = getattr(norm, "weight", None)
    if weight is None:
        return None
    w = weight.detach().float()
    return w + 1.0 if "Gemma" in type(norm).__name__ else w


def ov_tokens(model: Model, vector: Any, layer: int, k: int = 10, top_heads: int = 12) -> xr.Dataset:
    """The vector read through each later head's OV circuit, as vocabulary: for every head of the blocks that read
    residual layer ``layer`` onward, ``W_U . n_f(W_O^h W_V^h n_b(v))`` (n_b: the block's input-norm scale, n_f: the
    final norm's; a post-attention norm's scale too where the block has one), and its top ``k`` tokens. The
    ``top_heads`` heads whose OV output is largest are kept: Dataset ``ov_token``/``ov_weight`` (ov, rank) with
    ``ov_layer``, ``ov_head`` and ``ov_norm`` on ``ov``. arXiv 2604.08524 finds such projections readable even where
    the vector itself is not. Reads weights, so it needs a local model.

    >>> ov = ov_tokens(model, v, 10, k=5)                                                    # doctest: +SKIP
    >>> list(ov.ov_token.values[0])                                                         # doctest: +SKIP
    """
    v = _vector(model, vector)
    layer = _layer(model, layer)
    if model.remote:
        raise SteeringError("ov_tokens reads the weights of the value and output projections; use a local model.")
    blocks = [model.blocks[l]._module if hasattr(model.blocks[l], "_module") else model.blocks[l]
              for l in range(model.n_layers)]
    hf = model.envoy._module
    final = _norm_scale(getattr(model.final_norm, "_module", model.final_norm)) if model.final_norm is not None else None
    unembed = getattr(model.unembed, "_module", model.unembed).weight.detach().float()
    n_heads = model.n_heads
    rows = []
    with torch.no_grad():
        for l in range(layer, model.n_layers):
            attention = blocks[l].self_attn if hasattr(blocks[l], "self_attn") else None
            if attention is None or not hasattr(attention, "v_proj"):
                raise SteeringError(f"ov_tokens needs separate value and output projections (v_proj, o_proj: Llama, "
                                    f"SmolLM, Qwen, Gemma); {model.name!r} ({model.adapter.family}) has none.")
            x = v.clone()
            pre = _norm_scale(blocks[l].input_layernorm) if hasattr(blocks[l], "input_layernorm") else None
            x = x * pre if pre is not None else x
            wv, wo = attention.v_proj.weight.detach().float(), attention.o_proj.weight.detach().float()
            head_dim = wo.shape[1] // n_heads
            groups = n_heads // (wv.shape[0] // head_dim)
            post = _norm_scale(blocks[l].post_attention_layernorm) if hasattr(blocks[l], "pre_feedforward_layernorm") \
                else None  # Gemma normalises the attention output before adding it
            for h in range(n_heads):
                kv = h // groups
                value = wv[kv * head_dim:(kv + 1) * head_dim] @ x
                out = wo[:, h * head_dim:(h + 1) * head_dim] @ value
                out = out * post if post is not None else out
                rows.append((l, h, out))
    _ = hf
    norms = torch.stack([r[2].norm() for r in rows])
    keep = torch.argsort(norms, descending=True)[: max(1, int(top_heads))]
    tokens, weights, layers, heads = [], [], [], []
    for i in keep.tolist():
        l, h, out = rows[i]
        logits = unembed @ (out * final if final is not None else out)
        top = logits.topk(int(k))
        tokens.append(model.token_strings(top.indices.numpy()))
        weights.append(top.values.numpy())
        layers.append(l)
        heads.append(h)
    return xr.Dataset({"ov_token": (("ov", "rank"), np.array(tokens, dtype=object)),
                       "ov_weight": (("ov", "rank"), np.array(weights, dtype=np.float32))},
                      coords={"ov_layer": ("ov", layers), "ov_head": ("ov", heads),
                              "ov_norm": ("ov", norms[keep].numpy().astype(np.float32)), "rank": np.arange(int(k))},
                      attrs=model.provenance("ov_tokens", layer=layer, k=int(k)))


def layer_sweep(model: Model, positive: Sequence[str], negative: Sequence[str], contexts: Any, coef: float,
                layers: Sequence[int] | None = None, position: str = "last", where: str = "all",
                progress: bool = True) -> xr.Dataset:
    """The standardised effect of the difference-of-means vector taken and added at each layer, at one coefficient:
    Dataset ``layer_effect`` and ``layer_norm`` (layer), so the layer is chosen by measurement.

    >>> sweep = layer_sweep(model, pos, neg, contexts, coef=4.0)                             # doctest: +SKIP
    >>> int(sweep.layer_effect.idxmax())                                                    # doctest: +SKIP
    """
    contexts = _contexts(contexts)
    layers = list(range(model.n_layers + 1)) if layers is None else [_layer(model, l) for l in layers]
    if not layers:
        raise SteeringError("layers is empty; give the residual layers to sweep, or None for all.")
    coefs = np.array([0.0, float(_coefs(coef)[0])])
    effect, norms = [], []
    for layer in tqdm(layers, desc="layer sweep", unit="layer", disable=not progress):
        v = steering_vector(model, positive, negative, layer, position)
        scores = _completion_scores(model, contexts, _vector(model, v), layer, coefs, where)
        spread = scores[0].std(ddof=1) if len(contexts) > 1 else np.nan
        effect.append((scores[1].mean() - scores[0].mean()) / spread if spread else np.nan)
        norms.append(v.attrs["norm"])
    return xr.Dataset({"layer_effect": (("layer",), np.array(effect, dtype=np.float32)),
                       "layer_norm": (("layer",), np.array(norms, dtype=np.float32))},
                      coords={"layer": layers},
                      attrs=model.provenance("layer_sweep", coef=float(coefs[1]), position=position, where=where,
                                             layer_convention=LAYER_CONVENTION))


__all__ = ["steering_vector", "steer", "steering_eval", "layer_sweep", "sparsify", "ov_tokens", "SteeringError",
           "WHERE"]
