"""The xarray data model: dim names, provenance, validators, and lossless save/load.

Every analysis returns an xarray object that follows these conventions, and every widget accepts only objects that
pass one of the ``validate_*`` functions here. Files are netCDF (default) or zarr (for big or chunked data); nothing is
ever pickled, so a saved result can be opened safely on any machine, without the model that produced it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

# The one spelling of every dim the workbench uses.
DIMS: tuple[str, ...] = (
    "prompt",  # one of several texts traced together
    "layer",
    "head",
    "query",
    "key",
    "position",
    "rank",
    "hidden",
    "component",
    "sample",
    "step",  # training step of a checkpoint
    "basis",
    "node",
    "context",  # context length
    "walk",  # one random walk of an in-context graph study
    "model",  # a member of a population
    "latent",  # latent-thought index
    "cluster_id",  # a cluster of one basis vector (POLCA), labels 0..n-1
    "approach",  # a row of a methods table (POLCA's Table 1); not "method", which .sel() takes as its own keyword
    "pair",  # a (clean, corrupted) prompt pair of an intervention
    "site",  # where an intervention acts: "resid", "attn", "mlp"
    "span",  # a set of positions patched together (multi-token patching)
    "vocab",  # the distinct token ids a Dataset names, with their strings (coords vocab_id, vocab_token)
    "coef",  # a steering coefficient (the vector's multiple added to the residual stream)
    "baseline",  # what a steering score is measured for: "steer", "random" (same-norm vectors), "prompt"
    "sparsity",  # the share of a steering vector's dimensions set to zero
    "sae",  # a member of a grid of sparse autoencoders (coords architecture, sparsity, seed)
    "label",  # a ground-truth label a unit is scored against ("depth", "top_type=round", ...)
    "unit",  # a model's own unit of the SAE neuron baseline (coord unit_kind: "neuron" / "residual")
)

_KIND_ATTR = "workbench_kind"  # "DataArray" or "Dataset", so load() returns what save() got
_NAME_ATTR = "workbench_name"
_DA_VAR = "__workbench_dataarray__"
_DTYPE_ATTR = "workbench_dtype"  # original dtype of a variable that had to be re-encoded
_ESCAPED_ATTR = "workbench_escaped"  # string variable with NUL / backslash escaped
_JSON_ATTRS = "workbench_json_attrs"  # names of attrs stored as JSON text


class DataModelError(ValueError):
    """An xarray object does not follow the workbench data model; the message says what is wrong in one sentence."""


# --------------------------------------------------------------------------------------------------------- provenance
def provenance(
    model: str = "",
    revision: str = "",
    task: str = "",
    seed: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance attrs every analysis result carries: model, revision, task, seed, package version, time.

    >>> attrs = provenance(model="gpt2", task="residuals", seed=0)
    >>> sorted(attrs)[:4]
    ['created', 'model', 'revision', 'seed']
    """
    from workbench import __version__

    attrs: dict[str, Any] = {
        "model": str(model),
        "revision": str(revision),
        "task": str(task),
        "seed": -1 if seed is None else int(seed),
        "workbench_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    attrs.update(extra)
    return attrs


# --------------------------------------------------------------------------------------------------------- validators
def _describe_dims(obj: xr.DataArray | xr.Dataset) -> str:
    return "(" + ", ".join(map(str, obj.dims)) + ")" if obj.dims else "no dims"


def _require_dataarray(obj: Any, what: str) -> xr.DataArray:
    if not isinstance(obj, xr.DataArray):
        raise DataModelError(f"{what} must be an xarray.DataArray, got {type(obj).__name__}.")
    return obj


def _require_dims(obj: xr.DataArray, required: Iterable[str], what: str, optional: Iterable[str] = ()) -> None:
    required = tuple(required)
    allowed = set(required) | set(optional)
    missing = [d for d in required if d not in obj.dims]
    if missing:
        raise DataModelError(
            f"{what} needs dims {required} but has {_describe_dims(obj)}: missing {', '.join(map(repr, missing))}."
        )
    extra = [d for d in obj.dims if d not in allowed]
    if extra:
        raise DataModelError(
            f"{what} has unexpected dim(s) {', '.join(map(repr, extra))} in {_describe_dims(obj)}; "
            f"expected {required}" + (f" plus optional {tuple(optional)}" if optional else "") + "."
        )


def _require_token_coord(obj: xr.DataArray | xr.Dataset, coord: str, dim: str, what: str) -> None:
    if coord not in obj.coords:
        return  # token labels are optional; widgets fall back to positions
    c = obj.coords[coord]
    if dim not in c.dims:
        raise DataModelError(f"{what}'s coord {coord!r} must lie along dim {dim!r}, but lies along {c.dims}.")
    if c.dtype.kind not in "OUS":
        raise DataModelError(f"{what}'s coord {coord!r} must hold token strings, got dtype {c.dtype}.")


def validate_attention(da: Any) -> xr.DataArray:
    """Check an attention DataArray: dims (layer, head, query, key), optionally a leading `prompt`.

    Token labels, when present, are the coords `query_token` (on query) and `key_token` (on key).
    Returns ``da`` unchanged so it can be used inline.

    >>> import numpy as np, xarray as xr
    >>> ok = validate_attention(xr.DataArray(np.zeros((1, 2, 3, 3)), dims=("layer", "head", "query", "key")))
    """
    what = "attention"
    da = _require_dataarray(da, what)
    _require_dims(da, ("layer", "head", "query", "key"), what, optional=("prompt",))
    if da.dtype.kind != "f":
        raise DataModelError(f"attention weights must be floating point, got dtype {da.dtype}.")
    _require_token_coord(da, "query_token", "query", what)
    _require_token_coord(da, "key_token", "key", what)
    return da


def validate_residuals(da: Any) -> xr.DataArray:
    """Check a residual-stream DataArray: dims (layer, position, hidden), optionally a leading `prompt`.

    >>> import numpy as np, xarray as xr
    >>> ok = validate_residuals(xr.DataArray(np.zeros((2, 3, 4)), dims=("layer", "position", "hidden")))
    """
    what = "residuals"
    da = _require_dataarray(da, what)
    _require_dims(da, ("layer", "position", "hidden"), what, optional=("prompt",))
    _require_token_coord(da, "token", "position", what)
    return da


def validate_logit_lens(ds: Any) -> xr.Dataset:
    """Check a logit-lens Dataset: `token`, `token_id`, `prob` on (layer, position, rank) and `entropy` on
    (layer, position), each optionally with a leading `prompt`.

    >>> import numpy as np, xarray as xr
    >>> dims = ("layer", "position", "rank")
    >>> ds = xr.Dataset({"token": (dims, np.full((1, 2, 3), "a", dtype=object)),
    ...                  "token_id": (dims, np.zeros((1, 2, 3), int)), "prob": (dims, np.zeros((1, 2, 3))),
    ...                  "entropy": (dims[:2], np.zeros((1, 2)))})
    >>> ok = validate_logit_lens(ds)
    """
    what = "logit_lens"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    spec = {
        "token": ("layer", "position", "rank"),
        "token_id": ("layer", "position", "rank"),
        "prob": ("layer", "position", "rank"),
        "entropy": ("layer", "position"),
    }
    for var, dims in spec.items():
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r} on {dims}; it has {sorted(map(str, ds.data_vars))}.")
        _require_dims(ds[var], dims, f"{what}[{var!r}]", optional=("prompt",))
    if ds["token"].dtype.kind not in "OUS":
        raise DataModelError(f"{what}['token'] must hold token strings, got dtype {ds['token'].dtype}.")
    return ds


HEAD_SCORE_TYPES = ("violation_detecting", "nonnegative", "sign_matching", "hierarchical")


def validate_population(ds: Any) -> xr.Dataset:
    """Check a population Dataset (one entry per trained model along dim ``model``).

    Required: coords ``n_layers``, ``n_heads``, ``weight_decay``, ``init_seed``, ``data_seed`` on ``model``; data variables
    ``id_accuracy`` and ``ood_accuracy`` on ``model``; ``head_score`` on (model, split, layer, head, score) with coord
    ``split`` in {"id", "ood"} and ``score`` naming the head types of :data:`HEAD_SCORE_TYPES` (NaN where a model has no
    such layer/head). Optional, for the linked attention view: ``example_attention`` on
    (model, sample, layer, head, query, key) with ``example_token`` on (sample, query) and any per-token annotation
    (e.g. ``example_depth``) on (sample, query).

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"id_accuracy": ("model", [1.0]), "ood_accuracy": ("model", [0.2]),
    ...                  "head_score": (("model", "split", "layer", "head", "score"), np.zeros((1, 2, 1, 1, 4)))},
    ...                 coords={"n_layers": ("model", [1]), "n_heads": ("model", [1]),
    ...                         "weight_decay": ("model", [0.0]), "init_seed": ("model", [0]),
    ...                         "data_seed": ("model", [0]), "split": ["id", "ood"], "score": list(HEAD_SCORE_TYPES)})
    >>> ok = validate_population(ds)
    """
    what = "population"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    if "model" not in ds.dims:
        raise DataModelError(f"{what} needs a 'model' dim; it has {_describe_dims(ds)}.")
    for c in ("n_layers", "n_heads", "weight_decay", "init_seed", "data_seed"):
        if c not in ds.coords:
            raise DataModelError(f"{what} needs coord {c!r} on 'model' (a hyperparameter of each model); "
                                 f"it has {sorted(map(str, ds.coords))}.")
    for var in ("id_accuracy", "ood_accuracy"):
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r} on ('model',); it has {sorted(map(str, ds.data_vars))}.")
        _require_dims(ds[var], ("model",), f"{what}[{var!r}]")
    if "head_score" not in ds.data_vars:
        raise DataModelError(f"{what} needs data variable 'head_score' on (model, split, layer, head, score); "
                             f"it has {sorted(map(str, ds.data_vars))}.")
    _require_dims(ds["head_score"], ("model", "split", "layer", "head", "score"), f"{what}['head_score']")
    if "example_attention" in ds.data_vars:
        _require_dims(ds["example_attention"], ("model", "sample", "layer", "head", "query", "key"),
                      f"{what}['example_attention']")
    return ds


def validate_latent(ds: Any) -> xr.Dataset:
    """Check a latent-decoding Dataset: the logit-lens grid of every latent step of every problem.

    Required: ``token``, ``token_id``, ``prob`` on (problem, latent, layer, rank). Optional per-problem variables that the
    LatentDecoder widget shows when present: ``question``, ``gold_trace``, ``answer``, ``predicted`` (strings),
    ``correct`` (bool/int), ``decoded_trace`` and ``verification`` (JSON text of the decoded trace tree and its
    per-step checks), ``verified_checks`` (int). A plain logit-lens Dataset (layer, position, rank) is accepted by the
    widget too, through :func:`validate_logit_lens`.
    """
    what = "latent decoding"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    for var in ("token", "token_id", "prob"):
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r} on (problem, latent, layer, rank); "
                                 f"it has {sorted(map(str, ds.data_vars))}.")
        _require_dims(ds[var], ("problem", "latent", "layer", "rank"), f"{what}[{var!r}]")
    return ds


def validate_polca(ds: Any) -> xr.Dataset:
    """Check a POLCA Dataset (Kangaslahti, Rosenfeld & Saphra 2025, arXiv 2506.15872): dims ``basis``, ``sample``,
    ``step``.

    Required: ``projected_loss`` on (basis, sample, step), ``exact_loss`` on (sample, step), ``cluster`` (int: -1 an
    outlier, -2 a sample filtered out) on (basis, sample), ``exact_cluster`` on (sample,), ``break_step`` on
    (basis, cluster_id), coords ``step`` and ``found_at`` (the step each vector was found) on ``basis``. Optional:
    ``eigenvalue`` on basis, ``text`` and any categorical label (``place``, ``carry``) on sample, ``exact_break_step``
    on (cluster_id,), the Table 1 variables on ``approach``, ``approach_cluster`` on (approach, basis, sample) (every
    approach's cluster labels, the same codes as ``cluster``) with ``approach_break_step`` on (approach, basis,
    cluster_id), and a planted run's bool ``planted`` on sample.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"projected_loss": (("basis", "sample", "step"), np.zeros((1, 2, 3))),
    ...                  "exact_loss": (("sample", "step"), np.zeros((2, 3))),
    ...                  "cluster": (("basis", "sample"), np.zeros((1, 2), int)),
    ...                  "exact_cluster": ("sample", np.zeros(2, int)),
    ...                  "break_step": (("basis", "cluster_id"), np.zeros((1, 1)))},
    ...                 coords={"step": [0, 10, 20], "found_at": ("basis", [0])})
    >>> ok = validate_polca(ds)
    """
    what = "POLCA"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    spec = {
        "projected_loss": ("basis", "sample", "step"),
        "exact_loss": ("sample", "step"),
        "cluster": ("basis", "sample"),
        "exact_cluster": ("sample",),
        "break_step": ("basis", "cluster_id"),
    }
    for var, dims in spec.items():
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r} on {dims}; it has {sorted(map(str, ds.data_vars))}.")
        _require_dims(ds[var], dims, f"{what}[{var!r}]")
    for var in ("cluster", "exact_cluster"):
        if ds[var].dtype.kind not in "iu":
            raise DataModelError(f"{what}[{var!r}] must hold integer cluster labels (-1 outlier, -2 filtered), "
                                 f"got dtype {ds[var].dtype}.")
    if "step" not in ds.coords:
        raise DataModelError(f"{what} needs coord 'step' (the training step of each checkpoint); it has "
                             f"{sorted(map(str, ds.coords))}.")
    if "found_at" not in ds.coords or ds.coords["found_at"].dims != ("basis",):
        raise DataModelError(f"{what} needs coord 'found_at' on 'basis' (the step each vector was found); it has "
                             f"{sorted(map(str, ds.coords))}.")
    optional = {"approach_cluster": ("approach", "basis", "sample"),
                "approach_break_step": ("approach", "basis", "cluster_id"), "planted": ("sample",)}
    for var, dims in optional.items():
        if var in ds.variables:
            _require_dims(ds[var], dims, f"{what}[{var!r}]")
    if "approach_cluster" in ds.variables and ds["approach_cluster"].dtype.kind not in "iu":
        raise DataModelError(f"{what}['approach_cluster'] must hold integer cluster labels (-1 outlier, -2 filtered), "
                             f"got dtype {ds['approach_cluster'].dtype}.")
    return ds


#: Where activation patching acts, in the order results list them (``head`` is the separate ``head_effect`` view).
PATCH_SITES = ("resid", "attn", "mlp")


def validate_patching(ds: Any) -> xr.Dataset:
    """Check an activation- or attribution-patching Dataset (:func:`workbench.patch`,
    :func:`workbench.attribution_patch`), as the PatchMap widget reads it.

    Required: ``effect`` and ``metric`` on (site, layer, X), with X = ``position`` (one cell per token) or ``span``
    (a set of positions patched together), and an optional leading ``pair``; coord ``site`` with values from
    ``("resid", "attn", "mlp")``; attrs ``metric`` (the metric's name) and ``method`` (``"exact"`` or
    ``"attribution"``). ``effect`` is normalised, (m(patched) - m(corrupted)) / (m(clean) - m(corrupted)) when
    denoising (its mirror when noising), so 1 = the patch restores the clean answer and 0 = no change; NaN marks a
    cell that does not exist (a site without that layer, a position past a shorter pair's end). Optional, read when
    present: coords ``token`` and ``corrupted_token`` on (pair, position); ``head_effect``/``head_metric`` on
    (pair, layer, head); the top-k logit changes ``top_token_id``/``top_change`` on (..., rank) with coords
    ``vocab_id``/``vocab_token`` on ``vocab`` naming the ids; ``pearson_r`` on (site) (attribution against exact).

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"effect": (("site", "layer", "position"), np.zeros((1, 2, 3))),
    ...                  "metric": (("site", "layer", "position"), np.zeros((1, 2, 3)))},
    ...                 coords={"site": ["resid"], "token": ("position", ["a", "b", "c"])},
    ...                 attrs={"metric": "logit_diff(' a', ' b')", "method": "exact"})
    >>> ok = validate_patching(ds)
    """
    what = "patching Dataset"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    for var in ("effect", "metric"):
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r} on (pair, site, layer, position); it has "
                                 f"{sorted(map(str, ds.data_vars))}.")
        cells = "span" if "span" in ds[var].dims else "position"
        _require_dims(ds[var], ("site", "layer", cells), f"{what}[{var!r}]", optional=("pair",))
    if ds["effect"].dims != ds["metric"].dims:
        raise DataModelError(f"{what}: 'effect' {_describe_dims(ds['effect'])} and 'metric' "
                             f"{_describe_dims(ds['metric'])} must share their dims.")
    unknown = [str(s) for s in ds["site"].values if str(s) not in PATCH_SITES]
    if unknown:
        raise DataModelError(f"{what} has unknown site(s) {unknown}; sites are {list(PATCH_SITES)}.")
    for attr in ("metric", "method"):
        if attr not in ds.attrs:
            raise DataModelError(f"{what} needs attr {attr!r} (the metric's name; 'exact' or 'attribution'); it has "
                                 f"{sorted(ds.attrs)}.")
    if ds.attrs["method"] not in ("exact", "attribution"):
        raise DataModelError(f"{what}'s attr 'method' must be 'exact' or 'attribution', got {ds.attrs['method']!r}.")
    if "position" in ds.dims:
        for coord in ("token", "corrupted_token"):
            _require_token_coord(ds, coord, "position", what)
    if "head_effect" in ds.data_vars:
        _require_dims(ds["head_effect"], ("layer", "head"), f"{what}['head_effect']", optional=("pair", "span"))
    return ds


#: What a steering score is measured for: the vector itself, random vectors of its norm, a prompt asking for the behaviour.
STEERING_BASELINES = ("steer", "random", "prompt")


def validate_steering(ds: Any) -> xr.Dataset:
    """Check a steering Dataset (:func:`workbench.steer`, :func:`workbench.steering_eval`), as the SteeringExplorer
    widget reads it.

    Required: ``text`` (the generated continuation) on (coef, prompt); ``touched`` (bool: the vector was added at
    that generated position) on (coef, prompt, step); ``score`` (the likelihood evaluation: mean log-probability of
    completions that show the behaviour minus those that do not) on (baseline, coef), with ``baseline`` values from
    ``("steer", "random", "prompt")``; a numeric ``coef`` coord that holds 0 (the unsteered run). Each may carry a
    leading ``layer`` dim (one vector per layer). Optional, read when present: ``token``/``logprob`` on
    (coef, prompt, step); ``fluency`` and ``sentiment`` on (coef); ``effect`` (standardised score) on (baseline,
    coef); ``layer_effect`` on (layer); ``sparsity_effect`` on (ranking, sparsity); ``frozen_effect`` (standardised
    like ``effect``; ``frozen_score`` in score units) on (coef) with attr ``frozen_share``; ``ov_token``/``ov_weight`` on (ov, rank).

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"text": (("coef", "prompt"), [["a"], ["b"]]),
    ...                  "touched": (("coef", "prompt", "step"), np.ones((2, 1, 3), bool)),
    ...                  "score": (("baseline", "coef"), np.zeros((3, 2)))},
    ...                 coords={"coef": [0.0, 4.0], "baseline": ["steer", "random", "prompt"]})
    >>> ok = validate_steering(ds)
    """
    what = "steering Dataset"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    spec = {"text": ("coef", "prompt"), "touched": ("coef", "prompt", "step"), "score": ("baseline", "coef")}
    for var, dims in spec.items():
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r} on {dims}; it has "
                                 f"{sorted(map(str, ds.data_vars))}.")
        _require_dims(ds[var], dims, f"{what}[{var!r}]", optional=("layer",))
    if ds["touched"].dtype != bool:
        raise DataModelError(f"{what}['touched'] must be bool (the vector was added at that position), got "
                             f"{ds['touched'].dtype}.")
    coef = ds["coef"].values
    if coef.dtype.kind not in "fiu" or not np.any(coef == 0):
        raise DataModelError(f"{what}'s coord 'coef' must be numeric and hold 0 (the unsteered run), got {coef!r}.")
    unknown = [str(b) for b in ds["baseline"].values if str(b) not in STEERING_BASELINES]
    if unknown:
        raise DataModelError(f"{what} has unknown baseline(s) {unknown}; baselines are {list(STEERING_BASELINES)}.")
    return ds


SAE_SPEC: dict[str, tuple[str, ...]] = {
    "activation": ("sae", "sample", "latent"),
    "detection": ("sae", "latent", "label"),
    "causal_effect": ("sae", "latent"),
    "frequency": ("sae", "latent"),
    "match_cosine": ("sae", "latent"),
    "fvu": ("sae",),
    "l0": ("sae",),
}


def validate_sae(ds: Any) -> xr.Dataset:
    """Check an SAE evaluation Dataset (``workbench.analyses.sae.evaluate``): the variables of :data:`SAE_SPEC` on
    their dims, coords ``architecture``, ``sparsity``, ``seed`` on ``sae`` and ``label`` names, and on ``sample`` the
    coords ``text`` (the whole input string), ``token`` and ``char`` (index in ``text`` of the character the token
    stands for, -1 for a special token), with ``0 <= char < len(text)`` elsewhere. Optional: ``match_latent`` on
    (sae, latent), ``decoder_top_tokens`` on (sae, latent, rank), and the neuron baseline ``unit_detection`` on
    (unit, label) with ``unit_causal_effect`` on (unit,) and coord ``unit_kind``.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"activation": (("sae", "sample", "latent"), np.zeros((1, 2, 3))),
    ...     "detection": (("sae", "latent", "label"), np.zeros((1, 3, 1))), "causal_effect": (("sae", "latent"),
    ...     np.zeros((1, 3))), "frequency": (("sae", "latent"), np.zeros((1, 3))), "match_cosine": (("sae", "latent"),
    ...     np.zeros((1, 3))), "fvu": ("sae", [0.1]), "l0": ("sae", [2.0])}, coords={"architecture": ("sae", ["topk"]),
    ...     "sparsity": ("sae", [4.0]), "seed": ("sae", [0]), "label": ["depth"], "text": ("sample", ["()", "()"]),
    ...     "token": ("sample", ["(", ")"]), "char": ("sample", [0, 1])})
    >>> ok = validate_sae(ds)
    """
    what = "sae"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    for var, dims in SAE_SPEC.items():
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r} on {dims}; it has {sorted(map(str, ds.data_vars))}.")
        _require_dims(ds[var], dims, f"{what}[{var!r}]")
    for var in ("activation", "detection", "causal_effect", "frequency", "fvu", "l0"):
        if ds[var].dtype.kind != "f":
            raise DataModelError(f"{what}[{var!r}] must be floating point, got dtype {ds[var].dtype}.")
    for coord, dim in (("architecture", "sae"), ("sparsity", "sae"), ("seed", "sae"), ("text", "sample"),
                       ("token", "sample"), ("char", "sample")):
        if coord not in ds.coords or ds.coords[coord].dims != (dim,):
            raise DataModelError(f"{what} needs coord {coord!r} on {dim!r}; it has {sorted(map(str, ds.coords))}.")
    if "label" not in ds.coords:
        raise DataModelError(f"{what} needs coord 'label' naming each label (e.g. 'depth', 'top_type=round').")
    for coord in ("text", "token", "architecture", "label"):
        if ds.coords[coord].dtype.kind not in "OUS":
            raise DataModelError(f"{what}'s coord {coord!r} must hold strings, got dtype {ds.coords[coord].dtype}.")
    char = np.asarray(ds.coords["char"].values)
    if char.dtype.kind not in "iu":
        raise DataModelError(f"{what}'s coord 'char' must hold integers (-1 for a special token), got {char.dtype}.")
    lengths = np.array([len(str(t)) for t in ds.coords["text"].values], dtype=np.int64)
    bad = np.flatnonzero((char < -1) | (char >= np.maximum(lengths, 0)) & (char != -1))
    if bad.size:
        i = int(bad[0])
        raise DataModelError(f"{what}'s coord 'char' must be -1 or an index into 'text', but sample {i} has char "
                             f"{int(char[i])} for a text of {int(lengths[i])} characters.")
    optional = {"match_latent": ("sae", "latent"), "decoder_top_tokens": ("sae", "latent", "rank"),
                "decoder_top_logits": ("sae", "latent", "rank"), "unit_detection": ("unit", "label"),
                "unit_causal_effect": ("unit",)}
    for var, dims in optional.items():
        if var in ds.variables:
            _require_dims(ds[var], dims, f"{what}[{var!r}]")
    if "unit_detection" in ds.variables and "unit_kind" not in ds.coords:
        raise DataModelError(f"{what} has a neuron baseline (unit_detection) but no coord 'unit_kind' on 'unit'.")
    return ds


def validate_incontext(ds: Any) -> xr.Dataset:
    """Check an in-context graph-tracing Dataset (Park et al. 2025, arXiv 2501.00070), as the GraphReorganization
    widget reads it.

    Required: coord ``word`` on ``node``; ``adjacency`` on (node, <second node dim>); ``pca`` on
    (layer, context, node, component); ``energy_ratio`` and ``procrustes_r2`` on (layer, context); ``accuracy`` on
    (walk, position) or (position,). Written by :func:`workbench.analyses.incontext.study`, which also gives
    ``node_mean`` (layer, context, node, hidden), the permutation null and the controls.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"adjacency": (("node", "neighbour"), np.eye(2, k=1) + np.eye(2, k=-1)),
    ...                  "pca": (("layer", "context", "node", "component"), np.zeros((1, 1, 2, 2))),
    ...                  "energy_ratio": (("layer", "context"), [[1.0]]), "procrustes_r2": (("layer", "context"), [[0.0]]),
    ...                  "accuracy": (("position",), [0.5])}, coords={"word": ("node", ["a", "b"])})
    >>> ok = validate_incontext(ds)
    """
    what = "in-context graph Dataset"
    if not isinstance(ds, xr.Dataset):
        raise DataModelError(f"{what} must be an xarray.Dataset, got {type(ds).__name__}.")
    spec = {"pca": ("layer", "context", "node", "component"), "energy_ratio": ("layer", "context"),
            "procrustes_r2": ("layer", "context")}
    for var in ("adjacency", *spec, "accuracy"):
        if var not in ds.data_vars:
            raise DataModelError(f"{what} needs data variable {var!r}; it has {sorted(map(str, ds.data_vars))}.")
    for var, dims in spec.items():
        _require_dims(ds[var], dims, f"{what}[{var!r}]")
    adj = ds["adjacency"]
    if adj.ndim != 2 or adj.dims[0] != "node" or adj.shape[0] != adj.shape[1]:
        raise DataModelError(f"{what}['adjacency'] must be a square (node, <neighbour dim>) matrix, got dims "
                             f"{adj.dims} with shape {adj.shape}.")
    if ds["accuracy"].dims not in (("walk", "position"), ("position",)):
        raise DataModelError(f"{what}['accuracy'] must lie on (walk, position) or (position,), got {ds['accuracy'].dims}.")
    if "word" not in ds.coords or ds.coords["word"].dims != ("node",):
        raise DataModelError(f"{what} needs coord 'word' on 'node' (the word of each node); it has "
                             f"{sorted(map(str, ds.coords))}.")
    return ds


#: Positions in the trailing moving average that turns an in-context study's ``accuracy`` into ``accuracy_smooth``
#: (the paper's plots). A data-model convention: the analysis writes the smoothed curve and a widget reading an older
#: Dataset without it smooths ``accuracy`` the same way.
SMOOTH = 30


def trailing_mean(x: np.ndarray, width: int = SMOOTH) -> np.ndarray:
    """Trailing moving average over the last ``width`` values (fewer at the start), along the last axis: how
    ``accuracy_smooth`` derives from ``accuracy`` in an in-context Dataset.

    >>> trailing_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    x = np.asarray(x, dtype=np.float64)
    c = np.cumsum(np.concatenate([np.zeros(x.shape[:-1] + (1,)), x], -1), -1)
    idx = np.arange(x.shape[-1])
    lo = np.maximum(idx + 1 - width, 0)
    return (c[..., idx + 1] - c[..., lo]) / (idx + 1 - lo)


# ------------------------------------------------------------------------------------------------------ save / load
def _is_string_array(values: np.ndarray) -> bool:
    if values.dtype.kind == "U":
        return True
    if values.dtype.kind == "O" and values.size:
        return all(isinstance(v, str) for v in values.ravel())
    return False


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\x00", "\\0")


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append("\x00" if s[i + 1] == "0" else s[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _encode_variable(var: xr.Variable) -> xr.Variable:
    """Re-encode one variable so netCDF/zarr store it exactly (float16 as its bits, NUL-safe strings)."""
    attrs = dict(var.attrs)
    if var.dtype == np.float16:
        attrs[_DTYPE_ATTR] = "float16"
        return xr.Variable(var.dims, var.data.view(np.uint16), attrs, encoding={"_FillValue": None})
    values = var.values if var.dtype.kind in "OU" else None
    if values is not None and var.dtype.kind in "OU" and _is_string_array(values):
        flat = values.ravel().tolist()
        attrs[_DTYPE_ATTR] = str(var.dtype) if var.dtype.kind == "U" else "str"
        if any(("\x00" in s) for s in flat):
            flat = [_escape(s) for s in flat]
            attrs[_ESCAPED_ATTR] = 1
        arr = np.empty(len(flat), dtype=object)
        arr[:] = flat
        return xr.Variable(var.dims, arr.reshape(values.shape), attrs, encoding={"dtype": str})
    if var.dtype.kind in "OU":
        raise DataModelError(
            f"save() can only store numbers and strings; a variable on {var.dims} holds Python objects of type "
            f"{type(values.ravel()[0]).__name__ if values.size else 'unknown'}."
        )
    return xr.Variable(var.dims, var.data, attrs, encoding={"_FillValue": None})


def _decode_variable(var: xr.Variable) -> xr.Variable:
    attrs = dict(var.attrs)
    dtype = attrs.pop(_DTYPE_ATTR, None)
    escaped = attrs.pop(_ESCAPED_ATTR, 0)
    if dtype == "float16":
        return xr.Variable(var.dims, var.data.astype(np.uint16).view(np.float16), attrs)
    if dtype is not None:  # strings (small: token labels), always read eagerly
        values = var.values
        flat = ["" if v is None else str(v) for v in np.asarray(values, dtype=object).ravel().tolist()]
        if escaped:
            flat = [_unescape(s) for s in flat]
        if dtype.startswith("<U") or dtype.startswith(">U"):
            arr = np.array(flat, dtype=dtype) if flat else np.empty(0, dtype=dtype)
        else:
            arr = np.empty(len(flat), dtype=object)
            arr[:] = flat
        return xr.Variable(var.dims, arr.reshape(np.shape(values)), attrs)
    return xr.Variable(var.dims, var.data, attrs)


def _encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """netCDF attrs hold str / numbers / 1-D arrays; other JSON-able values are stored as JSON text."""
    out: dict[str, Any] = {}
    as_json: list[str] = []
    for k, v in attrs.items():
        if not isinstance(k, str):
            raise DataModelError(f"attribute names must be strings, got {k!r}.")
        nul_text = isinstance(v, str) and "\x00" in v  # netCDF attrs are C strings: NUL would truncate them
        if isinstance(v, (bool, np.bool_)) or v is None or isinstance(v, (dict, list, tuple)) or nul_text:
            try:
                out[k] = json.dumps(v.item() if isinstance(v, np.bool_) else v)
            except TypeError as e:
                raise DataModelError(f"attribute {k!r} cannot be saved: {e}.") from None
            as_json.append(k)
        elif isinstance(v, (str, int, float, np.integer, np.floating)):
            out[k] = v
        elif isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in "iuf":
            out[k] = v
        else:
            raise DataModelError(f"attribute {k!r} has type {type(v).__name__}; save() stores str, numbers, "
                                 "1-D numeric arrays and JSON-able lists/dicts/bools/None.")
    if as_json:
        out[_JSON_ATTRS] = json.dumps(as_json)
    return out


def _decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    attrs = dict(attrs)
    names = json.loads(attrs.pop(_JSON_ATTRS, "[]"))
    for k in names:
        v = json.loads(attrs[k])
        attrs[k] = v
    return attrs


def _to_dataset(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
    if isinstance(obj, xr.DataArray):
        ds = obj.to_dataset(name=_DA_VAR)
        ds.attrs = dict(obj.attrs)
        ds.attrs[_KIND_ATTR] = "DataArray"
        if obj.name is not None:
            ds.attrs[_NAME_ATTR] = str(obj.name)
        return ds
    ds = obj.copy()
    ds.attrs = dict(obj.attrs)
    ds.attrs[_KIND_ATTR] = "Dataset"
    return ds


def _encode(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
    ds = _to_dataset(obj)
    for name, idx in ds.indexes.items():
        if isinstance(idx, __import__("pandas").MultiIndex):
            raise DataModelError(f"coord {name!r} is a MultiIndex, which netCDF/zarr cannot store; reset_index() it first.")
    variables = {}
    for name, var in ds.variables.items():
        enc = _encode_variable(var)
        enc.attrs = _encode_attrs(enc.attrs)
        variables[name] = enc
    coord_names = set(ds.coords)
    out = xr.Dataset(
        {k: v for k, v in variables.items() if k not in coord_names},
        coords={k: v for k, v in variables.items() if k in coord_names},
        attrs=_encode_attrs(ds.attrs),
    )
    return out


def _decode(ds: xr.Dataset) -> xr.DataArray | xr.Dataset:
    coord_names = set(ds.coords)
    variables = {}
    for name, var in ds.variables.items():
        var = _decode_variable(var)
        var.attrs = _decode_attrs(var.attrs)
        variables[name] = var
    attrs = _decode_attrs(ds.attrs)
    kind = attrs.pop(_KIND_ATTR, "Dataset")
    name = attrs.pop(_NAME_ATTR, None)
    out = xr.Dataset(
        {k: v for k, v in variables.items() if k not in coord_names},
        coords={k: v for k, v in variables.items() if k in coord_names},
        attrs=attrs,
    )
    if kind == "DataArray":
        da = out[_DA_VAR]
        da.attrs = attrs
        da.name = name
        return da
    return out


Format = Literal["netcdf", "zarr"]


def _one_writer() -> Any:
    """Write dask-backed data with one thread: after a failed chunk, no other thread keeps writing into the
    temporary file while it is being removed."""
    import dask

    return dask.config.set(scheduler="synchronous")


def _format_for(path: Path, format: str | None) -> Format:
    if format is not None:
        if format not in ("netcdf", "zarr"):
            raise DataModelError(f"format must be 'netcdf' or 'zarr', got {format!r}.")
        return format  # type: ignore[return-value]
    return "zarr" if path.suffix == ".zarr" else "netcdf"


def save(
    obj: xr.DataArray | xr.Dataset,
    path: str | os.PathLike,
    format: Format | None = None,
    chunks: Mapping[str, int] | None = None,
    compress: bool = False,
) -> Path:
    """Save a DataArray or Dataset losslessly: netCDF by default, zarr for ``*.zarr`` paths or ``format="zarr"``.

    Token strings (any unicode), NaN, float16 and attrs round-trip exactly through :func:`load`. The file is written
    beside its destination and moved into place only when complete, so a failed save leaves an existing file intact.
    ``chunks`` (zarr only) sets the chunk size per dim, e.g. ``{"layer": 1}``. ``compress=True`` (netCDF only)
    deflates every numeric variable (zlib level 6, with byte shuffling): still lossless, for shipped files.

    >>> import numpy as np, xarray as xr, tempfile, os
    >>> da = xr.DataArray(np.arange(3.0), dims="position", coords={"token": ("position", ["a", "b", "c"])})
    >>> p = save(da, os.path.join(tempfile.mkdtemp(), "x.nc"))
    >>> load(p).identical(da)
    True
    """
    if not isinstance(obj, (xr.DataArray, xr.Dataset)):
        raise DataModelError(f"save() takes an xarray.DataArray or Dataset as obj, got {type(obj).__name__}.")
    path = Path(path)
    fmt = _format_for(path, format)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise DataModelError(f"save(): cannot write {str(path)!r}: the directory {str(parent)!r} does not exist.")
    if not os.access(parent, os.W_OK):
        raise DataModelError(f"save(): cannot write {str(path)!r}: the directory {str(parent)!r} is not writable.")
    if path.is_dir() and fmt == "netcdf":
        raise DataModelError(f"save(): {str(path)!r} is a directory; give a file name ending in .nc.")
    encoded = _encode(obj)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        if fmt == "netcdf":
            target = tmp / path.name
            encoding = {name: {"zlib": True, "complevel": 6, "shuffle": True, "_FillValue": None}
                        for name, var in encoded.variables.items() if var.dtype.kind in "fiub"} if compress else None
            with _one_writer():
                encoded.to_netcdf(target, engine="netcdf4", encoding=encoding)
            os.replace(target, path)
        else:
            if chunks:
                encoded = encoded.chunk(dict(chunks))
            target = tmp / path.name
            with _one_writer():
                encoded.to_zarr(target, mode="w", consolidated=False)
            backup = None
            if path.exists():
                backup = tmp / (path.name + ".old")
                os.replace(path, backup)
            try:
                os.replace(target, path)
            except BaseException:
                if backup is not None:
                    os.replace(backup, path)
                raise
    except DataModelError:
        raise
    except OSError as e:
        raise DataModelError(f"save(): could not write {str(path)!r}: {e.strerror or e}.") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def load(path: str | os.PathLike, lazy: bool = False) -> xr.DataArray | xr.Dataset:
    """Load what :func:`save` wrote, as the same type (DataArray or Dataset) with the same dtypes and attrs.

    netCDF files are read fully into memory and closed. ``lazy=True`` opens a zarr store with dask instead, for data
    bigger than memory.
    """
    path = Path(path)
    if not path.exists():
        raise DataModelError(f"load(): no file or store at {str(path)!r}.")
    fmt = "zarr" if (path.is_dir() or path.suffix == ".zarr") else "netcdf"
    try:
        if fmt == "netcdf":
            ds = xr.load_dataset(path, engine="netcdf4", mask_and_scale=False)
        else:
            ds = xr.open_zarr(path, consolidated=False, mask_and_scale=False, chunks={} if lazy else None)
            if not lazy:
                ds = ds.load()
    except (OSError, ValueError) as e:
        raise DataModelError(f"load(): {str(path)!r} is not a readable {fmt} file: {e}.") from e
    return _decode(ds)


__all__ = [
    "DIMS",
    "DataModelError",
    "provenance",
    "validate_attention",
    "validate_residuals",
    "validate_logit_lens",
    "validate_population",
    "validate_latent",
    "validate_polca",
    "validate_incontext",
    "HEAD_SCORE_TYPES",
    "save",
    "load",
]
