"""AttentionMap: every layer x head as a thumbnail grid, plus a zoomable, token-labelled view of the selected head.

Data flow (all numbers as binary buffers, see ``_serialize``):

* ``_thumbs`` (one uint8 buffer, synced trait): every head of the current prompt max-pooled to at most
  ``THUMB_CELLS`` x ``THUMB_CELLS``; the cell count shrinks further when many heads would exceed the message cap.
* ``_head`` (synced trait): the head selected at construction (or by :meth:`snapshot`), so the first paint needs no
  round trip and a saved/exported notebook still shows one head without a kernel.
* ``_heads`` (synced trait, offline mode): every head of the current prompt at full resolution, one uint8 buffer of
  shape (layer, head, query, key), when it fits ``offline_budget`` bytes (default 8 MB) and the thumbnails are pooled
  (unpooled thumbnails already are every head at full resolution). It is set in its own message, after the rest of
  the state. The front end reads any head from there before asking the kernel, so a saved notebook or an exported
  page (:func:`workbench.widgets.export.to_html`) shows every head with no kernel; ``_offline`` says what a page
  without a kernel lacks when it does not fit.
* Any other head is fetched on demand: the front end sends ``{"type": "get_head", "layer", "head", "prompt"}`` and
  the kernel replies ``{"type": "head", ..., "meta"}`` with one buffer. A head bigger than ``MAX_HEAD_BYTES`` is
  max-pooled to fit (``meta["pool"]`` says by how much): this is the zoom's overview.
* Long inputs (4,096 tokens and more): zooming in (wheel, drag-select, +/- buttons, keys) asks for the visible
  rectangle at full resolution, ``{"type": "get_tile", "layer", "head", "q0", "q1", "k0", "k1"}`` (half-open token
  ranges); the reply ``{"type": "tile", "meta"}`` carries one uint8 buffer of at most ``MAX_TILE_BYTES``
  (pooled only when the rectangle is larger than that).
* ``_annotations``: float32 (annotation, query) values drawn as strips under the heatmap (e.g. bracket ``depth``),
  taken from numeric coords on ``query`` (or (prompt, query)) and from ``annotations={"name": values}``.
* ``_scores``: float32 (layer, head, score) drawn as a badge on each thumbnail and in the zoom title
  (``head_scores=`` a DataArray on (layer, head) or (layer, head, score)).

Padding positions of a multi-prompt array (all-NaN rows/columns, token label "") are dropped before anything is sent,
so they are never counted as tokens; remaining NaN cells travel as the NaN code and are drawn transparent.

Memory: the weights are kept in their own float dtype and never copied whole (unless padding is dropped): a float16
map of 32,768 tokens is 2 GiB a head and opens as it is (float32 would be 4 GiB). What the kernel adds is the cached
overviews (at most ``OVERVIEW_CACHE`` x 8 MiB) and pooling buffers of a few MiB (``_pool.BAND_BYTES``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_attention
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget, offline_status
from workbench.widgets._pool import max_pool_codes, pool_factor
from workbench.widgets._serialize import (
    MAX_MESSAGE_BYTES,
    NAN_CODE,
    Meta,
    check_size,
    encode_float,
    pooled_unit_codes,
    unit_codes,
    unit_meta,
)

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: Thumbnail side (cells) per head in the overview grid; 48 keeps a 32 x 32-head model at ~2.4 MB.
THUMB_CELLS: int = 48
#: Smallest thumbnail side we shrink to when there are very many heads (below this the grid is unreadable).
MIN_THUMB_CELLS: int = 4
#: Largest zoomed head sent in one message (uint8 cells = bytes): 2,048 x 2,048 = 4 MiB fits; 4,096² is pooled 2x.
MAX_HEAD_BYTES: int = MAX_MESSAGE_BYTES
#: Largest full-resolution tile (cells = bytes) sent for a zoomed rectangle: 2,048 x 2,048 = 4 MiB.
MAX_TILE_BYTES: int = 4 * 1024 * 1024
#: Pooled head overviews kept in the kernel (uint8 codes, each at most MAX_HEAD_BYTES): re-selecting a head and
#: building thumbnails reuse them.
OVERVIEW_CACHE: int = 2
#: Longest token label sent (characters); the front end truncates further to fit its margins.
MAX_LABEL_CHARS: int = 40

_DIMS = ("layer", "head", "query", "key")


def _valid_positions(w: np.ndarray, tokens: np.ndarray | None, axis: int) -> np.ndarray:
    """Indices along query (axis=2) or key (axis=3) that are real tokens, not padding.

    Padding = every weight NaN across all layers/heads/other positions, and (when labels exist) the label is "".
    Only candidates are checked in full: positions labelled "" (every position when there are no labels) that are
    NaN where they meet position 0 of the other axis, so an input without padding costs no pass over its weights.
    """
    n = w.shape[axis]
    cand = np.arange(n) if tokens is None else np.flatnonzero(np.asarray(tokens, dtype=object) == "")
    if cand.size:
        edge = np.take(w, 0, axis=5 - axis)  # (layer, head, n): the row/column where the other axis is 0
        cand = cand[np.all(np.isnan(edge[..., cand]), axis=(0, 1))]
    if cand.size:
        other = tuple(i for i in range(4) if i != axis)
        cand = cand[np.all(np.isnan(np.take(w, cand, axis=axis)), axis=other)]
    return np.setdiff1d(np.arange(n), cand, assume_unique=True)


def _labels(da: xr.DataArray, coord: str, keep: np.ndarray) -> list[str]:
    """Token labels along one axis (falls back to positions), truncated to MAX_LABEL_CHARS."""
    if coord in da.coords:
        vals = np.asarray(da.coords[coord].values, dtype=object)[keep]
        return [str(v)[:MAX_LABEL_CHARS] for v in vals]
    return [str(int(i)) for i in keep]


# ------------------------------------------------------------------------------------------- input validation
def annotations_from(da: xr.DataArray, annotations: Mapping[str, Any] | None, n_prompts: int) -> dict[str, np.ndarray]:
    """Per-token annotations as ``{name: float32 array (n_prompts, n_query)}``.

    Every numeric coord of ``da`` on ``("query",)`` or ``("prompt", "query")`` (other than the ``query`` index) is
    one; ``annotations`` adds or overrides (values on query, or (prompt, query); a DataArray or array-like).

    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((1, 1, 3, 3)), dims=("layer", "head", "query", "key"),
    ...                   coords={"depth": ("query", [1, 2, 1])})
    >>> annotations_from(da, None, 1)["depth"].tolist()
    [[1.0, 2.0, 1.0]]
    """
    nq = int(da.sizes["query"])
    out: dict[str, np.ndarray] = {}
    for name, c in da.coords.items():
        if name == "query" or c.dtype.kind not in "iufb":
            continue
        if c.dims in (("query",), ("prompt", "query")):
            out[str(name)] = np.broadcast_to(np.asarray(c.values, np.float32), (n_prompts, nq)).copy()
    if annotations is None:
        return out
    if not isinstance(annotations, Mapping):
        raise DataModelError(f"annotations must be a dict of name -> per-token values, got {type(annotations).__name__}.")
    for name, values in annotations.items():
        if isinstance(values, xr.DataArray):
            if values.dims not in (("query",), ("prompt", "query")):
                raise DataModelError(f"annotations[{name!r}] must lie on ('query',) or ('prompt', 'query'), "
                                     f"got dims {values.dims}.")
            values = values.values
        a = np.asarray(values)
        if a.dtype.kind not in "iufb":
            raise DataModelError(f"annotations[{name!r}] must be numeric, got dtype {a.dtype}.")
        if a.shape not in ((nq,), (n_prompts, nq)):
            raise DataModelError(f"annotations[{name!r}] must have shape ({nq},) or ({n_prompts}, {nq}) "
                                 f"(one value per query token), got {a.shape}.")
        out[str(name)] = np.broadcast_to(a.astype(np.float32), (n_prompts, nq)).copy()
    return out


def scores_from(head_scores: Any, n_layers: int, n_heads: int) -> tuple[np.ndarray, list[str]] | None:
    """Validate ``head_scores`` (DataArray on (layer, head) or (layer, head, score)) -> float32 (L, H, S), names.

    >>> import numpy as np, xarray as xr
    >>> s, names = scores_from(xr.DataArray(np.ones((2, 3)), dims=("layer", "head"), name="induction"), 2, 3)
    >>> s.shape, names
    ((2, 3, 1), ['induction'])
    """
    if head_scores is None:
        return None
    if not isinstance(head_scores, xr.DataArray):
        raise DataModelError(f"head_scores must be an xarray.DataArray on (layer, head) or (layer, head, score), "
                             f"got {type(head_scores).__name__}.")
    dims = set(head_scores.dims)
    if dims not in ({"layer", "head"}, {"layer", "head", "score"}):
        raise DataModelError(f"head_scores must have dims (layer, head) or (layer, head, score), got {head_scores.dims}.")
    if head_scores.dtype.kind not in "iufb":
        raise DataModelError(f"head_scores must be numeric, got dtype {head_scores.dtype}.")
    if "score" in dims:
        hs = head_scores.transpose("layer", "head", "score")
        names = [str(v) for v in (hs.coords["score"].values if "score" in hs.coords else range(hs.sizes["score"]))]
    else:
        hs = head_scores.transpose("layer", "head").expand_dims("score", axis=2)
        names = [str(head_scores.name or "score")]
    if (hs.sizes["layer"], hs.sizes["head"]) != (n_layers, n_heads):
        raise DataModelError(f"head_scores has {hs.sizes['layer']} layer(s) x {hs.sizes['head']} head(s) but the "
                             f"attention has {n_layers} x {n_heads}.")
    return np.asarray(hs.values, np.float32), names


# ------------------------------------------------------------------------------------------------- payloads
class HeadSource:
    """Every payload of one attention array (layer, head, query, key) with padding already dropped.

    Shared by :class:`AttentionMap` and the PopulationExplorer's linked map. ``gen`` tags every payload so the front
    end can drop a late reply that belongs to data it no longer shows.

    >>> src = HeadSource(np.eye(3, dtype=np.float32)[None, None], prompt=0)
    >>> meta, buf = src.tile_payload(0, 0, 1, 3, 0, 3)
    >>> meta["shape"], len(buf)
    ([2, 3], 6)
    """

    def __init__(self, weights: np.ndarray, prompt: int = 0, gen: int = 0) -> None:
        w = np.asarray(weights)
        if w.dtype not in (np.float16, np.float32, np.float64):
            w = w.astype(np.float32)
        self.weights = np.ascontiguousarray(w)  # its own float dtype: a float16 map is never copied to float32
        self.prompt, self.gen = int(prompt), int(gen)
        self._overviews: dict[tuple[int, int], tuple[np.ndarray, int]] = {}

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(int(s) for s in self.weights.shape)  # type: ignore[return-value]

    def overview_factor(self) -> int:
        """The smallest square pooling factor that brings one head under MAX_HEAD_BYTES cells."""
        nq, nk = self.weights.shape[2:]
        f = 1
        while math.ceil(nq / f) * math.ceil(nk / f) > MAX_HEAD_BYTES:
            f += 1
        return f

    def overview(self, layer: int, head: int) -> tuple[np.ndarray, int]:
        """One head max-pooled by the smallest square factor that fits MAX_HEAD_BYTES, as (uint8 codes, factor).

        The last few are cached: a head asked for again costs nothing, and thumbnails reuse them."""
        key = (int(layer), int(head))
        if key not in self._overviews:
            f = self.overview_factor()
            while len(self._overviews) >= OVERVIEW_CACHE:
                self._overviews.pop(next(iter(self._overviews)))
            self._overviews[key] = (pooled_unit_codes(self.weights[key], f, f), f)
        return self._overviews[key]

    def thumbnails(self) -> tuple[dict[str, Any], bytes]:
        """All heads max-pooled to <= THUMB_CELLS per side, as one uint8 buffer of shape (L, H, tq, tk).

        Thumbnail blocks are whole multiples of the overview's (``pool`` in the meta says how big), so a head whose
        overview is cached is pooled from the overview's codes: the same codes as from its weights, from a fraction
        of the cells. Every other head is pooled from its weights."""
        n_l, n_h, nq, nk = self.weights.shape
        side = THUMB_CELLS
        while side > MIN_THUMB_CELLS and n_l * n_h * min(side, nq) * min(side, nk) > MAX_MESSAGE_BYTES:
            side -= 4
        fo = self.overview_factor()
        fq, fk = (fo * math.ceil(pool_factor(n, side) / fo) for n in (nq, nk))
        codes = np.empty((n_l, n_h, math.ceil(nq / fq), math.ceil(nk / fk)), np.uint8)
        for layer in range(n_l):
            for head in range(n_h):
                over, f = self._overviews.get((layer, head), (None, 0))
                if over is not None and fq % f == 0 and fk % f == 0:
                    codes[layer, head] = max_pool_codes(over, fq // f, fk // f, NAN_CODE)
                else:
                    codes[layer, head] = pooled_unit_codes(self.weights[layer, head], fq, fk)
        check_size(codes.size)
        return {**unit_meta(codes.shape), "pool": [fq, fk], "gen": self.gen}, codes.tobytes()

    @property
    def full_thumbnails(self) -> bool:
        """Whether the thumbnails are every head at full resolution (no pooling: at most THUMB_CELLS tokens)."""
        n_l, n_h, nq, nk = self.weights.shape
        return nq <= THUMB_CELLS and nk <= THUMB_CELLS and n_l * n_h * nq * nk <= MAX_MESSAGE_BYTES

    def all_heads(self) -> tuple[dict[str, Any], bytes]:
        """Every head at full resolution as one uint8 buffer of shape (layer, head, query, key) (offline mode).

        >>> meta, buf = HeadSource(np.full((2, 3, 4, 4), 0.5, np.float32)).all_heads()
        >>> meta["shape"], len(buf), buf[0]
        ([2, 3, 4, 4], 96, 127)
        """
        codes = unit_codes(self.weights)
        check_size(codes.size)
        return {**unit_meta(codes.shape), "prompt": self.prompt, "gen": self.gen}, codes.tobytes()

    def head_payload(self, layer: int, head: int) -> tuple[dict[str, Any], bytes]:
        """One head as uint8, max-pooled only when it exceeds MAX_HEAD_BYTES (the zoom's overview)."""
        codes, f = self.overview(layer, head)
        check_size(codes.size)
        return {**unit_meta(codes.shape), "pool": [f, f], "layer": int(layer), "head": int(head),
                "prompt": self.prompt, "gen": self.gen}, codes.tobytes()

    def tile_payload(self, layer: int, head: int, q0: int, q1: int, k0: int, k1: int) -> tuple[dict[str, Any], bytes]:
        """Rows q0:q1, cols k0:k1 of one head (clipped to the head), at full resolution when that fits in
        MAX_TILE_BYTES, else max-pooled by the smallest square factor that fits."""
        nq, nk = self.weights.shape[2:]
        q0, q1 = max(0, min(int(q0), nq)), max(0, min(int(q1), nq))
        k0, k1 = max(0, min(int(k0), nk)), max(0, min(int(k1), nk))
        if q1 <= q0 or k1 <= k0:
            raise ValueError(f"empty tile q[{q0}:{q1}] k[{k0}:{k1}] in a {nq} x {nk} head.")
        f = 1
        while math.ceil((q1 - q0) / f) * math.ceil((k1 - k0) / f) > MAX_TILE_BYTES:
            f += 1
        codes = pooled_unit_codes(self.weights[layer, head, q0:q1, k0:k1], f, f)
        check_size(codes.size)
        return {**unit_meta(codes.shape), "pool": [f, f], "layer": int(layer), "head": int(head),
                "prompt": self.prompt, "gen": self.gen, "q0": q0, "q1": q1, "k0": k0, "k1": k1}, codes.tobytes()

    def reply_to(self, content: Any) -> tuple[dict[str, Any], list[bytes]]:
        """The reply (content, buffers) for one ``get_head`` / ``get_tile`` message; errors are replies, not raised."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind not in ("get_head", "get_tile"):
            return {"type": "error", "message": f"unknown message {content!r:.80}"}, []
        n_l, n_h = self.weights.shape[:2]
        try:
            layer, head = int(content["layer"]), int(content["head"])
            prompt = int(content.get("prompt", self.prompt))
            box = [int(content[k]) for k in ("q0", "q1", "k0", "k1")] if kind == "get_tile" else None
        except (KeyError, TypeError, ValueError):
            need = "'layer', 'head'" + (", 'q0', 'q1', 'k0', 'k1'" if kind == "get_tile" else "")
            return {"type": "error", "message": f"{kind} needs integer {need}."}, []
        if prompt != self.prompt:
            return {"type": "error", "message": f"prompt {prompt} is not the one shown ({self.prompt})."}, []
        if not (0 <= layer < n_l and 0 <= head < n_h):
            return {"type": "error", "message": f"no head ({layer}, {head}) in {n_l}x{n_h}."}, []
        if box is None:
            meta, buf = self.head_payload(layer, head)
            return {"type": "head", "meta": meta}, [buf]
        try:
            meta, buf = self.tile_payload(layer, head, *box)
        except ValueError as e:
            return {"type": "error", "message": str(e)}, []
        return {"type": "tile", "meta": meta}, [buf]


def badge_state(scores: tuple[np.ndarray, list[str]] | None) -> tuple[dict[str, Any], bytes]:
    """(meta, float32 bytes) of head scores for the front end; empty meta when there are none."""
    if scores is None:
        return {}, b""
    values, names = scores
    meta, buf = encode_float(values, "float32")
    return {**meta, "names": list(names)}, buf


def offline_heads(src: HeadSource, budget: int) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """What the saved state holds beyond the thumbnails and the selected head: ``(heads meta, heads bytes, status)``.

    Unpooled thumbnails already hold every head, so nothing more is needed; otherwise every head at full resolution
    when it fits ``budget`` bytes, else nothing (the kernel sends heads when asked; ``status["missing"]`` says so)."""
    n_l, n_h, nq, nk = src.shape
    if src.full_thumbnails:
        return {}, b"", {**offline_status(0, budget, ""), "heads": "thumbnails"}
    status = offline_status(n_l * n_h * nq * nk, budget, "every head at full resolution")
    if not status["complete"]:
        return {}, b"", {**status, "heads": "kernel"}
    meta, buf = src.all_heads()
    return meta, buf, {**status, "heads": "state"}


class AttentionMap(anywidget.AnyWidget):
    """Interactive attention viewer: ``AttentionMap(da, prompt=0, layer=0, head=0, annotations=None,
    head_scores=None, offline_budget=8_000_000)``.

    ``da`` must pass :func:`workbench.data.validate_attention` (dims layer, head, query, key, optional leading
    prompt). Click a thumbnail (or use the arrow keys on the grid) to select a head; ``layer`` and ``head`` are synced
    both ways, so setting them from Python redraws the view. Zoom the head with the wheel, a drag, the +/- buttons or
    the +/-/0 keys; long inputs fetch the zoomed rectangle at full resolution from the kernel. When every head of the
    prompt fits ``offline_budget`` bytes (at most one message, 8 MiB) they are all in the saved state, so a saved or
    exported page shows any head without a kernel.

    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.full((1, 2, 3, 3), 1 / 3, np.float32), dims=("layer", "head", "query", "key"),
    ...                   coords={"depth": ("query", [1, 0, 1])})
    >>> w = AttentionMap(da, head_scores=xr.DataArray([[0.9, 0.1]], dims=("layer", "head"), name="hierarchical"))
    >>> w.annotation_names, w._scores_meta["names"]
    (['depth'], ['hierarchical'])
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
    # token labels: built as str by _labels; no per-element trait check (16k checks cost 65 ms at 8,192 tokens)
    query_tokens = traitlets.List().tag(sync=True)
    key_tokens = traitlets.List().tag(sync=True)
    annotation_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    _thumbs = traitlets.Bytes(b"").tag(sync=True)
    _thumbs_meta = traitlets.Dict().tag(sync=True)
    _head = traitlets.Bytes(b"").tag(sync=True)
    _head_meta = traitlets.Dict().tag(sync=True)
    _annotations = traitlets.Bytes(b"").tag(sync=True)
    _annotations_meta = traitlets.Dict().tag(sync=True)
    _scores = traitlets.Bytes(b"").tag(sync=True)
    _scores_meta = traitlets.Dict().tag(sync=True)
    _heads = traitlets.Bytes(b"").tag(sync=True)  # offline mode: every head at full resolution, when it fits
    _heads_meta = traitlets.Dict().tag(sync=True)
    _offline = traitlets.Dict().tag(sync=True)  # what the saved state holds, and what a page without a kernel lacks

    def __init__(self, da: Any, prompt: int = 0, layer: int = 0, head: int = 0,
                 annotations: Mapping[str, Any] | None = None, head_scores: xr.DataArray | None = None,
                 offline_budget: int = OFFLINE_BUDGET, **kwargs: Any) -> None:
        self._offline_budget = check_budget(offline_budget, limit=MAX_MESSAGE_BYTES)
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
        self._ann = annotations_from(da, annotations, n_prompts)
        scores = scores_from(head_scores, n_layers, n_heads)
        self._ready = False
        super().__init__(**kwargs)
        self._src = HeadSource(np.empty((0, 0, 0, 0), np.float32))
        self._q_keep = self._k_keep = np.empty(0, int)
        with self.hold_sync():
            self.n_prompts, self.n_layers, self.n_heads = n_prompts, n_layers, n_heads
            self.layer_labels = [str(v) for v in (da.coords["layer"].values if "layer" in da.coords else range(n_layers))]
            self.head_labels = [str(v) for v in (da.coords["head"].values if "head" in da.coords else range(n_heads))]
            self.title = str(da.attrs.get("model", "") or da.name or "")
            self._scores_meta, self._scores = badge_state(scores)
            self.layer, self.head = int(layer), int(head)
            self.prompt = int(prompt)
            self._load_prompt()
        self._load_offline()
        self._ready = True
        self.on_msg(self._on_custom_msg)

    # ----------------------------------------------------------------------------------------------------- state
    @property
    def _weights(self) -> np.ndarray:
        return self._src.weights

    @traitlets.observe("prompt")
    def _on_prompt(self, change: dict[str, Any]) -> None:
        if getattr(self, "_ready", False) and change["old"] != change["new"]:
            self._load_prompt()
            self._load_offline()

    @traitlets.validate("layer", "head", "prompt")
    def _check_index(self, proposal: dict[str, Any]) -> int:
        name, value = proposal["trait"].name, int(proposal["value"])
        size = {"layer": self.n_layers, "head": self.n_heads, "prompt": self.n_prompts}[name]
        if getattr(self, "_ready", False) and not 0 <= value < size:
            raise traitlets.TraitError(f"{name}={value} is out of range: attention has {size} {name}(s).")
        return value

    def _prompt_weights(self) -> tuple[np.ndarray, xr.DataArray]:
        da = self._da.isel(prompt=self.prompt) if "prompt" in self._da.dims else self._da
        return np.asarray(da.values), da  # its own float dtype (validate_attention checked it is one)

    def _load_prompt(self) -> None:
        """Drop padding, compute thumbnails, annotations and the snapshot head for the current prompt."""
        if not 0 <= self.prompt < self.n_prompts:
            raise DataModelError(f"prompt={self.prompt} is out of range: attention has {self.n_prompts} prompt(s).")
        w, da = self._prompt_weights()
        qt = da.coords["query_token"].values if "query_token" in da.coords else None
        kt = da.coords["key_token"].values if "key_token" in da.coords else None
        q_keep, k_keep = _valid_positions(w, qt, 2), _valid_positions(w, kt, 3)
        if len(q_keep) < w.shape[2] or len(k_keep) < w.shape[3]:
            w = w[:, :, q_keep][:, :, :, k_keep]
        self._src = HeadSource(w, prompt=self.prompt, gen=self._src.gen + 1)
        self._q_keep, self._k_keep = q_keep, k_keep
        with self.hold_sync():
            self.query_tokens = _labels(da, "query_token", q_keep)
            self.key_tokens = _labels(da, "key_token", k_keep)
            names = list(self._ann)
            if names:
                vals = np.stack([self._ann[n][self.prompt][q_keep] for n in names])
                meta, buf = encode_float(vals, "float32")
                self._annotations_meta, self._annotations = {**meta, "names": names}, buf
            else:
                self._annotations_meta, self._annotations = {}, b""
            self.annotation_names = names
            self.snapshot()  # first: the thumbnails then reuse the selected head's overview
            meta, buf = self.thumbnails()
            self._thumbs_meta, self._thumbs = dict(meta), buf

    def _load_offline(self) -> None:
        """Every head of the current prompt into the state when it fits the offline budget, in a message of its own
        (so it never rides with the thumbnails over the message cap)."""
        meta, buf, status = offline_heads(self._src, self._offline_budget)
        with self.hold_sync():
            self._heads_meta, self._heads = meta, buf
            self._offline = status

    def snapshot(self) -> None:
        """Store the selected head in the synced state (first paint, kernel-free exports)."""
        meta, buf = self.head_payload(self.layer, self.head)
        self._head_meta, self._head = dict(meta), buf

    # ------------------------------------------------------------------------------------------------- payloads
    def thumbnails(self) -> tuple[Meta, bytes]:
        """All heads max-pooled to <= THUMB_CELLS per side, as one uint8 buffer of shape (L, H, tq, tk)."""
        return self._src.thumbnails()  # type: ignore[return-value]

    def head_payload(self, layer: int, head: int) -> tuple[dict[str, Any], bytes]:
        """One head as uint8, max-pooled only when it exceeds MAX_HEAD_BYTES."""
        return self._src.head_payload(layer, head)

    def tile_payload(self, layer: int, head: int, q0: int, q1: int, k0: int, k1: int) -> tuple[dict[str, Any], bytes]:
        """Rows q0:q1, cols k0:k1 of one head at full resolution (pooled only beyond MAX_TILE_BYTES)."""
        return self._src.tile_payload(layer, head, q0, q1, k0, k1)

    # ------------------------------------------------------------------------------------------------- messages
    def _on_custom_msg(self, _widget: Any, content: dict[str, Any], _buffers: list[bytes]) -> None:
        """Answer ``get_head`` / ``get_tile`` requests; bad requests get an error reply, never an exception."""
        reply, buffers = self.reply_to(content)
        self.send(reply, buffers=buffers)

    def reply_to(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        """The reply (content, buffers) for one front-end message; separated from sending so tests can call it."""
        return self._src.reply_to(content)


__all__ = ["AttentionMap", "HeadSource", "offline_heads", "THUMB_CELLS", "MIN_THUMB_CELLS", "MAX_HEAD_BYTES", "MAX_TILE_BYTES",
           "OVERVIEW_CACHE", "MAX_LABEL_CHARS", "annotations_from", "scores_from", "badge_state"]
