"""PatchMap: where in a model patching a clean activation into a corrupted run restores the clean answer.

The view of an activation- or attribution-patching Dataset (:func:`workbench.data.validate_patching`):

* **heat map** on canvas, layers down, positions (or spans) across, on a diverging scale symmetric about 0 (blue
  negative, white 0, red positive; 1 = the patch restores the clean answer); NaN cells (a site without that layer,
  a position past a shorter pair's end) are hatched. The clean prompt's tokens label the position axis, and the
  positions where the corrupted prompt differs are bold with a marker under the map;
* **tabs** for the sites (``resid``, ``attn``, ``mlp``) and a **head** view (layer x head) when ``head_effect``
  exists; a **pair picker** with "mean over pairs" (the default for several pairs; NaN-ignoring);
* **hover** reads a cell's value; a **click** (or the arrow keys on the focused map) selects it, lists that patch's
  top logit changes from the saved top-k arrays (no kernel needed) and sets the synced traits ``site``, ``layer``,
  ``position`` (``head`` in the head view) and ``pair``;
* an **exact / attribution** toggle when ``attribution`` is given, showing each site's Pearson r.

Transport (``_serialize.pack``): numbers travel as packed float32 buffers, never JSON lists. ``_summary`` holds what
every view shares (layers, the mean over pairs of every map, per-pair metrics and differing positions, Pearson r);
``_pairs`` holds each pair's maps, heads and top-k (token ids as indices into ``_info["vocab"]``). When every pair's
payload fits ``offline_budget`` (default 8 MB, the rule every widget follows) all of them are in the state, so a
saved notebook or an exported page (:func:`workbench.widgets.export.to_html`) switches pairs and lists top-k with no
kernel; otherwise the kernel sends the picked pair (trait ``pair``), and a page without one says what it lacks. One
pair's payload must fit one kernel message (``MAX_MESSAGE_BYTES``, 8 MiB: e.g. 3 sites x 30 layers x 1,000
positions with top-10); a larger one is a one-sentence ``MessageTooLarge`` that says what to leave out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_patching
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget, offline_status
from workbench.widgets._patching import (
    cells_dim,
    check_same_grid,
    differs,
    pair_mean,
    per_pair,
    token_rows,
    top_indices,
    vocab_table,
)
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, MessageTooLarge, pack
from workbench.widgets._traits import as_trait_error

_STATIC = Path(__file__).resolve().parent.parent / "static"
#: The tab of the layer x head view (beside the sites).
HEAD_VIEW = "head"
#: What a page without a kernel lacks when the pairs are not all saved.
_WHAT = "every pair's maps, heads and top-k logit changes"


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


class PatchMap(anywidget.AnyWidget):
    """The activation / attribution patching widget.

    ``PatchMap(ds, attribution=None, pair=None, site=None, offline_budget=8_000_000)``: ``ds`` passes
    :func:`workbench.data.validate_patching` (``method`` "exact", or "attribution" alone); ``attribution`` is the
    matching attribution-patching Dataset (same pairs, sites, layers and cells), shown by a toggle with its Pearson r
    per site. ``pair`` (-1: mean over pairs, the default for several pairs), ``site`` (a site or ``"head"``),
    ``method`` and the selected cell ``layer`` (a layer coordinate; -1: none), ``position`` (a position or span
    index; -1: none) and ``head`` (in the head view; -1: none) are synced both ways.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"effect": (("site", "layer", "position"), np.array([[[0.1, 0.9], [-0.2, 1.0]]])),
    ...                  "metric": (("site", "layer", "position"), np.zeros((1, 2, 2)))},
    ...                 coords={"site": ["resid"], "token": ("position", [" a", " b"]),
    ...                         "corrupted_token": ("position", [" a", " c"])},
    ...                 attrs={"metric": "logit_diff(' b', ' c')", "method": "exact"})
    >>> w = PatchMap(ds)
    >>> w.pair, w.site, w.method, w._offline["pairs"]
    (0, 'resid', 'exact', 'state')
    """

    _esm = _STATIC / "patch_map.js"
    _css = _STATIC / "patch_map.css"

    pair = traitlets.Int(-1).tag(sync=True)
    site = traitlets.Unicode("resid").tag(sync=True)
    method = traitlets.Unicode("exact").tag(sync=True)
    layer = traitlets.Int(-1).tag(sync=True)
    position = traitlets.Int(-1).tag(sync=True)
    head = traitlets.Int(-1).tag(sync=True)
    _info = traitlets.Dict().tag(sync=True)  # names, tokens, vocab strings, flags, the meta of _summary
    _summary = traitlets.Bytes(b"").tag(sync=True)  # packed float32: layers, means over pairs, per-pair scalars
    _pairs = traitlets.Dict().tag(sync=True)  # str(pair) -> {"meta", "data"} (packed float32 maps, heads, top-k)
    _offline = traitlets.Dict().tag(sync=True)

    def __init__(self, ds: Any, attribution: Any = None, pair: int | None = None, site: str | None = None,
                 offline_budget: int = OFFLINE_BUDGET, **kwargs: Any) -> None:
        budget = check_budget(offline_budget, limit=MAX_MESSAGE_BYTES)
        ds = validate_patching(ds)
        views = {str(ds.attrs["method"]): ds}
        if attribution is not None:
            attribution = validate_patching(attribution)
            if ds.attrs["method"] != "exact" or attribution.attrs["method"] != "attribution":
                raise DataModelError(f"PatchMap(ds, attribution=...) needs an exact Dataset and an attribution one, "
                                     f"got methods {ds.attrs['method']!r} and {attribution.attrs['method']!r}.")
            check_same_grid(ds, attribution)
            views["attribution"] = attribution
        self._views = views
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        self._cells = cells_dim(ds)
        self._sites = [str(s) for s in ds["site"].values]
        self._layers = ([int(v) for v in ds["layer"].values] if "layer" in ds.coords
                        else list(range(ds.sizes["layer"])))
        self._n_pairs = int(ds.sizes.get("pair", 1))
        self._n_cells = int(ds.sizes[self._cells])
        self._head_views = [m for m, v in views.items() if "head_effect" in v.data_vars]
        self._n_heads = int(views[self._head_views[0]].sizes["head"]) if self._head_views else 0
        if 0 in (len(self._layers), self._n_pairs, self._n_cells) or not (self._sites or self._head_views):
            raise DataModelError(f"PatchMap needs at least one pair, layer, {self._cells} and site (or a head view); "
                                 f"got sizes {dict(ds['effect'].sizes)}.")
        if pair is None:
            pair = -1 if self._n_pairs > 1 else 0
        self._check_pair(pair)
        if site is None:
            site = "resid" if "resid" in self._sites else (self._sites[0] if self._sites else HEAD_VIEW)
        self._check_site(site)
        self._ready = False
        self._vocab_index, self._vocab = vocab_table(list(views.values()))
        super().__init__(**kwargs)
        payloads = {p: self.pair_payload(p) for p in range(self._n_pairs)}
        need = sum(len(p["data"]) for p in payloads.values())
        self._all_in_state = need <= budget
        info, summary = self.summary()  # after the payloads: their top-k may add strings to the vocab table
        with self.hold_sync():
            self._info, self._summary = info, summary
            self._offline = {**offline_status(need, budget, _WHAT),
                             "pairs": "state" if self._all_in_state else "kernel"}
            self.method = str(ds.attrs["method"])
            self.site, self.pair = str(site), int(pair)
        # the pairs travel in a message of their own (each message stays under the cap)
        self._pairs = ({str(p): v for p, v in payloads.items()} if self._all_in_state
                       else ({str(pair): payloads[int(pair)]} if pair >= 0 else {}))
        self._ready = True

    # ------------------------------------------------------------------------------------------------- checks
    def _check_pair(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise DataModelError(f"pair must be an integer index (-1: mean over pairs), got {value!r}.")
        if not -1 <= int(value) < self._n_pairs:
            raise DataModelError(f"pair={value} is out of range: the Dataset has {self._n_pairs} pair(s), so expected "
                                 f"-1 (mean over pairs) or 0 <= pair < {self._n_pairs}.")
        return int(value)

    def _check_site(self, value: Any) -> str:
        allowed = self._sites + ([HEAD_VIEW] if self._head_views else [])
        if value not in allowed:
            raise DataModelError(f"site must be one of {allowed}, got {value!r}.")
        return str(value)

    def _check_method(self, value: Any) -> str:
        if value not in self._views:
            raise DataModelError(f"method must be one of {list(self._views)} (pass attribution= for the "
                                 f"attribution map), got {value!r}.")
        return str(value)

    def _check_layer(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
                int(value) != -1 and int(value) not in self._layers):
            raise DataModelError(f"layer must be -1 (none) or one of the Dataset's layers "
                                 f"{self._layers[0]}..{self._layers[-1]}, got {value!r}.")
        return int(value)

    def _check_index(self, value: Any, name: str, n: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not -1 <= int(value) < n:
            raise DataModelError(f"{name} must be -1 (none) or an index in 0..{n - 1}, got {value!r}.")
        return int(value)


    @traitlets.validate("pair")
    def _v_pair(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_pair, proposal["value"])

    @traitlets.validate("site")
    def _v_site(self, proposal: dict[str, Any]) -> str:
        return as_trait_error(self._check_site, proposal["value"])

    @traitlets.validate("method")
    def _v_method(self, proposal: dict[str, Any]) -> str:
        return as_trait_error(self._check_method, proposal["value"])

    @traitlets.validate("layer")
    def _v_layer(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_layer, proposal["value"])

    @traitlets.validate("position")
    def _v_position(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_index, proposal["value"], "position", self._n_cells)

    @traitlets.validate("head")
    def _v_head(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_index, proposal["value"], "head", max(self._n_heads, 0))

    @traitlets.observe("pair")
    def _on_pair(self, change: dict[str, Any]) -> None:
        new = int(change["new"])
        if getattr(self, "_ready", False) and new >= 0 and not self._all_in_state and str(new) not in self._pairs:
            self._pairs = {str(new): self.pair_payload(new)}  # the kernel sends the picked pair

    # ------------------------------------------------------------------------------------------------ payloads
    def _full(self, method: str, var: str, dims: tuple[str, ...], dtype: Any = np.float32) -> np.ndarray:
        """``var`` of ``method``'s Dataset as ``(pair, *dims)`` (computed once)."""
        key = (method, var)
        if key not in self._cache:
            self._cache[key] = per_pair(self._views[method][var], dims, dtype=dtype)
        return self._cache[key]

    def _arrays(self, pair: int | None) -> dict[str, np.ndarray]:
        """Every map of every method for one pair (``None``: the mean over pairs, without top-k), keyed
        ``"<method>:<name>"``: ``effect``/``metric`` (site, layer, cell), ``head_effect``/``head_metric``
        (span, layer, head), ``top_index``/``top_change`` (site, layer, cell, rank) and ``head_top_*``
        (span, layer, head, rank)."""
        out: dict[str, np.ndarray] = {}
        grid = ("site", "layer", self._cells)
        heads = ("span", "layer", "head")
        for m, ds in self._views.items():
            def pick(a: np.ndarray) -> np.ndarray:
                return pair_mean(a) if pair is None else a[pair]

            for var in ("effect", "metric"):
                out[f"{m}:{var}"] = pick(self._full(m, var, grid))
            for var in ("head_effect", "head_metric"):
                if var in ds.data_vars:
                    out[f"{m}:{var}"] = pick(self._full(m, var, heads))
            if pair is None:
                continue
            for prefix, dims in (("top", (*grid, "rank")), ("head_top", (*heads, "rank"))):
                if f"{prefix}_token_id" in ds.data_vars and f"{prefix}_change" in ds.data_vars:
                    ids = self._full(m, f"{prefix}_token_id", dims, np.int64)[pair]
                    out[f"{m}:{prefix}_index"] = top_indices(ids, self._vocab_index, self._vocab)
                    out[f"{m}:{prefix}_change"] = self._full(m, f"{prefix}_change", dims)[pair]
        return out

    def pair_payload(self, pair: int) -> dict[str, Any]:
        """One pair's maps, heads and top-k logit changes of every method as ``{"meta", "data"}`` (packed float32).

        >>> import numpy as np, xarray as xr
        >>> ds = xr.Dataset({v: (("pair", "site", "layer", "position"), np.zeros((2, 1, 3, 4))) for v in
        ...                  ("effect", "metric")}, coords={"site": ["mlp"]}, attrs={"metric": "m", "method": "exact"})
        >>> p = PatchMap(ds).pair_payload(1)
        >>> p["meta"]["pair"], p["meta"]["arrays"]["exact:effect"]["shape"]
        (1, [1, 3, 4])
        """
        pair = self._check_pair(pair)
        if pair < 0:
            raise DataModelError("pair_payload needs a pair index >= 0; the mean over pairs is in the summary.")
        arrays = self._arrays(pair)
        size = sum(4 * a.size for a in arrays.values())
        if size > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(f"pair {pair}'s maps and top-k logit changes are {size:,} bytes, over the "
                                  f"{MAX_MESSAGE_BYTES:,}-byte cap of one kernel message; show fewer sites or layers "
                                  f"(ds.sel(site=[...]), ds.isel(layer=...)) or drop the top-k variables.")
        meta, data = pack(arrays)
        return {"meta": {**meta, "pair": pair}, "data": data}

    def summary(self) -> tuple[dict[str, Any], bytes]:
        """What every view shares: layers, the NaN-ignoring mean over pairs of every map, each pair's clean and
        corrupted metric and differing positions, Pearson r of the attribution map (packed float32); and the names,
        token strings and vocab strings (JSON)."""
        ds = self._views[next(iter(self._views))]
        arrays = {"layers": _f32(self._layers), **self._arrays(None)}
        if self._cells == "position":
            clean = token_rows(ds, "token", self._n_pairs, self._n_cells)
            corrupted = token_rows(ds, "corrupted_token", self._n_pairs, self._n_cells)
        else:
            labels = ([str(s) for s in ds.coords["span_label"].values] if "span_label" in ds.coords
                      else [f"span {i}" for i in range(self._n_cells)])
            clean, corrupted = [labels] * self._n_pairs, [labels] * self._n_pairs
        arrays["differ"] = differs(clean, corrupted)
        for var in ("clean_metric", "corrupted_metric"):
            arrays[var] = (_f32(per_pair(ds[var], ())).reshape(self._n_pairs) if var in ds.data_vars
                           else np.full(self._n_pairs, np.nan, np.float32))
        for m, v in self._views.items():
            if "pearson_r" in v.data_vars:
                arrays[f"{m}:pearson_r"] = _f32(v["pearson_r"].sel(site=self._sites).values).reshape(-1)
            if "head_pearson_r" in v.data_vars:
                arrays[f"{m}:head_pearson_r"] = _f32(v["head_pearson_r"].values).reshape(-1)[:1]
        meta, buf = pack(arrays)
        head_ds = self._views[self._head_views[0]] if self._head_views else None
        head_spans: list[str] = []
        if head_ds is not None and "span" in head_ds["head_effect"].dims:
            head_spans = ([str(s) for s in head_ds["span_label"].values] if "span_label" in head_ds.coords
                          else [f"span {i}" for i in range(head_ds.sizes["span"])])
        pair_names = ([str(p) for p in ds["pair"].values] if "pair" in ds.dims and "pair" in ds.coords
                      else [str(i) for i in range(self._n_pairs)])
        texts = {name: [str(t) for t in np.asarray(ds.coords[name].values).reshape(-1)][: self._n_pairs]
                 for name in ("clean", "answer", "wrong") if name in ds.coords}
        prompts = (texts["clean"] if len(texts.get("clean", ())) == self._n_pairs
                   else ["".join(row) for row in clean] if self._cells == "position" else [""] * self._n_pairs)
        answers = ([[a, w] for a, w in zip(texts["answer"], texts["wrong"])]
                   if len(texts.get("answer", ())) == len(texts.get("wrong", ())) == self._n_pairs else [])
        span_positions = ([str(v) for v in ds.coords["span_positions"].values]
                          if self._cells == "span" and "span_positions" in ds.coords else [])
        info = {
            "summary_meta": meta, "sites": self._sites, "cells": self._cells,
            "methods": list(self._views), "head_methods": self._head_views, "n_heads": self._n_heads,
            "head_spans": head_spans, "n_pairs": self._n_pairs, "n_cells": self._n_cells, "pair_names": pair_names,
            "tokens": clean, "corrupted": corrupted, "prompts": prompts, "answers": answers,
            "span_positions": span_positions, "vocab": list(self._vocab),
            "topk": [m for m, v in self._views.items() if "top_token_id" in v.data_vars],
            "head_topk": [m for m, v in self._views.items() if "head_top_token_id" in v.data_vars],
            "metric": str(ds.attrs.get("metric", "")), "direction": str(ds.attrs.get("direction", "")),
            "model": str(ds.attrs.get("model", "")), "all_in_state": bool(self._all_in_state),
        }
        return info, buf


__all__ = ["PatchMap", "HEAD_VIEW"]
