"""PopulationExplorer: a scatter of a population of trained models, linked to each model's attention maps.

Reads a Dataset that passes :func:`workbench.data.validate_population` (one entry per model along ``model``). Each
point is a model; the axes are any numeric variable on ``model`` (accuracies, hyperparameters) or a derived one,
``max_<split>_<score>`` = the largest head score of that type over every (layer, head) of the model, e.g.
``max_id_hierarchical`` (the predictor of OOD accuracy in Li et al., "Can Interpretation Predict Behavior on Unseen
Data?", arXiv 2507.06445). Points are coloured by any variable and filtered by hyperparameter values or by "has a
head of type T" (its max score >= ``threshold``; the paper's threshold is 0.8).

Clicking a point sets ``selected`` and shows that model's ``example_attention`` for the chosen example string beside
the scatter, drawn by the AttentionMap front end (same code, same get_head / get_tile messages), with the per-token
``example_depth`` (any ``example_*`` variable on (sample, query)) as strips and the model's ID head scores as badges.

Numbers travel as one float32 buffer (``_table``: variable x model); filtering runs in the browser and, identically,
in :meth:`PopulationExplorer.visible` so tests can compare the two.

Offline mode: when every model's map on every example string fits ``offline_budget`` bytes (default 8 MB), all of
them are in the synced state (``_maps``, one entry per ``"model/sample"``, in a message of its own), so a click on any
point of a saved or exported page draws that model's attention with no kernel. Otherwise a page without a kernel
says that the map needs one (``_offline``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_population
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget, offline_status
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, encode_float
from workbench.widgets.attention_map import MAX_LABEL_CHARS, HeadSource, badge_state

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: Hyperparameters the explorer offers as filters (when present as coords on ``model``).
HYPERPARAMETERS: tuple[str, ...] = ("n_layers", "n_heads", "weight_decay", "init_seed", "data_seed")
DEFAULT_X, DEFAULT_Y, DEFAULT_COLOR = "max_id_hierarchical", "ood_accuracy", "n_layers"


def _nanmax(a: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (a model without that score)
        return np.nanmax(a, axis=axis)


def population_table(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Every plottable per-model variable as ``{name: float array (model,)}``: numeric data variables and coords on
    ``("model",)``, plus ``max_<split>_<score>`` = max over (layer, head) of ``head_score``.

    >>> import numpy as np, xarray as xr
    >>> from workbench.data import HEAD_SCORE_TYPES
    >>> hs = np.zeros((2, 2, 1, 2, 4)); hs[1, 0, 0, 1, 3] = 0.9
    >>> ds = xr.Dataset({"id_accuracy": ("model", [1.0, 1.0]), "ood_accuracy": ("model", [0.1, 0.9]),
    ...                  "head_score": (("model", "split", "layer", "head", "score"), hs)},
    ...                 coords={"n_layers": ("model", [1, 1]), "n_heads": ("model", [2, 2]),
    ...                         "weight_decay": ("model", [0.0, 0.0]), "init_seed": ("model", [0, 1]),
    ...                         "data_seed": ("model", [0, 0]), "split": ["id", "ood"],
    ...                         "score": list(HEAD_SCORE_TYPES)})
    >>> population_table(ds)["max_id_hierarchical"].tolist()
    [0.0, 0.9]
    """
    ds = validate_population(ds)
    out: dict[str, np.ndarray] = {}
    for name, v in list(ds.data_vars.items()) + list(ds.coords.items()):
        if v.dims == ("model",) and v.dtype.kind in "iufb":
            out[str(name)] = np.asarray(v.values, np.float64)
    hs = ds["head_score"].transpose("model", "split", "layer", "head", "score")
    splits = [str(s) for s in (hs.coords["split"].values if "split" in hs.coords else range(hs.sizes["split"]))]
    scores = [str(s) for s in (hs.coords["score"].values if "score" in hs.coords else range(hs.sizes["score"]))]
    mx = _nanmax(np.asarray(hs.values, np.float64), axis=(2, 3))  # (model, split, score)
    for i, sp in enumerate(splits):
        for j, sc in enumerate(scores):
            out[f"max_{sp}_{sc}"] = mx[:, i, j]
    return out


def _top_heads(ds: xr.Dataset) -> list[str]:
    """Per model: its best ID head, e.g. "L1 H0 hierarchical 0.93" ("" when it has no scores)."""
    hs = ds["head_score"].transpose("model", "split", "layer", "head", "score")
    split = list(map(str, hs.coords["split"].values)).index("id") if "split" in hs.coords and "id" in hs.coords["split"] else 0
    names = [str(s) for s in (hs.coords["score"].values if "score" in hs.coords else range(hs.sizes["score"]))]
    vals = np.asarray(hs.values[:, split], np.float64)  # (model, layer, head, score)
    out = []
    for m in range(vals.shape[0]):
        v = np.where(np.isnan(vals[m]), -np.inf, vals[m])
        if not np.isfinite(v).any():
            out.append("")
            continue
        l, h, s = np.unravel_index(int(np.argmax(v)), v.shape)
        out.append(f"L{l} H{h} {names[s]} {vals[m, l, h, s]:.2f}")
    return out


class PopulationExplorer(anywidget.AnyWidget):
    """Scatter of a model population with hyperparameter filters, linked to each model's attention maps.

    ``PopulationExplorer(ds, x="max_id_hierarchical", y="ood_accuracy", color="n_layers", selected=-1,
    offline_budget=8_000_000)``; the
    synced traits ``x``, ``y``, ``color`` name variables from :attr:`variables`, ``selected`` is a model index
    (-1: none), ``filters`` maps a hyperparameter to its allowed values, ``has_head`` names a score type a model
    must have (max ID score >= ``threshold``), ``sample`` picks the example string of the linked map. When every
    model's map on every example fits ``offline_budget`` bytes (at most one message, 8 MiB), all of them are in the
    saved state and a saved or exported page opens any model's map without a kernel.

    >>> from workbench.widgets.population_explorer import PopulationExplorer
    >>> # w = PopulationExplorer(wb.load("data/dyck/population.nc")); w.selected = 3
    """

    _esm = _STATIC / "population_explorer.js"
    _css = _STATIC / "population_explorer.css"

    x = traitlets.Unicode(DEFAULT_X).tag(sync=True)
    y = traitlets.Unicode(DEFAULT_Y).tag(sync=True)
    color = traitlets.Unicode(DEFAULT_COLOR).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    has_head = traitlets.Unicode("").tag(sync=True)
    threshold = traitlets.Float(0.8).tag(sync=True)
    sample = traitlets.Int(0).tag(sync=True)
    variables = traitlets.List(traitlets.Unicode()).tag(sync=True)
    hyperparameters = traitlets.Dict().tag(sync=True)  # name -> sorted distinct values
    score_types = traitlets.List(traitlets.Unicode()).tag(sync=True)
    model_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    top_heads = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sample_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    _table = traitlets.Bytes(b"").tag(sync=True)
    _table_meta = traitlets.Dict().tag(sync=True)
    # the linked attention map (read by the AttentionMap front end through renamed traits)
    map_layer = traitlets.Int(0).tag(sync=True)
    map_head = traitlets.Int(0).tag(sync=True)
    map_layer_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    map_head_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    map_query_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    map_key_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    map_title = traitlets.Unicode("").tag(sync=True)
    map_message = traitlets.Unicode("").tag(sync=True)
    _map_thumbs = traitlets.Bytes(b"").tag(sync=True)
    _map_thumbs_meta = traitlets.Dict().tag(sync=True)
    _map_head = traitlets.Bytes(b"").tag(sync=True)
    _map_head_meta = traitlets.Dict().tag(sync=True)
    _map_annotations = traitlets.Bytes(b"").tag(sync=True)
    _map_annotations_meta = traitlets.Dict().tag(sync=True)
    _map_scores = traitlets.Bytes(b"").tag(sync=True)
    _map_scores_meta = traitlets.Dict().tag(sync=True)
    _map_key = traitlets.Unicode("").tag(sync=True)  # "model/sample" of the map_* traits ("" when none)
    _maps = traitlets.Dict().tag(sync=True)  # offline mode: "model/sample" -> that map's state, when all fit
    _offline = traitlets.Dict().tag(sync=True)

    def __init__(self, ds: Any, x: str = DEFAULT_X, y: str = DEFAULT_Y, color: str = DEFAULT_COLOR,
                 selected: int = -1, sample: int = 0, offline_budget: int = OFFLINE_BUDGET, **kwargs: Any) -> None:
        self._offline_budget = check_budget(offline_budget, limit=MAX_MESSAGE_BYTES)
        ds = validate_population(ds)
        self._ds = ds
        self._n = int(ds.sizes["model"])
        if self._n == 0:
            raise DataModelError("population has no models (dim 'model' is empty).")
        self._cols = population_table(ds)
        self._has_examples = "example_attention" in ds.data_vars
        if self._has_examples:
            if "example_token" not in ds.variables:
                raise DataModelError("population has 'example_attention' but no 'example_token' on (sample, query); "
                                     "the linked map needs the example's tokens.")
            if ds["example_token"].dims != ("sample", "query"):
                raise DataModelError(f"population['example_token'] must lie on ('sample', 'query'), "
                                     f"got {ds['example_token'].dims}.")
        names = list(self._cols)
        for arg, value in (("x", x), ("y", y), ("color", color)):
            if value not in self._cols and not (arg == "color" and value == ""):
                raise DataModelError(f"{arg}={value!r} is not a variable of this population; choose from {names}.")
        self._ready = False
        self._src = HeadSource(np.zeros((0, 0, 0, 0), np.float32), gen=0)
        super().__init__(**kwargs)
        with self.hold_sync():
            self.variables = names
            self.hyperparameters = {h: sorted({float(v) for v in np.asarray(ds.coords[h].values, np.float64)})
                                    for h in HYPERPARAMETERS if h in ds.coords}
            self.score_types = [str(s) for s in ds["head_score"].coords["score"].values] \
                if "score" in ds["head_score"].coords else []
            labels = ds.coords["model"].values if "model" in ds.coords else np.arange(self._n)
            self.model_labels = [str(v) for v in labels]
            self.top_heads = _top_heads(ds)
            self.title = str(ds.attrs.get("title", "") or ds.attrs.get("task", "") or "population")
            meta, buf = encode_float(np.stack([self._cols[n] for n in names]).astype(np.float32), "float32")
            self._table_meta, self._table = {**meta, "names": names}, buf
            if self._has_examples:
                toks = np.asarray(ds["example_token"].values, dtype=object)
                self.sample_labels = [" ".join(str(t) for t in row if str(t))[:200] for row in toks]
            self.x, self.y, self.color = x, y, color
            self.sample, self.selected = int(sample), int(selected)
            self._ready = True
            self._load_map()
        self._load_offline()
        self.on_msg(self._on_custom_msg)

    # ------------------------------------------------------------------------------------------------- state
    @traitlets.validate("x", "y", "color")
    def _check_var(self, proposal: dict[str, Any]) -> str:
        name, value = proposal["trait"].name, str(proposal["value"])
        cols = getattr(self, "_cols", None)
        if cols is not None and value not in cols and not (name == "color" and value == ""):
            raise traitlets.TraitError(f"{name}={value!r} is not a variable of this population; choose from {list(cols)}.")
        return value

    @traitlets.validate("selected")
    def _check_selected(self, proposal: dict[str, Any]) -> int:
        v = int(proposal["value"])
        if not -1 <= v < getattr(self, "_n", 1 << 30):
            raise traitlets.TraitError(f"selected={v} is out of range: the population has {self._n} models (-1 = none).")
        return v

    @traitlets.validate("sample")
    def _check_sample(self, proposal: dict[str, Any]) -> int:
        v = int(proposal["value"])
        n = int(self._ds.sizes.get("sample", 0)) if hasattr(self, "_ds") else 0
        if self._has_examples and not 0 <= v < n:
            raise traitlets.TraitError(f"sample={v} is out of range: the population has {n} example strings.")
        return v

    @traitlets.observe("selected", "sample")
    def _on_selection(self, change: dict[str, Any]) -> None:
        if getattr(self, "_ready", False) and change["old"] != change["new"]:
            self._load_map()

    def column(self, name: str) -> np.ndarray:
        """Values of one plottable variable over models (see :func:`population_table`)."""
        if name not in self._cols:
            raise DataModelError(f"{name!r} is not a variable of this population; choose from {list(self._cols)}.")
        return self._cols[name]

    def visible(self) -> np.ndarray:
        """Boolean mask over models after ``filters`` and ``has_head`` (what the scatter draws, where x and y are
        finite)."""
        keep = np.ones(self._n, bool)
        for h, allowed in (self.filters or {}).items():
            if h not in self._cols:
                continue
            if allowed is not None:
                keep &= np.isin(self._cols[h], np.asarray(list(allowed), np.float64))
        if self.has_head:
            col = f"max_id_{self.has_head}"
            if col in self._cols:
                with np.errstate(invalid="ignore"):
                    keep &= np.nan_to_num(self._cols[col], nan=-np.inf) >= self.threshold
        keep &= np.isfinite(self._cols[self.x]) & np.isfinite(self._cols[self.y])
        return keep

    # ------------------------------------------------------------------------------------------- linked map
    def map_state(self, m: int, s: int, gen: int = 0) -> tuple[HeadSource, dict[str, Any]]:
        """The linked map of model ``m`` on example ``s`` (payloads tagged ``gen``): its head source and its state
        under the AttentionMap view's trait names (``layer_labels``, ``query_tokens``, ``_thumbs``, ``_thumbs_meta``,
        ``_scores``, ...). Padding layers, heads and tokens are dropped. The selected map's state fills the ``map_*`` traits; in
        offline mode every map's state is an entry of ``_maps``.

        >>> src, st = PopulationExplorer(ds).map_state(0, 0)                                  # doctest: +SKIP
        >>> st["_thumbs_meta"]["shape"]                                                      # doctest: +SKIP
        [2, 4, 6, 6]
        """
        a = self._map_arrays()
        w = np.asarray(a["attention"][m, s], np.float32)
        real_l = np.flatnonzero(~np.all(np.isnan(w), axis=(1, 2, 3)))
        real_h = np.flatnonzero(~np.all(np.isnan(w), axis=(0, 2, 3)))
        toks = a["tokens"][s]
        w = w[real_l][:, real_h]
        q_keep = np.flatnonzero(~(np.all(np.isnan(w), axis=(0, 1, 3)) & (toks == "")))
        k_keep = np.flatnonzero(~(np.all(np.isnan(w), axis=(0, 1, 2)) & (toks[: w.shape[3]] == "")))
        w = w[:, :, q_keep][:, :, :, k_keep]
        src = HeadSource(w, prompt=s, gen=gen)
        sc = a["scores"][m][real_l][:, real_h]
        names, ann = a["score_names"], a["annotations"]
        state: dict[str, Any] = {
            "layer_labels": [str(int(v)) for v in real_l],
            "head_labels": [str(int(v)) for v in real_h],
            "query_tokens": [str(t)[:MAX_LABEL_CHARS] for t in toks[q_keep]],
            "key_tokens": [str(t)[:MAX_LABEL_CHARS] for t in toks[k_keep]],
            "title": f"model {self.model_labels[m]} · example {s}",
        }
        state["_scores_meta"], state["_scores"] = badge_state((sc, names))
        if ann:
            meta, buf = encode_float(np.stack([v[s][q_keep] for v in ann.values()]), "float32")
            state["_annotations_meta"] = {**meta, "names": [n.removeprefix("example_") for n in ann]}
            state["_annotations"] = buf
        else:
            state["_annotations_meta"], state["_annotations"] = {}, b""
        meta, buf = src.thumbnails()
        state["_thumbs_meta"], state["_thumbs"] = dict(meta), buf
        return src, state

    def _map_arrays(self) -> dict[str, Any]:
        """The example attention, tokens, ID head scores and per-token annotations as numpy arrays, read from the
        Dataset once (every map of the offline mode slices them)."""
        if getattr(self, "_arrays", None) is None:
            ds = self._ds
            hs = ds["head_score"].transpose("model", "split", "layer", "head", "score")
            split = list(map(str, hs.coords["split"].values)).index("id") if "split" in hs.coords else 0
            ann = [str(n) for n, v in ds.data_vars.items()
                   if n not in ("example_token",) and v.dims == ("sample", "query") and v.dtype.kind in "iufb"]
            ann += [str(n) for n, v in ds.coords.items()
                    if v.dims == ("sample", "query") and v.dtype.kind in "iufb" and n not in ann]
            self._arrays = {
                "attention": ds["example_attention"].transpose("model", "sample", "layer", "head", "query", "key").values,
                "tokens": np.asarray(ds["example_token"].values, dtype=object),
                "scores": np.asarray(hs.values[:, split], np.float32),
                "score_names": [str(v) for v in (hs.coords["score"].values if "score" in hs.coords
                                                 else range(hs.sizes["score"]))],
                "annotations": {n: np.asarray(ds[n].transpose("sample", "query").values, np.float32) for n in ann},
            }
        return self._arrays

    def _load_map(self) -> None:
        """Payloads of the selected model's example attention (padding layers/heads/tokens dropped)."""
        gen = self._src.gen + 1
        if self.selected < 0 or not self._has_examples:
            with self.hold_sync():
                self.map_message = ("click a model to see its attention" if self._has_examples
                                    else "this population has no example_attention")
                self._src = HeadSource(np.zeros((0, 0, 0, 0), np.float32), gen=gen)
                self._map_thumbs_meta, self._map_thumbs = {}, b""
                self._map_key = ""
            return
        self._src, st = self.map_state(self.selected, self.sample, gen)
        n_l, n_h = self._src.shape[:2]
        with self.hold_sync():
            self.map_layer = min(self.map_layer, n_l - 1) if n_l else 0
            self.map_head = min(self.map_head, n_h - 1) if n_h else 0
            self.map_layer_labels, self.map_head_labels = st["layer_labels"], st["head_labels"]
            self.map_query_tokens, self.map_key_tokens = st["query_tokens"], st["key_tokens"]
            self.map_title = st["title"]
            self.map_message = ""
            self._map_scores_meta, self._map_scores = st["_scores_meta"], st["_scores"]
            self._map_annotations_meta, self._map_annotations = st["_annotations_meta"], st["_annotations"]
            meta, buf = self._src.head_payload(self.map_layer, self.map_head)
            self._map_head_meta, self._map_head = meta, buf
            self._map_thumbs_meta, self._map_thumbs = st["_thumbs_meta"], st["_thumbs"]
            self._map_key = f"{self.selected}/{self.sample}"

    def offline_maps(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every model's map on every example (``{"model/sample": state}``) when they fit the offline budget, with
        the ``_offline`` status; ``({}, status)`` when they do not (or the population has no examples).

        A map whose thumbnails are pooled also carries every head at full resolution (``_heads``), as AttentionMap's
        offline mode does; the bytes counted are every buffer plus the JSON of the labels."""
        what = "every model's attention on every example string"
        if not self._has_examples:
            return {}, {**offline_status(0, self._offline_budget, ""), "maps": "none"}
        maps: dict[str, Any] = {}
        total = 0
        for m in range(self._n):
            for s in range(int(self._ds.sizes["sample"])):
                src, st = self.map_state(m, s)
                if not src.full_thumbnails and src.shape[0] * src.shape[1]:
                    st["_heads_meta"], st["_heads"] = src.all_heads()
                total += sum(len(v) for v in st.values() if isinstance(v, bytes))
                total += len(json.dumps({k: v for k, v in st.items() if not isinstance(v, bytes)}))
                if total > self._offline_budget:
                    return {}, {**offline_status(total, self._offline_budget, what, at_least=True), "maps": "kernel"}
                maps[f"{m}/{s}"] = st
        return maps, {**offline_status(total, self._offline_budget, what), "maps": "state"}

    def _load_offline(self) -> None:
        """Every map into the state when they fit the budget, in a message of its own."""
        maps, status = self.offline_maps()
        with self.hold_sync():
            self._maps, self._offline = maps, status

    @property
    def map_weights(self) -> np.ndarray:
        """The attention shown in the linked map (layer, head, query, key), padding dropped."""
        return self._src.weights

    def _on_custom_msg(self, _widget: Any, content: dict[str, Any], _buffers: list[bytes]) -> None:
        reply, buffers = self.reply_to(content)
        self.send(reply, buffers=buffers)

    def reply_to(self, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        """Reply to the linked map's get_head / get_tile messages (``prompt`` = the example index)."""
        if self.selected < 0:
            return {"type": "error", "message": "no model selected."}, []
        return self._src.reply_to(content)


__all__ = ["PopulationExplorer", "population_table", "HYPERPARAMETERS"]
