"""AttentionMap: every layer x head as a thumbnail grid, plus a zoomed, token-labelled view of the selected head.

Data flow (all numbers as binary buffers, see ``_serialize``):

* ``_thumbs`` (one uint8 buffer, synced trait): every head of the current prompt max-pooled to at most
  ``THUMB_CELLS`` x ``THUMB_CELLS``; the cell count shrinks further when many heads would exceed the message cap.
* ``_head`` (synced trait): the head selected at construction (or by :meth:`snapshot`), so the first paint needs no
  round trip and a saved/exported notebook still shows one head without a kernel.
* Any other head is fetched on demand: the front end sends ``{"type": "get_head", "layer", "head", "prompt"}`` and
  the kernel replies ``{"type": "head", ..., "meta"}`` with one buffer. A head bigger than ``MAX_HEAD_BYTES`` is
  max-pooled to fit (``meta["pool"]`` says by how much); nothing over ``MAX_MESSAGE_BYTES`` is ever sent.

Padding positions of a multi-prompt array (all-NaN rows/columns, token label "") are dropped before anything is sent,
so they are never counted as tokens; remaining NaN cells travel as the NaN code and are drawn transparent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_attention
from workbench.widgets._serialize import (
    MAX_MESSAGE_BYTES,
    Meta,
    check_size,
    max_pool2d,
    pool_factor,
    quantize_unit,
)

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: Thumbnail side (cells) per head in the overview grid; 48 keeps a 32 x 32-head model at ~2.4 MB.
THUMB_CELLS: int = 48
#: Smallest thumbnail side we shrink to when there are very many heads (below this the grid is unreadable).
MIN_THUMB_CELLS: int = 4
#: Largest zoomed head sent in one message (uint8 cells = bytes): 2,048 x 2,048 = 4 MiB fits; 4,096² is pooled 2x.
MAX_HEAD_BYTES: int = MAX_MESSAGE_BYTES
#: Longest token label sent (characters); the front end truncates further to fit its margins.
MAX_LABEL_CHARS: int = 40

_DIMS = ("layer", "head", "query", "key")


def _valid_positions(w: np.ndarray, tokens: np.ndarray | None, axis: int) -> np.ndarray:
    """Indices along query (axis=2) or key (axis=3) that are real tokens, not padding.

    Padding = every weight NaN across all layers/heads/other positions, and (when labels exist) the label is "".
    """
    other = tuple(i for i in range(4) if i != axis)
    all_nan = np.all(np.isnan(w), axis=other)
    pad = all_nan if tokens is None else all_nan & (np.asarray(tokens, dtype=object) == "")
    return np.flatnonzero(~pad)


def _labels(da: xr.DataArray, coord: str, keep: np.ndarray) -> list[str]:
    """Token labels along one axis (falls back to positions), truncated to MAX_LABEL_CHARS."""
    if coord in da.coords:
        vals = np.asarray(da.coords[coord].values, dtype=object)[keep]
        return [str(v)[:MAX_LABEL_CHARS] for v in vals]
    return [str(int(i)) for i in keep]


class AttentionMap(anywidget.AnyWidget):
    """Interactive attention viewer: ``AttentionMap(da, prompt=0, layer=0, head=0)``.

    ``da`` must pass :func:`workbench.data.validate_attention` (dims layer, head, query, key, optional leading
    prompt). Click a thumbnail (or use the arrow keys on the grid) to select a head; ``layer`` and ``head`` are synced
    both ways, so setting them from Python redraws the view.
    """

    _esm = _STATIC / "attention_map.js"
    _css = _STATIC / "attention_map.css"

    prompt = traitlets.Int(0).tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    n_heads = traitlets.Int(0).tag(sync=True)
    n_prompts = traitlets.Int(1).tag(sync=True)
    layer_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    head_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    query_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    key_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    _thumbs = traitlets.Bytes(b"").tag(sync=True)
    _thumbs_meta = traitlets.Dict().tag(sync=True)
    _head = traitlets.Bytes(b"").tag(sync=True)
    _head_meta = traitlets.Dict().tag(sync=True)

    def __init__(self, da: Any, prompt: int = 0, layer: int = 0, head: int = 0, **kwargs: Any) -> None:
        da = validate_attention(da)
        has_prompt = "prompt" in da.dims
        da = da.transpose(*(("prompt",) if has_prompt else ()), *_DIMS)
        self._da = da
        n_prompts = int(da.sizes["prompt"]) if has_prompt else 1
        n_layers, n_heads = int(da.sizes["layer"]), int(da.sizes["head"])
        if 0 in (n_layers, n_heads, int(da.sizes["query"]), int(da.sizes["key"])):
            raise DataModelError(f"attention has an empty dim: sizes {dict(da.sizes)}.")
        for name, value, size in (("prompt", prompt, n_prompts), ("layer", layer, n_layers), ("head", head, n_heads)):
            if not 0 <= int(value) < size:
                raise DataModelError(f"{name}={value} is out of range: attention has {size} {name}(s).")
        self._ready = False
        super().__init__(**kwargs)
        self._weights: np.ndarray = np.empty((0, 0, 0, 0), np.float32)
        self._q_keep = self._k_keep = np.empty(0, int)
        with self.hold_sync():
            self.n_prompts, self.n_layers, self.n_heads = n_prompts, n_layers, n_heads
            self.layer_labels = [str(v) for v in (da.coords["layer"].values if "layer" in da.coords else range(n_layers))]
            self.head_labels = [str(v) for v in (da.coords["head"].values if "head" in da.coords else range(n_heads))]
            self.title = str(da.attrs.get("model", "") or da.name or "")
            self.layer, self.head = int(layer), int(head)
            self.prompt = int(prompt)
            self._load_prompt()
        self._ready = True
        self.on_msg(self._on_custom_msg)

    # ----------------------------------------------------------------------------------------------------- state
    @traitlets.observe("prompt")
    def _on_prompt(self, change: dict[str, Any]) -> None:
        if getattr(self, "_ready", False) and change["old"] != change["new"]:
            self._load_prompt()

    @traitlets.validate("layer", "head", "prompt")
    def _check_index(self, proposal: dict[str, Any]) -> int:
        name, value = proposal["trait"].name, int(proposal["value"])
        size = {"layer": self.n_layers, "head": self.n_heads, "prompt": self.n_prompts}[name]
        if getattr(self, "_ready", False) and not 0 <= value < size:
            raise traitlets.TraitError(f"{name}={value} is out of range: attention has {size} {name}(s).")
        return value

    def _prompt_weights(self) -> tuple[np.ndarray, xr.DataArray]:
        da = self._da.isel(prompt=self.prompt) if "prompt" in self._da.dims else self._da
        return np.asarray(da.values, dtype=np.float32), da

    def _load_prompt(self) -> None:
        """Drop padding, compute thumbnails and the snapshot head for the current prompt."""
        if not 0 <= self.prompt < self.n_prompts:
            raise DataModelError(f"prompt={self.prompt} is out of range: attention has {self.n_prompts} prompt(s).")
        w, da = self._prompt_weights()
        qt = da.coords["query_token"].values if "query_token" in da.coords else None
        kt = da.coords["key_token"].values if "key_token" in da.coords else None
        q_keep, k_keep = _valid_positions(w, qt, 2), _valid_positions(w, kt, 3)
        if len(q_keep) < w.shape[2] or len(k_keep) < w.shape[3]:
            w = w[:, :, q_keep][:, :, :, k_keep]
        self._weights, self._q_keep, self._k_keep = np.ascontiguousarray(w), q_keep, k_keep
        with self.hold_sync():
            self.query_tokens = _labels(da, "query_token", q_keep)
            self.key_tokens = _labels(da, "key_token", k_keep)
            meta, buf = self.thumbnails()
            self._thumbs_meta, self._thumbs = dict(meta), buf
            self.snapshot()

    def snapshot(self) -> None:
        """Store the selected head in the synced state (first paint, kernel-free exports)."""
        meta, buf = self.head_payload(self.layer, self.head)
        self._head_meta, self._head = dict(meta), buf

    # ------------------------------------------------------------------------------------------------- payloads
    def thumbnails(self) -> tuple[Meta, bytes]:
        """All heads max-pooled to <= THUMB_CELLS per side, as one uint8 buffer of shape (L, H, tq, tk)."""
        n_l, n_h, nq, nk = self._weights.shape
        side = THUMB_CELLS
        while side > MIN_THUMB_CELLS and n_l * n_h * min(side, nq) * min(side, nk) > MAX_MESSAGE_BYTES:
            side -= 4
        fq, fk = pool_factor(nq, side), pool_factor(nk, side)
        pooled = np.stack([max_pool2d(self._weights[i], fq, fk) for i in range(n_l)])  # per layer: bounded memory
        meta, buf = quantize_unit(pooled)
        meta = {**meta, "pool": [fq, fk]}  # type: ignore[typeddict-unknown-key]
        return meta, buf  # type: ignore[return-value]

    def head_payload(self, layer: int, head: int) -> tuple[dict[str, Any], bytes]:
        """One head as uint8, max-pooled only when it exceeds MAX_HEAD_BYTES."""
        w = self._weights[layer, head]
        nq, nk = w.shape
        f = 1
        while math.ceil(nq / f) * math.ceil(nk / f) > MAX_HEAD_BYTES:
            f += 1
        meta, buf = quantize_unit(max_pool2d(w, f, f))
        check_size(len(buf))
        return {**meta, "pool": [f, f], "layer": int(layer), "head": int(head), "prompt": int(self.prompt)}, buf

    # ------------------------------------------------------------------------------------------------- messages
    def _on_custom_msg(self, _widget: Any, content: dict[str, Any], _buffers: list[bytes]) -> None:
        """Answer ``get_head`` requests from the front end; bad requests get an error reply, never an exception."""
        reply, buffers = self.reply_to(content)
        self.send(reply, buffers=buffers)

    def reply_to(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        """The reply (content, buffers) for one front-end message; separated from sending so tests can call it."""
        if not isinstance(content, dict) or content.get("type") != "get_head":
            return {"type": "error", "message": f"unknown message {content!r:.80}"}, []
        try:
            layer, head = int(content["layer"]), int(content["head"])
            prompt = int(content.get("prompt", self.prompt))
        except (KeyError, TypeError, ValueError):
            return {"type": "error", "message": "get_head needs integer 'layer' and 'head'."}, []
        if prompt != self.prompt:
            return {"type": "error", "message": f"prompt {prompt} is not the one shown ({self.prompt})."}, []
        if not (0 <= layer < self.n_layers and 0 <= head < self.n_heads):
            return {"type": "error", "message": f"no head ({layer}, {head}) in {self.n_layers}x{self.n_heads}."}, []
        meta, buf = self.head_payload(layer, head)
        return {"type": "head", "meta": meta}, [buf]


__all__ = ["AttentionMap", "THUMB_CELLS", "MIN_THUMB_CELLS", "MAX_HEAD_BYTES", "MAX_LABEL_CHARS"]
