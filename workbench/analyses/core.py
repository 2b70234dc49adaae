"""Core extraction: the residual stream and attention patterns of a model on some text, as labelled xarray.

Layer convention (shared with :mod:`workbench.analyses.lens`): residual ``layer`` 0 is the embedding output (the
stream entering block 0) and residual ``layer`` l is the output of block l-1, so there are n_layers + 1 residual layers,
as in HuggingFace's ``hidden_states`` (whose last entry, unlike ours, already has the final norm applied). Attention
``layer`` l is block l's attention, which reads residual layer l.

With a list of texts every result gains a leading ``prompt`` dim. Each text's tokens start at position 0 whatever the
padding side; positions past a text's end are NaN and their token label is ``""``, so padding is never mistaken for
tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import nnsight
import numpy as np
import torch
import xarray as xr

from workbench.backend.model import Batch, Model

LAYER_CONVENTION = "layer 0 = embeddings; layer l = output of block l-1"


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy()


def _capture(model: Model, batch: Batch, want_residuals: bool, want_attention: bool) -> tuple[list, list]:
    """One trace that saves block inputs/outputs and/or attention probabilities, then stops before the LM head."""
    # Bind modules to locals first: the trace body must not touch `model`, or nnsight would ship the whole handle
    # (tokenizer, vocabulary table) with every remote request.
    blocks = list(model.blocks)
    attn_modules = [model.attention_module(i) for i in range(len(blocks))] if want_attention else []
    with torch.no_grad(), model.trace(batch, **_no_cache(model)) as tracer:
        resid = nnsight.save([])
        attn = nnsight.save([])
        for i, block in enumerate(blocks):
            if want_residuals and i == 0:
                resid.append(block.input)
            if want_attention:
                attn.append(attn_modules[i].output[1])
            if want_residuals:
                resid.append(block.output)
        tracer.stop()  # nothing after the last block is needed: skip the final norm and the unembedding
    return list(resid), list(attn)


def _no_cache(model: Model) -> dict[str, bool]:
    """``use_cache=False`` for models whose config has the flag: one forward pass reads no key/value cache, and
    building one copies every layer's keys and values (about 6% of a GPT-2-small forward on CPU)."""
    return {"use_cache": False} if getattr(model.config, "use_cache", None) is not None else {}


def _keep_logits(model: Model, keep: int = 1) -> dict[str, int]:
    """``logits_to_keep=keep`` when the model's forward can skip every other position's logits (a large vocabulary
    would otherwise dominate the pass), else nothing."""
    import inspect

    module = getattr(model.envoy, "_module", None)
    if module is not None and "logits_to_keep" in inspect.signature(module.forward).parameters:
        return {"logits_to_keep": int(keep)}
    return {}


def _token_coords(model: Model, batch: Batch, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per text, its token strings and ids left-aligned into ``width`` slots ("" and -1 past its end)."""
    strings = np.full((len(batch.texts), width), "", dtype=object)
    ids = np.full((len(batch.texts), width), -1, dtype=np.int64)
    for i, tok_ids in enumerate(batch.token_ids):
        strings[i, : len(tok_ids)] = model.token_strings(tok_ids)
        ids[i, : len(tok_ids)] = tok_ids
    return strings, ids


def _realign(values: np.ndarray, batch: Batch, axes: Sequence[int]) -> np.ndarray:
    """Move each text's real positions to the front along ``axes`` (axis 0 is the text); pad with NaN."""
    out = np.full(values.shape, np.nan, dtype=values.dtype)
    for i, (off, n) in enumerate(zip(batch.offsets, batch.lengths)):
        src = [i] + [slice(None)] * (values.ndim - 1)
        dst = [i] + [slice(None)] * (values.ndim - 1)
        for ax in axes:
            src[ax] = slice(int(off), int(off + n))
            dst[ax] = slice(0, int(n))
        out[tuple(dst)] = values[tuple(src)]
    return out


def _stack_aligned(tensors: Sequence[torch.Tensor], batch: Batch, axes: Sequence[int]) -> np.ndarray:
    """Per-layer tensors ``(text, ...)`` as one float32 array ``(text, layer, ...)``, realigned like :func:`_realign`.

    Same values as ``_realign(np.stack(...), ...)`` with one copy instead of three: each layer is written once into
    its final place and only padding cells are set to NaN. ``axes`` are axes of the stacked result."""
    first = tensors[0]
    out = np.empty((first.shape[0], len(tensors), *first.shape[1:]), dtype=np.float32)
    width = batch.padded_length
    spans = [(int(off), int(n)) for off, n in zip(batch.offsets, batch.lengths)]
    for layer, t in enumerate(tensors):
        values = _to_numpy(t)
        for i, (off, n) in enumerate(spans):
            src: list = [i] + [slice(None)] * (values.ndim - 1)
            dst: list = [i, layer] + [slice(None)] * (values.ndim - 1)
            for ax in axes:
                src[ax - 1] = slice(off, off + n)
                dst[ax] = slice(0, n)
            out[tuple(dst)] = values[tuple(src)]
    for i, (_, n) in enumerate(spans):
        for ax in axes:
            if n < width:
                pad: list = [i] + [slice(None)] * (out.ndim - 1)
                pad[ax] = slice(n, None)
                out[tuple(pad)] = np.nan
    return out


def _finish(da: xr.DataArray, batch: Batch) -> xr.DataArray:
    return da.isel(prompt=0, drop=True) if batch.single else da


def capture(
    model: Model, text: str | Sequence[str], what: Sequence[str] = ("residuals", "attention")
) -> dict[str, xr.DataArray]:
    """Residuals and/or attention from ONE forward pass: ``{"residuals": ..., "attention": ...}``.

    Use it when you need both; :func:`residuals` and :func:`attention` are this with one item.

    >>> from workbench import capture, load_model
    >>> out = capture(load_model("smollm2-135m"), "The capital of France is")        # doctest: +SKIP
    >>> sorted(out)                                                                  # doctest: +SKIP
    ['attention', 'residuals']
    """
    unknown = set(what) - {"residuals", "attention"}
    if unknown or not what:
        raise ValueError(f"what must name 'residuals' and/or 'attention', got {list(what)!r}.")
    batch = model.tokenize(text)
    resid, attn = _capture(model, batch, "residuals" in what, "attention" in what)
    out: dict[str, xr.DataArray] = {}
    width = batch.padded_length
    strings, ids = _token_coords(model, batch, width)
    texts = ("prompt", np.array(batch.texts, dtype=object))
    if resid:
        values = _stack_aligned(resid, batch, axes=[2])
        out["residuals"] = _finish(xr.DataArray(
            values,
            dims=("prompt", "layer", "position", "hidden"),
            coords={"layer": np.arange(values.shape[1]), "position": np.arange(width),
                    "token": (("prompt", "position"), strings), "token_id": (("prompt", "position"), ids),
                    "text": texts},
            name="residuals",
            attrs=model.provenance("residuals", layer_convention=LAYER_CONVENTION),
        ), batch)
    if attn:
        if any(a is None for a in attn):
            raise RuntimeError(f"{model.name!r} returned no attention probabilities; it must run eager attention.")
        values = _stack_aligned(attn, batch, axes=[3, 4])
        out["attention"] = _finish(xr.DataArray(
            values,
            dims=("prompt", "layer", "head", "query", "key"),
            coords={"layer": np.arange(values.shape[1]), "head": np.arange(values.shape[2]),
                    "query": np.arange(width), "key": np.arange(width),
                    "query_token": (("prompt", "query"), strings), "key_token": (("prompt", "key"), strings.copy()),
                    "text": texts},
            name="attention",
            attrs=model.provenance("attention"),
        ), batch)
    return out


def residuals(model: Model, text: str | Sequence[str]) -> xr.DataArray:
    """The residual stream at every layer and position: DataArray (layer, position, hidden).

    ``layer`` runs 0..n_layers (0 = embeddings, l = after block l-1); coords ``token``/``token_id`` label positions.

    >>> from workbench import load_model, residuals
    >>> r = residuals(load_model("smollm2-135m"), "The capital of France is")    # doctest: +SKIP
    >>> dict(r.sizes)                                                            # doctest: +SKIP
    {'layer': 31, 'position': 5, 'hidden': 576}
    """
    return capture(model, text, ("residuals",))["residuals"]


def attention(model: Model, text: str | Sequence[str]) -> xr.DataArray:
    """Attention probabilities of every head: DataArray (layer, head, query, key).

    Token labels are the coords ``query_token`` (on query) and ``key_token`` (on key). Rows sum to 1 over real keys.

    >>> from workbench import load_model, attention
    >>> a = attention(load_model("smollm2-135m"), "The capital of France is")    # doctest: +SKIP
    >>> dict(a.sizes)                                                            # doctest: +SKIP
    {'layer': 30, 'head': 9, 'query': 5, 'key': 5}
    """
    return capture(model, text, ("attention",))["attention"]
