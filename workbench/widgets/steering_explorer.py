"""SteeringExplorer: what adding a steering vector at a coefficient does to a model's generations and to a likelihood
evaluation of the behaviour.

The view of a steering Dataset (:func:`workbench.data.validate_steering`):

* a **coefficient slider** (a range input: the arrow keys step through the Dataset's coefficients), a **layer picker**
  when the Dataset has a ``layer`` dim (one vector per layer) and a **prompt picker**;
* the **unsteered** (coef 0) and **steered** (the selected coef) generations side by side: the prompt's tokens, then
  the generated ones, shaded by their log-probability when ``logprob`` is given; the positions the vector was added
  at (``prompt_touched``, ``touched``) are underlined;
* the **evaluation curve** on canvas: ``score`` against coef for "steer", the random-vector band (``random_low`` ..
  ``random_high``, else the "random" line), the prompt baseline as a horizontal line, and the **fluency guard**
  (``fluency``) in a small panel under it on the same coef axis; a cursor marks the selected coef;
* the **layer sweep** (``layer_effect``), the **frozen-attention** curve (``frozen_effect`` with ``frozen_share``),
  the **sparsity** curves (``sparsity_effect``, both rankings) and the **OV tokens** table, each only when present.

Transport (``_serialize.pack``): numbers travel as packed float32 buffers, never JSON lists. ``_summary`` holds the
curves; ``_texts`` holds, per (layer, prompt), the texts and tokens of every coefficient (JSON strings) with their
log-probabilities and touched flags (packed float32). When every (layer, prompt) fits ``offline_budget`` (default
8 MB) all of them are in the state, so a saved notebook or an exported page moves the slider, the layer and the
prompt with no kernel; otherwise the kernel sends the picked one, and a page without one says what it lacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import STEERING_BASELINES, DataModelError, validate_steering
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget, offline_status
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, MessageTooLarge, pack
from workbench.widgets._traits import as_trait_error

_STATIC = Path(__file__).resolve().parent.parent / "static"
#: What a page without a kernel lacks when the generations are not all saved.
_WHAT = "every layer's and prompt's generations"


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def by_layer(da: xr.DataArray, dims: tuple[str, ...], n_layers: int) -> np.ndarray:
    """``da``'s values as ``(layer, *dims)``, a DataArray without ``layer`` repeated over the ``n_layers`` layers.

    >>> by_layer(xr.DataArray(np.arange(3.0), dims=("coef",)), ("coef",), 2).tolist()
    [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    """
    if "layer" not in da.dims:
        da = da.expand_dims(layer=n_layers)
    return np.asarray(da.transpose("layer", *dims).values)


def _strings(a: np.ndarray) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in np.asarray(a).reshape(-1)]


def _trim(tokens: list[str]) -> list[str]:
    """Tokens up to the last non-empty one (``""`` marks the positions past a generation's or prompt's end)."""
    n = len(tokens)
    while n and tokens[n - 1] == "":
        n -= 1
    return tokens[:n]


class SteeringExplorer(anywidget.AnyWidget):
    """The steering-vector widget.

    ``SteeringExplorer(ds, coef=None, layer=None, prompt=0, offline_budget=8_000_000)``: ``ds`` passes
    :func:`workbench.data.validate_steering`. ``coef`` (one of the Dataset's coefficients; default the largest),
    ``layer`` (a layer of the ``layer`` dim; without one, attr ``layer`` or -1) and ``prompt`` (an index) are synced
    both ways.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"text": (("coef", "prompt"), [[" a"], [" b"]]),
    ...                  "touched": (("coef", "prompt", "step"), np.ones((2, 1, 3), bool)),
    ...                  "score": (("baseline", "coef"), np.zeros((3, 2)))},
    ...                 coords={"coef": [0.0, 4.0], "baseline": ["steer", "random", "prompt"]})
    >>> w = SteeringExplorer(ds)
    >>> w.coef, w.prompt, w._offline["texts"]
    (4.0, 0, 'state')
    """

    _esm = _STATIC / "steering_explorer.js"
    _css = _STATIC / "steering_explorer.css"

    coef = traitlets.Float(0.0).tag(sync=True)
    layer = traitlets.Int(-1).tag(sync=True)
    prompt = traitlets.Int(0).tag(sync=True)
    _info = traitlets.Dict().tag(sync=True)  # names, prompt tokens, OV tokens, flags, the meta of _summary
    _summary = traitlets.Bytes(b"").tag(sync=True)  # packed float32: coefs, curves, sweeps, prompt_touched
    _texts = traitlets.Dict().tag(sync=True)  # "layer_index:prompt" -> {"text", "tokens", "meta", "data"}
    _offline = traitlets.Dict().tag(sync=True)

    def __init__(self, ds: Any, coef: float | None = None, layer: int | None = None, prompt: int = 0,
                 offline_budget: int = OFFLINE_BUDGET, **kwargs: Any) -> None:
        budget = check_budget(offline_budget, limit=MAX_MESSAGE_BYTES)
        ds = validate_steering(ds)
        self._ds = ds
        self._coefs = [float(c) for c in ds["coef"].values]
        self._has_layer_dim = "layer" in ds["text"].dims
        if self._has_layer_dim:
            self._layers = ([int(v) for v in ds["layer"].values] if "layer" in ds.coords
                            else list(range(ds.sizes["layer"])))
        else:
            at = ds.attrs.get("layer", -1)
            self._layers = [int(at) if isinstance(at, (int, np.integer)) and not isinstance(at, bool) else -1]
        self._n_prompts = int(ds.sizes["prompt"])
        if 0 in (len(self._coefs), self._n_prompts, len(self._layers)):
            raise DataModelError(f"SteeringExplorer needs at least one coef, prompt and layer; got sizes "
                                 f"{dict(ds['text'].sizes)}.")
        if len(set(self._coefs)) != len(self._coefs):
            raise DataModelError(f"steering Dataset's coord 'coef' must not repeat a value, got {self._coefs}.")
        self._ready = False
        coef = max(self._coefs) if coef is None else coef
        coef = self._check_coef(coef)
        layer = self._layers[0] if layer is None else layer
        layer = self._check_layer(layer)
        prompt = self._check_prompt(prompt)
        super().__init__(**kwargs)
        payloads = {(li, p): self.text_payload(li, p) for li in range(len(self._layers))
                    for p in range(self._n_prompts)}
        need = sum(self._size(v) for v in payloads.values())
        self._all_in_state = need <= budget
        info, summary = self.summary()
        with self.hold_sync():
            self._info, self._summary = info, summary
            self._offline = {**offline_status(need, budget, _WHAT),
                             "texts": "state" if self._all_in_state else "kernel"}
            self.coef, self.layer, self.prompt = coef, layer, prompt
        li = self._layers.index(layer)
        self._texts = ({f"{k[0]}:{k[1]}": v for k, v in payloads.items()} if self._all_in_state
                       else {f"{li}:{prompt}": payloads[(li, prompt)]})
        self._ready = True

    @staticmethod
    def _size(payload: dict[str, Any]) -> int:
        return len(payload["data"]) + len(json.dumps([payload["text"], payload["tokens"]]).encode())

    # ------------------------------------------------------------------------------------------------- checks
    def _check_coef(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise DataModelError(f"coef must be a number, one of the Dataset's coefficients {self._coefs}, "
                                 f"got {value!r}.")
        for c in self._coefs:
            if abs(float(value) - c) <= 1e-9 * max(1.0, abs(c)):
                return c
        raise DataModelError(f"coef={value!r} is not one of the Dataset's coefficients {self._coefs}.")

    def _check_layer(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) not in self._layers:
            raise DataModelError(f"layer must be one of the Dataset's layers {self._layers}, got {value!r}.")
        return int(value)

    def _check_prompt(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < self._n_prompts:
            raise DataModelError(f"prompt must be an index in 0..{self._n_prompts - 1}, got {value!r}.")
        return int(value)


    @traitlets.validate("coef")
    def _v_coef(self, proposal: dict[str, Any]) -> float:
        return as_trait_error(self._check_coef, proposal["value"])

    @traitlets.validate("layer")
    def _v_layer(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_layer, proposal["value"])

    @traitlets.validate("prompt")
    def _v_prompt(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_prompt, proposal["value"])

    @traitlets.observe("layer", "prompt")
    def _on_pick(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_ready", False) or self._all_in_state:
            return
        li, p = self._layers.index(self.layer), self.prompt
        if f"{li}:{p}" not in self._texts:
            self._texts = {f"{li}:{p}": self.text_payload(li, p)}  # the kernel sends the picked generations

    # ------------------------------------------------------------------------------------------------ payloads
    def _gen(self, var: str, li: int, p: int) -> np.ndarray:
        """``var`` at layer index ``li`` and prompt ``p`` as (coef, step)."""
        da = self._ds[var]
        if "layer" in da.dims:
            da = da.isel(layer=li)
        return np.asarray(da.isel(prompt=p).transpose("coef", "step").values)

    def text_payload(self, li: int, p: int) -> dict[str, Any]:
        """The generations of prompt ``p`` at layer index ``li`` for every coefficient: ``text`` (coef),
        ``tokens`` (coef, its own length), and packed float32 ``logprob`` / ``touched`` on (coef, step) cut to the
        longest generation.

        >>> import numpy as np, xarray as xr
        >>> ds = xr.Dataset({"text": (("coef", "prompt"), [[" a"], [" b c"]]),
        ...                  "token": (("coef", "prompt", "step"), [[[" a", ""]], [[" b", " c"]]]),
        ...                  "touched": (("coef", "prompt", "step"), np.ones((2, 1, 2), bool)),
        ...                  "score": (("baseline", "coef"), np.zeros((3, 2)))},
        ...                 coords={"coef": [0.0, 4.0], "baseline": ["steer", "random", "prompt"]})
        >>> SteeringExplorer(ds).text_payload(0, 0)["tokens"]
        [[' a'], [' b', ' c']]
        """
        ds = self._ds
        text = [str(t) for t in self._gen_text(li, p)]
        if "token" in ds.data_vars:
            rows = self._gen("token", li, p)
            tokens = [_trim(_strings(r)) for r in rows]
        else:
            tokens = [[] for _ in self._coefs]
        touched = self._gen("touched", li, p).astype(np.float32)
        n = max([len(t) for t in tokens] + [0]) if "token" in ds.data_vars else touched.shape[1]
        arrays = {"touched": touched[:, :n]}
        if "logprob" in ds.data_vars:
            arrays["logprob"] = _f32(self._gen("logprob", li, p))[:, :n]
        size = sum(4 * a.size for a in arrays.values())
        if size > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(f"prompt {p}'s generations are {size:,} bytes, over the {MAX_MESSAGE_BYTES:,}-byte "
                                  f"cap of one kernel message; keep fewer steps or coefficients.")
        meta, data = pack(arrays)
        return {"text": text, "tokens": tokens, "meta": {**meta, "layer": li, "prompt": p}, "data": data}

    def _gen_text(self, li: int, p: int) -> list[str]:
        da = self._ds["text"]
        if "layer" in da.dims:
            da = da.isel(layer=li)
        return _strings(da.isel(prompt=p).transpose("coef").values)

    def summary(self) -> tuple[dict[str, Any], bytes]:
        """The curves every view shares (packed float32) and the names and strings (JSON)."""
        ds, L, C = self._ds, len(self._layers), len(self._coefs)
        arrays: dict[str, np.ndarray] = {"coefs": _f32(self._coefs), "layers": _f32(self._layers)}
        have = [str(b) for b in ds["baseline"].values]
        for var in ("score", "effect"):
            if var not in ds.data_vars:
                continue
            full = _f32(by_layer(ds[var], ("baseline", "coef"), L))
            out = np.full((L, len(STEERING_BASELINES), C), np.nan, np.float32)
            for j, b in enumerate(STEERING_BASELINES):
                if b in have:
                    out[:, j] = full[:, have.index(b)]
            arrays[var] = out
        for var in ("random_low", "random_high", "fluency", "sentiment", "frozen_effect"):
            if var in ds.data_vars:
                arrays[var] = _f32(by_layer(ds[var], ("coef",), L))
        if "layer_effect" in ds.data_vars:
            da = ds["layer_effect"]
            arrays["layer_effect"] = _f32(da.values).reshape(-1)
            arrays["sweep_layers"] = _f32(da["layer"].values if "layer" in da.coords else np.arange(da.size))
        if "sparsity_effect" in ds.data_vars:
            da = ds["sparsity_effect"].transpose("ranking", "sparsity")
            arrays["sparsity_effect"] = _f32(da.values)
            arrays["sparsity"] = _f32(da["sparsity"].values if "sparsity" in da.coords
                                      else np.arange(da.sizes["sparsity"]))
        if "ov_weight" in ds.data_vars:
            arrays["ov_weight"] = _f32(ds["ov_weight"].transpose("ov", "rank").values)
        prompt_tokens: list[list[str]] = []
        if "prompt_token" in ds.data_vars:
            rows = np.asarray(ds["prompt_token"].transpose("prompt", "position").values)
            prompt_tokens = [_trim(_strings(r)) for r in rows]
            if "prompt_touched" in ds.data_vars:
                arrays["prompt_touched"] = _f32(ds["prompt_touched"].transpose("prompt", "position").values)
        meta, buf = pack(arrays)
        prompts = (_strings(ds["prompt_text"].values) if "prompt_text" in ds.coords
                   else ["".join(t) for t in prompt_tokens] if prompt_tokens else [f"prompt {p}" for p in
                                                                                    range(self._n_prompts)])
        ov: dict[str, Any] = {}
        if "ov_token" in ds.data_vars:
            ov["tokens"] = [_strings(r) for r in np.asarray(ds["ov_token"].transpose("ov", "rank").values)]
            ov["layer"] = [int(v) for v in ds["ov_layer"].values] if "ov_layer" in ds.coords else []
            ov["head"] = [int(v) for v in ds["ov_head"].values] if "ov_head" in ds.coords else []
        rankings = ([str(r) for r in ds["ranking"].values] if "sparsity_effect" in ds.data_vars and
                    "ranking" in ds.coords else [])
        frozen = ds.attrs.get("frozen_share", ds["frozen_effect"].attrs.get("frozen_share")
                              if "frozen_effect" in ds.data_vars else None)
        info = {
            "summary_meta": meta, "coefs": self._coefs, "layers": self._layers, "layer_dim": self._has_layer_dim,
            "n_prompts": self._n_prompts, "prompts": prompts, "prompt_tokens": prompt_tokens,
            "baselines": list(STEERING_BASELINES), "rankings": rankings, "ov": ov,
            "frozen_share": None if frozen is None else float(frozen),
            "model": str(ds.attrs.get("model", "")), "behaviour": str(ds.attrs.get("behaviour", "")),
            "where": str(ds.attrs.get("where", "")),
            "vector_norm": float(ds.attrs["vector_norm"]) if "vector_norm" in ds.attrs else None,
            "has_tokens": "token" in ds.data_vars, "has_logprob": "logprob" in ds.data_vars,
            "all_in_state": bool(self._all_in_state),
        }
        return info, buf


__all__ = ["SteeringExplorer", "by_layer"]
