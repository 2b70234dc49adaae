"""GraphReorganization: watch a model's word representations reorganise into the shape of the graph it reads.

The view of :func:`workbench.analyses.incontext.study` (Park et al. 2025, "ICLR: In-Context Learning of
Representations", arXiv 2501.00070):

* **scatter**: the node means at context length T in two chosen principal components, each labelled with its word,
  the graph's edges drawn as lines (so a grid reads as a grid), colour by a node group (grid row or column, ring
  position), and the Procrustes-fitted Laplacian layout as ghost rings;
* **controls**: a context-length slider with play/pause (keyboard: arrows step, space plays), a layer picker and
  component pickers;
* **curves** against T on a log axis: accuracy, the energy ratio with its permutation-null band, and Procrustes R^2,
  each with the controls (mixing toy, random weights) as grey lines and a cursor at T. A click on a curve moves T.

Transport (``_serialize``): numbers travel as binary buffers. ``_static`` holds what every layer shares (graph,
context lengths, accuracy curves); ``_sweep`` holds one layer's whole sweep over T (a few tens of kB). When every
layer's sweep fits ``offline_budget`` bytes they all travel in ``_bundle`` and picking a layer needs no kernel (a saved
or exported page stays fully explorable); otherwise picking a layer sets ``layer`` and the kernel answers with that
layer's ``_sweep``, and a page without a kernel says which layers it lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, trailing_mean, validate_incontext
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, check_size, pack
from workbench.widgets._traits import as_trait_error

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: Groups the scatter can colour nodes by, in order of preference when ``color_by`` is not given.
COLOR_GROUPS: tuple[str, ...] = ("row", "col", "ring", "week")


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def default_layer(ds: xr.Dataset) -> int:
    """The layer the widget opens on: the Dataset's ``picked_layer`` attr, else the layer whose Procrustes R^2,
    averaged over context lengths, is highest (ties: the earlier layer).

    >>> ds = xr.Dataset({"procrustes_r2": (("layer", "context"), [[0.1, 0.2], [0.8, 0.9]])}, coords={"layer": [3, 7]})
    >>> default_layer(ds)
    7
    """
    if "picked_layer" in ds.attrs:
        return int(ds.attrs["picked_layer"])
    mean = np.nan_to_num(np.nanmean(np.asarray(ds["procrustes_r2"].transpose("layer", "context").values,
                                               dtype=np.float64), axis=1), nan=-1.0)
    return int(ds.layer.values[int(np.argmax(mean))])


class GraphReorganization(anywidget.AnyWidget):
    """The in-context graph-tracing widget.

    ``GraphReorganization(ds, layer=None, context=None, components=(0, 1), color_by=None,
    offline_budget=OFFLINE_BUDGET)``: ``ds`` passes :func:`workbench.data.validate_incontext` (the output of
    :func:`workbench.analyses.incontext.study`, optionally with :func:`~workbench.analyses.incontext.with_controls`).
    ``layer``, ``context`` (a context length T: any T is moved to the Dataset's nearest one, on a log scale),
    ``components`` and ``color_by`` are synced both ways.

    >>> import workbench as wb                                                               # doctest: +SKIP
    >>> wb.GraphReorganization(wb.load("data/incontext/gemma3_grid.nc"))                     # doctest: +SKIP
    """

    _esm = _STATIC / "graph_reorganization.js"
    _css = _STATIC / "graph_reorganization.css"

    layer = traitlets.Int(0).tag(sync=True)
    context = traitlets.Int(0).tag(sync=True)
    components = traitlets.List(traitlets.Int(), default_value=[0, 1], minlen=2, maxlen=2).tag(sync=True)
    color_by = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    _static_meta = traitlets.Dict().tag(sync=True)
    _static = traitlets.Bytes(b"").tag(sync=True)
    _sweep_meta = traitlets.Dict().tag(sync=True)
    _sweep = traitlets.Bytes(b"").tag(sync=True)
    _bundle_meta = traitlets.Dict().tag(sync=True)  # {layer: meta} of every layer's sweep, when under the budget
    _bundle = traitlets.Bytes(b"").tag(sync=True)

    def __init__(self, ds: Any, layer: int | None = None, context: int | None = None,
                 components: tuple[int, int] | list[int] = (0, 1), color_by: str | None = None,
                 offline_budget: int = OFFLINE_BUDGET, **kwargs: Any) -> None:
        validate_incontext(ds)
        self._ready = False
        self._ds = ds
        self._layers = [int(v) for v in ds.layer.values]
        self._contexts = [int(v) for v in ds.context.values]
        self._k = int(ds.sizes["component"])
        groups = [g for g in COLOR_GROUPS if g in ds.coords and ds.coords[g].dims == ("node",)]
        self._groups = groups + [str(c) for c in ds.coords if ds.coords[c].dims == ("node",)
                                 and c not in groups and c not in ("word", "node") and ds.coords[c].dtype.kind in "iu"]
        offline_budget = check_budget(offline_budget)
        layer = default_layer(ds) if layer is None else layer
        self._check_layer(layer)
        context = self._contexts[-1] if context is None else self._check_context(context)
        self._check_components(list(components))
        color_by = color_by if color_by is not None else (self._groups[0] if self._groups else "")
        self._check_color(color_by)
        super().__init__(**kwargs)
        static_meta, static = self.static_payload()
        sweeps = {lay: self.sweep_payload(lay) for lay in self._layers}
        total = sum(len(b) for _, b in sweeps.values())
        with self.hold_sync():
            self.title = f"{ds.attrs.get('model', '')} · {ds.attrs.get('graph', '')}".strip(" ·")
            self._static_meta, self._static = static_meta, static
            if total <= offline_budget:
                offset, meta = 0, {}
                for lay, (m, b) in sweeps.items():
                    meta[str(lay)] = {"offset": offset, "meta": m}
                    offset += len(b)
                self._bundle_meta, self._bundle = meta, b"".join(b for _, b in sweeps.values())
            self.layer, self.context = int(layer), int(context)
            self.components, self.color_by = [int(c) for c in components], color_by
            self._sweep_meta, self._sweep = sweeps[int(layer)]
        self._ready = True

    # ------------------------------------------------------------------------------------------------- checks
    def _check_layer(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) not in self._layers:
            raise DataModelError(f"layer must be one of the Dataset's layers {self._layers}, got {value!r}.")
        return int(value)

    def _check_context(self, value: Any) -> int:
        """The Dataset's context length nearest ``value`` on a log scale (the slider's own spacing)."""
        top = self._contexts[-1]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= top:
            raise DataModelError(f"context must be a context length in 1..{top} (the Dataset has "
                                 f"{self._contexts[0]}..{top}), got {value!r}.")
        logs = np.log(np.asarray(self._contexts, dtype=np.float64))
        return self._contexts[int(np.argmin(np.abs(logs - np.log(int(value)))))]

    def _check_components(self, value: list[Any]) -> list[int]:
        ok = (len(value) == 2 and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
                                      and 0 <= int(c) < self._k for c in value) and value[0] != value[1])
        if not ok:
            raise DataModelError(f"components must be two different component indices in 0..{self._k - 1}, "
                                 f"got {value!r}.")
        return [int(c) for c in value]

    def _check_color(self, value: Any) -> str:
        if value != "" and value not in self._groups:
            raise DataModelError(f"color_by must be one of the Dataset's node groups {self._groups} (or ''), got {value!r}.")
        return str(value)

    @traitlets.validate("layer")
    def _v_layer(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_layer, proposal["value"])

    @traitlets.validate("context")
    def _v_context(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_context, proposal["value"])

    @traitlets.validate("components")
    def _v_components(self, proposal: dict[str, Any]) -> list[int]:
        return as_trait_error(self._check_components, list(proposal["value"]))

    @traitlets.validate("color_by")
    def _v_color(self, proposal: dict[str, Any]) -> str:
        return as_trait_error(self._check_color, proposal["value"])


    @traitlets.observe("layer")
    def _on_layer(self, change: dict[str, Any]) -> None:
        if getattr(self, "_ready", False) and change["old"] != change["new"]:
            self._sweep_meta, self._sweep = self.sweep_payload(int(change["new"]))

    # ------------------------------------------------------------------------------------------------ payloads
    def _var(self, name: str, *dims: str) -> np.ndarray | None:
        if name not in self._ds.data_vars:
            return None
        return _f32(self._ds[name].transpose(*dims).values)

    def static_payload(self) -> tuple[dict[str, Any], bytes]:
        """What every layer shares: graph, context lengths, node groups, occurrences, accuracy curves."""
        ds = self._ds
        arrays: dict[str, np.ndarray] = {
            "adjacency": _f32(ds["adjacency"].values),
            "contexts": _f32(self._contexts),
            "layers": _f32(self._layers),
        }
        acc = ds["accuracy"]
        if "accuracy_smooth" in ds.data_vars:
            arrays["accuracy"] = self._var("accuracy_smooth", "position")
        else:
            mean = acc.mean("walk").values if "walk" in acc.dims else acc.values
            arrays["accuracy"] = _f32(trailing_mean(mean))
        if "walk" in acc.dims and acc.sizes["walk"] > 1:
            arrays["accuracy_sd"] = _f32(trailing_mean(acc.std("walk", ddof=1).values))
        controls: list[str] = []
        if "control" in ds.dims:
            controls = [str(c) for c in ds.control.values]
            if "control_accuracy_smooth" in ds.data_vars:
                arrays["control_accuracy"] = self._var("control_accuracy_smooth", "control", "position")
        for g in self._groups:
            arrays[f"group:{g}"] = _f32(ds.coords[g].values)
        if "occurrences" in ds.data_vars:
            occ = ds["occurrences"]
            arrays["occurrences"] = _f32(occ.mean("walk").transpose("context", "node").values if "walk" in occ.dims
                                         else occ.transpose("context", "node").values)
        if "window_start" in ds.coords:
            arrays["window_start"] = _f32(ds.coords["window_start"].values)
        meta, buf = pack(arrays)
        meta["words"] = [str(w) for w in ds.coords["word"].values]
        meta["groups"] = self._groups
        meta["controls"] = controls
        meta["control_models"] = ([str(v) for v in ds.coords["control_model"].values]
                                  if "control_model" in ds.coords else controls)
        meta["n_components"] = self._k
        meta["pairs"] = [str(p) for p in ds.pair.values] if "pair" in ds.coords else []
        meta["window"] = int(ds.attrs.get("window", 0) or 0)
        meta["n_walks"] = int(ds.sizes.get("walk", 1))
        meta["graph"] = str(ds.attrs.get("graph", ""))
        check_size(len(buf) + len(str(meta)), MAX_MESSAGE_BYTES)
        return meta, buf

    def sweep_payload(self, layer: int) -> tuple[dict[str, Any], bytes]:
        """One layer's whole sweep over context lengths: PCA coordinates, fitted Laplacian layouts, the energy
        ratio and its null band, Procrustes R^2 and the controls' curves at that layer."""
        layer = self._check_layer(layer)
        ds = self._ds.sel(layer=layer)
        arrays: dict[str, np.ndarray | None] = {
            "pca": _f32(ds["pca"].transpose("context", "node", "component").values),
            "energy_ratio": _f32(ds["energy_ratio"].values),
            "procrustes_r2": _f32(ds["procrustes_r2"].values),
        }
        if "laplacian_fit" in ds.data_vars:
            arrays["fit"] = _f32(ds["laplacian_fit"].transpose("pair", "context", "node", "axis").values)
        if "explained_variance" in ds.data_vars:
            arrays["explained"] = _f32(ds["explained_variance"].transpose("context", "component").values)
        if "energy_null" in ds.data_vars:
            arrays["null"] = _f32(ds["energy_null"].transpose("quantile", "context").values)
        if "energy_percentile" in ds.data_vars:
            arrays["percentile"] = _f32(ds["energy_percentile"].values)
        for var in ("control_energy_ratio", "control_procrustes_r2"):
            if var in ds.data_vars:
                arrays[var] = _f32(ds[var].transpose("control", "context").values)
        meta, buf = pack({k: v for k, v in arrays.items() if v is not None})
        meta["layer"] = layer
        meta["quantiles"] = [float(q) for q in ds.coords["quantile"].values] if "quantile" in ds.coords else []
        check_size(len(buf), MAX_MESSAGE_BYTES)
        return meta, buf


__all__ = ["GraphReorganization", "OFFLINE_BUDGET", "default_layer"]
