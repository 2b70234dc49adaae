"""Logit lens: project every layer's residual stream through the final norm and unembedding.

nostalgebraist (2020), "interpreting GPT: the logit lens". Each residual layer (see :mod:`workbench.analyses.core` for
the layer convention) is decoded as if it were the last: ``softmax(unembed(final_norm(h)))``. Only the top-k tokens and
the entropy are kept, computed inside the trace one layer and one chunk of positions at a time, so peak memory is
bounded by ``chunk x vocabulary`` and never grows with layers x positions x vocabulary. The same code runs remotely on
NDIF, where only the top-k and entropies travel back.
"""

from __future__ import annotations

from collections.abc import Sequence

import nnsight
import numpy as np
import torch
import xarray as xr

from workbench.analyses.core import LAYER_CONVENTION, _realign, _to_numpy, _token_coords
from workbench.backend.model import Batch, InputError, Model

# At most this many logits (rows x vocabulary) are alive at once per projection.
LOGITS_BUDGET = 1 << 24


def logit_lens(model: Model, text: str | Sequence[str], k: int = 10) -> xr.Dataset:
    """Top-k decoded tokens at every layer and position: Dataset (layer, position, rank).

    Variables: ``token`` (decoded string, e.g. ``" Paris"``), ``token_id``, ``prob`` and ``entropy`` (layer, position,
    in nats). Coords ``input_token``/``input_token_id`` label the positions with the text's own tokens.

    >>> from workbench import load_model, logit_lens
    >>> ds = logit_lens(load_model("smollm2-135m"), "The capital of France is", k=5)        # doctest: +SKIP
    >>> str(ds.token.isel(layer=-1, position=-1, rank=0).item())                            # doctest: +SKIP
    ' Paris'
    """
    vocab = int(model.config.vocab_size)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}.")
    if k > vocab:
        raise InputError(f"k={k} is larger than {model.name!r}'s vocabulary of {vocab} tokens.")
    k = int(k)
    batch = model.tokenize(text)
    prob, tok_ids, ent = project_layers(model, batch, k)
    n = model.n_layers
    prob = _realign(prob, batch, axes=[2])
    ent = _realign(ent, batch, axes=[2])
    tok_ids = _realign(tok_ids.astype(np.float64), batch, axes=[2])  # NaN-pad through _realign, then back to int
    valid = ~np.isnan(tok_ids)
    tok_ids = np.where(valid, tok_ids, -1).astype(np.int64)
    strings = np.where(valid, model.token_strings(np.where(valid, tok_ids, 0)), "").astype(object)
    width = prob.shape[2]
    in_strings, in_ids = _token_coords(model, batch, width)
    dims = ("prompt", "layer", "position", "rank")
    ds = xr.Dataset(
        {
            "token": (dims, strings),
            "token_id": (dims, tok_ids),
            "prob": (dims, prob.astype(np.float32)),
            "entropy": (dims[:3], ent.astype(np.float32)),
        },
        coords={
            "layer": np.arange(n + 1),
            "position": np.arange(width),
            "rank": np.arange(int(k)),
            "input_token": (("prompt", "position"), in_strings),
            "input_token_id": (("prompt", "position"), in_ids),
            "text": ("prompt", np.array(batch.texts, dtype=object)),
        },
        attrs=model.provenance("logit_lens", k=int(k),
                               layer_convention=LAYER_CONVENTION,
                               entropy_units="nats"),
    )
    return ds.isel(prompt=0, drop=True) if batch.single else ds


def project_layers(model: Model, batch: Batch, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k probabilities and ids (prompt, layer, position, rank) and entropies (prompt, layer, position) of every
    residual layer of ``batch``, computed inside one trace. ``batch.inputs`` may hold ``input_ids`` or
    ``inputs_embeds`` (continuous inputs, e.g. the latent thoughts of a Coconut model), with mask and position ids.
    Positions are the padded row's; callers realign them.

    >>> from workbench import load_model                                                          # doctest: +SKIP
    >>> m = load_model("smollm2-135m"); p, i, e = project_layers(m, m.tokenize(["Hi there"]), 3)  # doctest: +SKIP
    >>> p.shape                                                                                   # doctest: +SKIP
    (1, 31, 2, 3)
    """
    vocab = int(model.config.vocab_size)
    first = next(iter(batch.inputs.values()))
    rows, width = int(first.shape[0]), int(first.shape[1])
    chunk = max(1, min(width, LOGITS_BUDGET // (vocab * rows)))
    cap = model.logit_softcap
    n = model.n_layers

    # modules bound before the trace, so the body never references `model` (see core._capture)
    blocks = list(model.blocks)
    norm = model.final_norm
    unembed = model.unembed
    with torch.no_grad(), model.trace(batch) as tracer:
        probs = nnsight.save([])
        ids = nnsight.save([])
        entropy = nnsight.save([])
        for layer in range(n + 1):
            h = blocks[0].input if layer == 0 else blocks[layer - 1].output
            for start in range(0, width, chunk):
                x = h[:, start: start + chunk]
                logits = unembed(norm(x) if norm is not None else x).float()
                if cap:
                    logits = torch.tanh(logits / cap) * cap
                logp = torch.log_softmax(logits, dim=-1)
                top = logp.topk(k, dim=-1)
                probs.append(top.values.exp())
                ids.append(top.indices)
                entropy.append(-(logp.exp() * logp).sum(-1))
                del logits, logp
        tracer.stop()

    per_layer = -(-width // chunk)

    def stack(parts: list) -> np.ndarray:  # [(prompt, chunk, ...)] * layers*chunks -> (prompt, layer, position, ...)
        layers = [np.concatenate([_as_numpy(p) for p in parts[i * per_layer:(i + 1) * per_layer]], axis=1)
                  for i in range(n + 1)]
        return np.stack(layers, axis=1)

    return stack(probs), stack(ids), stack(entropy)


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy() if t.dtype in (torch.int64, torch.int32) else _to_numpy(t)


def answer_lens(model: Model, text: str | Sequence[str], answers: Sequence[str]) -> xr.DataArray:
    """The probability of each of a few answer tokens at the final position, read off every residual layer through
    the final norm and unembedding: DataArray (prompt, layer, answer). The vocabulary projection of the formatted
    multiple-choice studies: can a layer already tell the answer symbols apart (Wiegreffe et al. 2025,
    "Answer, Assemble, Ace", arXiv 2407.15018)?

    >>> from workbench import load_model                                                        # doctest: +SKIP
    >>> p = answer_lens(load_model("smollm2-135m"), "Answer:", [" A", " B", " C", " D"])       # doctest: +SKIP
    >>> p.dims                                                                                  # doctest: +SKIP
    ('layer', 'answer')
    """
    ids = []
    for a in answers:
        found = model.tokenizer(a, add_special_tokens=False)["input_ids"] if isinstance(a, str) else []
        if len(found) != 1:
            raise InputError(f"answers must be single tokens under {model.name!r}'s tokenizer; {a!r} is "
                             f"{len(found)} tokens.")
        ids.append(int(found[0]))
    if not ids:
        raise InputError("answers is empty; give the answer tokens to read, e.g. [' A', ' B', ' C', ' D'].")
    if not model.adapter.causal:
        raise InputError(f"answer_lens reads the final position of a causal LM; {model.name!r} is an encoder.")
    batch = model.tokenize(text)
    wanted = torch.tensor(ids)
    cap, n = model.logit_softcap, model.n_layers
    blocks, norm, unembed = list(model.blocks), model.final_norm, model.unembed
    with torch.no_grad(), model.trace(batch) as tracer:
        out = nnsight.save([])
        for layer in range(n + 1):
            h = (blocks[0].input if layer == 0 else blocks[layer - 1].output)[:, -1]
            logits = unembed(norm(h) if norm is not None else h).float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            out.append(torch.softmax(logits, dim=-1)[:, wanted])
        tracer.stop()
    values = np.stack([_as_numpy(p) for p in out], axis=1)  # (prompt, layer, answer); left padding: -1 is real
    da = xr.DataArray(values.astype(np.float32), dims=("prompt", "layer", "answer"),
                      coords={"layer": np.arange(n + 1), "answer": list(answers),
                              "text": ("prompt", np.array(batch.texts, dtype=object))},
                      name="answer_prob", attrs=model.provenance("answer_lens", layer_convention=LAYER_CONVENTION))
    return da.isel(prompt=0, drop=True) if batch.single else da
