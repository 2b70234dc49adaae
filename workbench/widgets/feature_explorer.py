"""FeatureExplorer: the latents of a grid of sparse autoencoders (SAEs), each with its correlational and causal
scores, its seed stability and its top-activating contexts.

The view of an SAE evaluation Dataset (:func:`workbench.data.validate_sae`; dims ``sae``, ``sample``, ``latent``,
``label``):

* an **SAE picker** over the ``sae`` dim (architecture · sparsity · seed) and the picked SAE's scalars (``fvu``,
  ``l0``, dead and dense shares, spliced metrics, whichever the Dataset has);
* a **scatter** of correlational (best label score: the largest ``detection`` over labels) against causal score
  (``causal_effect``) over the picked SAE's latents, with the model's own neurons and residual dimensions
  (``unit_detection``, ``unit_causal_effect``) as grey rings; a click selects the nearest latent (``latent``
  trait, synced both ways);
* a **latent list** sortable by frequency, best label score, causal effect and cross-seed match (``sort`` trait);
* for the selected latent: its **label score bars**, its **causal effect beside its correlational score** (with
  their ranks and the best neuron's), its **activation histogram** (the active samples' values, binned in the
  browser), its **top-activating contexts** with each token's cell shaded by its activation (canvas), its
  **decoder top tokens** (``decoder_top_tokens``, ``decoder_top_logits``) and its **best match under another seed**
  (``match_sae``, ``match_latent``, ``match_cosine``), one click away.

Transport (``_serialize.pack``): numbers travel as packed float32 buffers, never JSON lists. ``_summary`` holds the
per-SAE scalars and the neuron baseline; ``_saes`` holds, per SAE, every latent's scores (and the decoder tokens as
JSON strings); ``_latents`` holds, per (SAE, latent), the active samples' activations and the top contexts (which
samples, and their activations; the tokens themselves travel once, in ``_info``). When all of them fit
``offline_budget`` (default 8 MB) they are all in the state, so a saved notebook or an exported page picks any SAE
and latent with no kernel; otherwise the SAEs' scores come first (when they fit) and the kernel sends the picked
latent's histogram and contexts, and a page without a kernel says what it lacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_sae
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget, offline_status
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, check_size, pack
from workbench.widgets._traits import as_trait_error

_STATIC = Path(__file__).resolve().parent.parent / "static"
#: What a page without a kernel lacks when not everything is saved.
_WHAT = "every SAE's latent scores and every latent's histogram and top contexts"
#: The latent list's sort keys (the front end's SORTS).
SORTS: tuple[str, ...] = ("detection", "frequency", "causal", "match")
#: Per-SAE scalars shown beside the picker, when the Dataset has them.
SCALARS: tuple[str, ...] = ("fvu", "l0", "dead_share", "dense_share", "spliced_metric", "zero_ablation_metric",
                            "clean_metric")
#: The most tokens one top context shows, and how many of them follow the peak token when a string is longer.
CONTEXT_TOKENS, AFTER_PEAK = 40, 8


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def _need(ds: xr.Dataset, var: str, dims: tuple[str, ...], what: str = "SAE Dataset") -> None:
    if var not in ds.variables:
        raise DataModelError(f"{what} needs variable {var!r} on {dims}; it has {sorted(map(str, ds.data_vars))}.")
    got = tuple(map(str, ds[var].dims))
    if sorted(got) != sorted(dims):
        raise DataModelError(f"{what}[{var!r}] must lie on dims {dims}, got {got}.")


def check_sae_dataset(ds: Any) -> xr.Dataset:
    """What the FeatureExplorer reads, checked: :func:`workbench.data.validate_sae` (``activation`` (sae, sample,
    latent), ``detection`` (sae, latent, label), ``causal_effect``, ``frequency`` and ``match_cosine`` (sae, latent),
    ``fvu`` and ``l0`` (sae), coords ``architecture``/``sparsity``/``seed`` on ``sae`` and ``text``/``token``/``char``
    on ``sample``), plus ``match_sae`` on (sae,) when present and at least one of each dim.

    >>> check_sae_dataset([1, 2])
    Traceback (most recent call last):
    ...
    workbench.data.DataModelError: sae must be an xarray.Dataset, got list.
    """
    validate_sae(ds)
    if "match_sae" in ds.variables:
        _need(ds, "match_sae", ("sae",))
    if 0 in (ds.sizes["sae"], ds.sizes["latent"], ds.sizes["sample"], ds.sizes["label"]):
        raise DataModelError(f"SAE Dataset needs at least one sae, latent, sample and label; got sizes "
                             f"{dict(ds['activation'].sizes) | {'label': ds.sizes['label']}}.")
    return ds


def sae_names(ds: xr.Dataset) -> list[str]:
    """One name per SAE: ``architecture · sparsity · seed`` from the coords on ``sae`` (whichever exist).

    >>> ds = xr.Dataset(coords={"architecture": ("sae", ["topk"]), "sparsity": ("sae", [8.0]), "seed": ("sae", [1])})
    >>> sae_names(ds)
    ['topk · sparsity 8 · seed 1']
    """
    n = ds.sizes["sae"]
    out = []
    for s in range(n):
        bits = []
        if "architecture" in ds.coords:
            bits.append(str(ds["architecture"].values[s]))
        if "sparsity" in ds.coords:
            bits.append(f"sparsity {float(ds['sparsity'].values[s]):g}")
        if "seed" in ds.coords:
            bits.append(f"seed {int(ds['seed'].values[s])}")
        if not bits and "sae" in ds.coords:
            bits.append(str(ds["sae"].values[s]))
        out.append(" · ".join(bits) if bits else f"sae {s}")
    return out


def best_label(detection: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a (latent, label) score array: the largest score (NaN when all are NaN) and its label index
    (-1 when all are NaN).

    >>> best, which = best_label(np.array([[0.6, 0.9], [np.nan, np.nan]]))
    >>> best.tolist(), which.tolist()
    ([0.9, nan], [1, -1])
    """
    d = np.asarray(detection, np.float64)
    empty = np.isnan(d).all(axis=-1)
    filled = np.where(np.isnan(d), -np.inf, d)
    which = np.argmax(filled, axis=-1)
    best = np.take_along_axis(filled, which[..., None], axis=-1)[..., 0]
    return np.where(empty, np.nan, best), np.where(empty, -1, which)


def match_sae_index(ds: xr.Dataset) -> np.ndarray:
    """``match_sae`` as an index into the ``sae`` dim (an index already, or a value of the ``sae`` coord), -1 where
    there is none or it points outside.

    >>> ds = xr.Dataset({"match_sae": ("sae", [1, 0, -1])})
    >>> match_sae_index(ds).tolist()
    [1, 0, -1]
    """
    n = ds.sizes["sae"]
    if "match_sae" not in ds.variables:
        return np.full(n, -1, np.int64)
    v = np.asarray(ds["match_sae"].values)
    if v.dtype.kind in "iu":
        out = v.astype(np.int64)
    elif v.dtype.kind == "f":
        out = np.where(np.isfinite(v), v, -1).astype(np.int64)
    else:
        names = [str(x) for x in ds["sae"].values] if "sae" in ds.coords else []
        out = np.array([names.index(str(x)) if str(x) in names else -1 for x in v], np.int64)
    return np.where((out >= 0) & (out < n), out, -1)


class FeatureExplorer(anywidget.AnyWidget):
    """The SAE feature widget.

    ``FeatureExplorer(ds, sae=0, latent=None, sort="detection", top_k=6, offline_budget=8_000_000)``: ``ds`` passes
    :func:`check_sae_dataset` (an SAE evaluation Dataset, ``workbench.data.validate_sae``). ``sae`` (an index into
    the ``sae`` dim), ``latent`` (an index; default: the picked SAE's latent with the best label score) and ``sort``
    (one of ``detection``, ``frequency``, ``causal``, ``match``) are synced both ways; ``top_k`` is how many
    top-activating contexts each latent shows.

    >>> import sys; sys.path.insert(0, "tests"); from sae_data import make_sae               # doctest: +SKIP
    >>> w = FeatureExplorer(make_sae(), sae=2)                                               # doctest: +SKIP
    >>> w.latent, w._offline["latents"]                                                      # doctest: +SKIP
    (0, 'state')
    """

    _esm = _STATIC / "feature_explorer.js"
    _css = _STATIC / "feature_explorer.css"

    sae = traitlets.Int(0).tag(sync=True)
    latent = traitlets.Int(0).tag(sync=True)
    sort = traitlets.Unicode("detection").tag(sync=True)
    _info = traitlets.Dict().tag(sync=True)  # names, labels, the tokens and texts, the meta of _summary
    _summary = traitlets.Bytes(b"").tag(sync=True)  # packed float32: per-SAE scalars, match_sae, neuron baseline
    _saes = traitlets.Dict().tag(sync=True)  # "s" -> {"meta", "data", "decoder_tokens"}
    _latents = traitlets.Dict().tag(sync=True)  # "s:l" -> {"meta", "data"}
    _offline = traitlets.Dict().tag(sync=True)

    def __init__(self, ds: Any, sae: int = 0, latent: int | None = None, sort: str = "detection", top_k: int = 6,
                 offline_budget: int = OFFLINE_BUDGET, **kwargs: Any) -> None:
        budget = check_budget(offline_budget, limit=MAX_MESSAGE_BYTES)
        ds = check_sae_dataset(ds)
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise DataModelError(f"top_k must be a count of contexts >= 1, got {top_k!r}.")
        self._ds = ds
        self._top_k = int(top_k)
        self._n_saes, self._n_latents = int(ds.sizes["sae"]), int(ds.sizes["latent"])
        self._names = sae_names(ds)
        self._labels = [str(v) for v in ds["label"].values] if "label" in ds.coords else [
            f"label {k}" for k in range(ds.sizes["label"])]
        self._order, self._starts, self._lengths, self._string_ids = self._strings(ds)
        self._act_cache: tuple[int, np.ndarray] | None = None
        self._ready = False
        sae = self._check_sae(sae)
        self._check_sort(sort)
        super().__init__(**kwargs)
        saes = {s: self.sae_payload(s) for s in range(self._n_saes)}
        need_saes = sum(self._size(p) for p in saes.values())
        latents: dict[tuple[int, int], dict[str, Any]] = {}
        need, at_least = need_saes, False
        for s in range(self._n_saes):
            if need > budget:
                at_least = True
                break
            for lat, payload in enumerate(self._latent_payloads(s)):
                latents[(s, lat)] = payload
                need += self._size(payload)
        if at_least or len(latents) < self._n_saes * self._n_latents:
            at_least = True
        self._saes_in_state = need_saes <= budget
        self._latents_in_state = not at_least and need <= budget
        if latent is None:
            best, _ = best_label(self._detection(sae))
            latent = int(np.argmax(np.nan_to_num(best, nan=-np.inf))) if np.isfinite(best).any() else 0
        latent = self._check_latent(latent)
        info, summary = self.summary()
        with self.hold_sync():
            self._info, self._summary = info, summary
            self._offline = {**offline_status(need, budget, _WHAT, at_least=at_least),
                             "saes": "state" if self._saes_in_state else "kernel",
                             "latents": "state" if self._latents_in_state else "kernel"}
            self.sae, self.latent, self.sort = sae, latent, sort
            self._saes = ({str(s): p for s, p in saes.items()} if self._saes_in_state
                          else {str(sae): saes[sae]})
            self._latents = ({f"{s}:{lat}": p for (s, lat), p in latents.items()} if self._latents_in_state
                             else {f"{sae}:{latent}": latents.get((sae, latent)) or self.latent_payload(sae, latent)})
        self._ready = True

    @staticmethod
    def _size(payload: dict[str, Any]) -> int:
        """Bytes one payload adds to the saved state: its buffer and its JSON (meta, decoder tokens)."""
        return len(payload["data"]) + len(json.dumps({k: v for k, v in payload.items() if k != "data"}).encode())

    # ------------------------------------------------------------------------------------------------- checks
    def _check_sae(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < self._n_saes:
            raise DataModelError(f"sae must be an index in 0..{self._n_saes - 1} (one of {self._names}), "
                                 f"got {value!r}.")
        return int(value)

    def _check_latent(self, value: Any) -> int:
        if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                or not 0 <= int(value) < self._n_latents):
            raise DataModelError(f"latent must be an index in 0..{self._n_latents - 1}, got {value!r}.")
        return int(value)

    @staticmethod
    def _check_sort(value: Any) -> str:
        if value not in SORTS:
            raise DataModelError(f"sort must be one of {list(SORTS)}, got {value!r}.")
        return str(value)


    @traitlets.validate("sae")
    def _v_sae(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_sae, proposal["value"])

    @traitlets.validate("latent")
    def _v_latent(self, proposal: dict[str, Any]) -> int:
        return as_trait_error(self._check_latent, proposal["value"])

    @traitlets.validate("sort")
    def _v_sort(self, proposal: dict[str, Any]) -> str:
        return as_trait_error(self._check_sort, proposal["value"])

    @traitlets.observe("sae", "latent")
    def _on_pick(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_ready", False):
            return
        s, lat = self.sae, self.latent
        if not self._saes_in_state and str(s) not in self._saes:
            self._saes = {str(s): self.sae_payload(s)}  # the kernel sends the picked SAE's scores
        if not self._latents_in_state and f"{s}:{lat}" not in self._latents:
            self._latents = {f"{s}:{lat}": self.latent_payload(s, lat)}  # and the picked latent's detail

    # ---------------------------------------------------------------------------------------------- samples
    @staticmethod
    def _strings(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The samples in string order (by ``string``, then ``position``): the permutation, each string's start and
        length in that order, and each string's id."""
        n = ds.sizes["sample"]
        if "string" in ds.coords:
            raw = np.asarray(ds["string"].values)
        elif "text" in ds.coords:
            raw = np.asarray(ds["text"].values).astype(str)
        else:
            raw = np.zeros(n, np.int64)
        ids, codes = np.unique(raw, return_inverse=True)
        pos = (np.asarray(ds["position"].values) if "position" in ds.coords
               else np.asarray(ds["char"].values) if "char" in ds.coords else np.arange(n))
        order = np.lexsort((np.arange(n), pos, codes))
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if n else np.zeros(0, np.int64)
        lengths = np.diff(np.r_[starts, n])
        return order, starts.astype(np.int64), lengths.astype(np.int64), sorted_codes[starts]

    def _act(self, s: int) -> np.ndarray:
        """SAE ``s``'s activations as float32 (sample in string order, latent)."""
        if self._act_cache is None or self._act_cache[0] != s:
            a = _f32(self._ds["activation"].isel(sae=s).transpose("sample", "latent").values)[self._order]
            self._act_cache = (s, a)
        return self._act_cache[1]

    def _detection(self, s: int) -> np.ndarray:
        return _f32(self._ds["detection"].isel(sae=s).transpose("latent", "label").values)

    # ------------------------------------------------------------------------------------------------ payloads
    def contexts(self, sae: int, latent: int) -> list[dict[str, Any]]:
        """The latent's top-activating contexts: the ``top_k`` strings with the largest activation of it (ties: the
        earlier string), only strings where it is active; each a window of at most ``CONTEXT_TOKENS`` tokens around
        its peak (the whole string when shorter). Each is ``{"string", "text", "start", "tokens", "activation",
        "peak"}``: ``start`` indexes the samples in string order (``_info["tokens"]``), ``peak`` the window.

        >>> import sys; sys.path.insert(0, "tests"); from sae_data import make_sae               # doctest: +SKIP
        >>> FeatureExplorer(make_sae()).contexts(0, 1)[0]["tokens"]                              # doctest: +SKIP
        ['[start]', '(', '(', '[', ']', ')', ')']
        """
        s, lat = self._check_sae(sae), self._check_latent(latent)
        a = self._act(s)[:, lat]
        return self._contexts_of(a)

    def _contexts_of(self, a: np.ndarray) -> list[dict[str, Any]]:
        if not len(a):
            return []
        smax = np.maximum.reduceat(a, self._starts)
        cand = np.argsort(-smax, kind="stable")
        cand = cand[smax[cand] > 0][: self._top_k]
        tokens = self.tokens()
        texts = self.texts()
        out = []
        for j in cand:
            st, ln = int(self._starts[j]), int(self._lengths[j])
            seg = a[st: st + ln]
            peak = int(np.argmax(seg))
            w0 = 0 if ln <= CONTEXT_TOKENS else int(np.clip(peak - (CONTEXT_TOKENS - 1 - AFTER_PEAK), 0,
                                                             ln - CONTEXT_TOKENS))
            w1 = min(ln, w0 + CONTEXT_TOKENS)
            out.append({"string": int(j), "text": texts[j], "start": st + w0, "tokens": tokens[st + w0: st + w1],
                        "activation": seg[w0:w1].copy(), "peak": peak - w0})
        return out

    def tokens(self) -> list[str]:
        """Every sample's token in string order (what ``_info["tokens"]`` holds)."""
        if not hasattr(self, "_tokens"):
            self._tokens = [str(t) for t in np.asarray(self._ds["token"].values)[self._order]]
        return self._tokens

    def texts(self) -> list[str]:
        """Each string's text (the ``text`` coord of its first sample; its tokens joined when there is none)."""
        if not hasattr(self, "_texts"):
            if "text" in self._ds.coords:
                t = np.asarray(self._ds["text"].values)[self._order]
                self._texts = [str(t[st]) for st in self._starts]
            else:
                tok = self.tokens()
                self._texts = ["".join(tok[st: st + ln]) for st, ln in zip(self._starts, self._lengths)]
        return self._texts

    def _latent_payloads(self, s: int) -> list[dict[str, Any]]:
        return [self.latent_payload(s, lat) for lat in range(self._n_latents)]

    def latent_payload(self, sae: int, latent: int) -> dict[str, Any]:
        """One latent's detail, packed float32: ``active`` (its activation on every sample where it is > 0, for the
        histogram), ``stats`` (largest activation, active count, sample count) and its top contexts: ``ctx_start``,
        ``ctx_len``, ``ctx_string``, ``ctx_peak`` and ``ctx_act`` (the windows' activations, one after another)."""
        s, lat = self._check_sae(sae), self._check_latent(latent)
        a = self._act(s)[:, lat]
        ctx = self._contexts_of(a)
        active = a[a > 0]
        arrays = {
            "active": active,
            "stats": np.array([max(float(a.max()), 0.0) if len(a) else 0.0, active.size, a.size], np.float32),
            "ctx_start": np.array([c["start"] for c in ctx], np.float32),
            "ctx_len": np.array([len(c["tokens"]) for c in ctx], np.float32),
            "ctx_string": np.array([c["string"] for c in ctx], np.float32),
            "ctx_peak": np.array([c["peak"] for c in ctx], np.float32),
            "ctx_act": np.concatenate([c["activation"] for c in ctx]) if ctx else np.zeros(0, np.float32),
        }
        meta, data = pack(arrays)
        return {"meta": {**meta, "sae": s, "latent": lat}, "data": data}

    def sae_payload(self, sae: int) -> dict[str, Any]:
        """One SAE's latent scores, packed float32 on (latent, ...): ``frequency``, ``detection`` (latent, label),
        ``best`` and ``best_label`` (see :func:`best_label`), ``causal`` (``causal_effect``), ``match_cosine`` and
        ``match_latent`` (NaN / -1 without them), ``decoder_logits`` (latent, rank); the decoder's top tokens as
        JSON strings."""
        s = self._check_sae(sae)
        ds = self._ds.isel(sae=s)
        det = self._detection(s)
        best, which = best_label(det)
        L = self._n_latents
        arrays = {
            "frequency": _f32(ds["frequency"].values),
            "detection": det,
            "best": _f32(best),
            "best_label": _f32(which),
            "causal": _f32(ds["causal_effect"].values),
            "match_cosine": _f32(ds["match_cosine"].values) if "match_cosine" in ds.variables
            else np.full(L, np.nan, np.float32),
            "match_latent": _f32(ds["match_latent"].values) if "match_latent" in ds.variables
            else np.full(L, -1, np.float32),
        }
        tokens: list[list[str]] = []
        if "decoder_top_tokens" in ds.variables:
            top = np.asarray(ds["decoder_top_tokens"].transpose("latent", "rank").values)
            tokens = [[str(t) for t in r] for r in top]
        if "decoder_top_logits" in ds.variables:
            arrays["decoder_logits"] = _f32(ds["decoder_top_logits"].transpose("latent", "rank").values)
        meta, data = pack(arrays)
        return {"meta": {**meta, "sae": s}, "data": data, "decoder_tokens": tokens}

    def gap_thresholds(self) -> tuple[float | None, float | None]:
        """The correlational-versus-causal gap's thresholds on the scatter's axes, when the Dataset says them: a
        latent is well-correlated when its best label score is at least attr ``well_correlated``, and has no causal
        effect when its ``causal_effect`` is below attr ``no_effect`` times ``site_effect`` (the output change when
        the whole site is zero-ablated), as :func:`workbench.analyses.sae` counts them. ``None`` where missing.

        >>> ds = xr.Dataset({"site_effect": ((), 2.0)}, attrs={"well_correlated": 0.9, "no_effect": 0.05})
        >>> FeatureExplorer.gap_thresholds(type("W", (), {"_ds": ds})())
        (0.9, 0.1)
        """
        ds = self._ds
        well = ds.attrs.get("well_correlated")
        none = ds.attrs.get("no_effect")
        site = ds["site_effect"] if "site_effect" in ds.variables and ds["site_effect"].dims == () else None
        ok = (lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
              and np.isfinite(v))
        x = float(well) if ok(well) else None
        y = float(none) * float(site) if ok(none) and site is not None and ok(float(site)) else None
        return x, y

    def summary(self) -> tuple[dict[str, Any], bytes]:
        """What every view shares: per-SAE scalars, ``match_sae`` and the neuron baseline (packed float32), and
        names, labels, tokens and texts (JSON)."""
        ds = self._ds
        arrays: dict[str, np.ndarray] = {"match_sae": _f32(match_sae_index(ds))}
        scalars = [name for name in SCALARS if name in ds.variables and ds[name].dims in (("sae",), ())]
        for name in scalars:  # a Dataset-wide scalar (the clean model's metric) is the same for every SAE
            arrays[name] = _f32(np.broadcast_to(np.asarray(ds[name].values, np.float64), (self._n_saes,)))
        kinds: list[str] = []
        if "unit_detection" in ds.variables and "unit_causal_effect" in ds.variables:
            ub, _ = best_label(ds["unit_detection"].transpose("unit", "label").values)
            arrays["unit_best"] = _f32(ub)
            arrays["unit_causal"] = _f32(ds["unit_causal_effect"].values)
            if "unit_kind" in ds.coords:
                kinds = sorted({str(k) for k in np.asarray(ds["unit_kind"].values)})
        meta, buf = pack(arrays)
        where = " · ".join(f"{k} {ds.attrs[k]}" for k in ("layer", "site") if k in ds.attrs)
        well, none = self.gap_thresholds()
        info = {
            "summary_meta": meta, "saes": self._names, "labels": self._labels, "scalars": scalars,
            "n_latents": self._n_latents, "n_samples": int(ds.sizes["sample"]), "n_strings": len(self._starts),
            "tokens": self.tokens(), "texts": self.texts(), "unit_kinds": kinds,
            "model": str(ds.attrs.get("model", "")), "where": where,
            "top_k": self._top_k, "well_correlated": well, "no_effect": none,
        }
        check_size(len(json.dumps(info).encode()) + len(buf))
        return info, buf


__all__ = ["FeatureExplorer", "check_sae_dataset", "best_label", "match_sae_index", "sae_names", "SORTS",
           "CONTEXT_TOKENS", "AFTER_PEAK"]
