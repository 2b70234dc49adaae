"""Save and load SAEs in SAELens's on-disk layout: a folder with ``cfg.json`` and ``sae_weights.safetensors``.

The layout (checked against sae-lens 6.54 itself, see ``tests/test_sae_saelens.py``): ``cfg.json`` holds ``d_in``,
``d_sae``, ``architecture`` (``standard``, ``topk`` with ``k``, or ``jumprelu``), ``apply_b_dec_to_input``,
``normalize_activations``, ``dtype``, ``device`` and a ``metadata`` object (SAELens puts ``hook_name`` and
``model_name`` there); the weights are ``W_enc`` (d_in, d_sae), ``W_dec`` (d_sae, d_in), ``b_enc``, ``b_dec`` and, for
``jumprelu``, ``threshold`` (d_sae). This module writes that layout itself rather than depending on sae-lens (which
would add about fifty packages to the environment); ``SAE.load_from_disk`` in sae-lens reads what it writes, and
:func:`load_sae` reads folders sae-lens writes. A BatchTopK SAE is saved as SAELens does it: ``jumprelu`` with its
threshold, ``metadata.training_architecture = "batchtopk"``. The workbench's own facts (activation site, training
record) live under ``metadata.workbench``.

>>> import tempfile
>>> from workbench.analyses.sae.architectures import SparseAutoencoder
>>> folder = save_sae(SparseAutoencoder(4, 8, "topk", k=2), tempfile.mkdtemp() + "/sae")
>>> load_sae(folder).architecture
'topk'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from workbench.analyses.sae.architectures import SAEError, SparseAutoencoder
from workbench.zoo.train import atomic_dir

CFG, WEIGHTS = "cfg.json", "sae_weights.safetensors"
_ON_DISK = {"relu_l1": "standard", "topk": "topk", "batchtopk": "jumprelu"}


def save_sae(sae: SparseAutoencoder, folder: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``sae`` to ``folder`` in SAELens's layout, atomically (a half-written folder never appears).

    ``metadata`` (JSON-able: hook name, model, layer, site, training record) goes to ``cfg.json``'s ``metadata``.

    >>> import tempfile
    >>> folder = save_sae(SparseAutoencoder(4, 8, "topk", k=2), Path(tempfile.mkdtemp()) / "sae")
    >>> read_cfg(folder)["architecture"], load_sae(folder, d_in=4).k, is_sae_folder(folder)
    ('topk', 2, True)
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {})
    cfg: dict[str, Any] = {"d_in": sae.d_in, "d_sae": sae.d_sae, "dtype": "float32", "device": "cpu",
                           "apply_b_dec_to_input": True, "normalize_activations": "none",
                           "reshape_activations": "none", "architecture": _ON_DISK[sae.architecture]}
    if sae.architecture == "topk":
        cfg["k"] = sae.k
        cfg["rescale_acts_by_decoder_norm"] = False
    md: dict[str, Any] = {"hook_name": str(meta.pop("hook_name", "")), "model_name": str(meta.pop("model_name", ""))}
    if sae.architecture == "batchtopk":
        md["training_architecture"] = "batchtopk"
        md["training_architecture_details"] = {"k": sae.k}
    md["workbench"] = {"architecture": sae.architecture, "k": sae.k, "l1": sae.l1, **meta}
    cfg["metadata"] = md
    weights = {"W_enc": sae.W_enc, "W_dec": sae.W_dec, "b_enc": sae.b_enc, "b_dec": sae.b_dec}
    if sae.architecture == "batchtopk":
        weights["threshold"] = sae.threshold

    def write(tmp: Path) -> None:
        save_file({k: v.detach().to(torch.float32).contiguous().clone() for k, v in weights.items()}, tmp / WEIGHTS)
        (tmp / CFG).write_text(json.dumps(cfg, indent=1))

    atomic_dir(folder, write)
    return folder


def read_cfg(folder: str | os.PathLike) -> dict[str, Any]:
    """``cfg.json`` of an SAE folder, with one-sentence errors for a missing, corrupt or foreign one.

    >>> read_cfg("/nonexistent/sae")
    Traceback (most recent call last):
    ...
    workbench.analyses.sae.architectures.SAEError: SAE folder '/nonexistent/sae' does not exist or is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SAEError(f"SAE folder {str(folder)!r} does not exist or is not a directory.")
    path = folder / CFG
    if not path.is_file():
        raise SAEError(f"{str(folder)!r} is not an SAELens SAE folder: it has no {CFG}.")
    try:
        cfg = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise SAEError(f"{str(path)!r} is corrupt: not valid JSON ({e}).") from None
    if not isinstance(cfg, dict) or not all(k in cfg for k in ("d_in", "d_sae", "architecture")):
        got = sorted(cfg)[:8] if isinstance(cfg, dict) else type(cfg).__name__
        raise SAEError(f"{str(path)!r} is not an SAELens config: it needs d_in, d_sae and architecture, got {got}.")
    return cfg


def load_sae(folder: str | os.PathLike, d_in: int | None = None) -> SparseAutoencoder:
    """Load an SAE folder in SAELens's layout (written here or by sae-lens). ``d_in``, when given, must match the
    SAE's input size (the activation size it will be applied to).

    Foreign architectures (gated, matryoshka, transcoders) and corrupt weights give one-sentence errors.

    >>> sae = load_sae("data/sae/dyck2/topk-k2-seed0", d_in=64)                        # doctest: +SKIP
    >>> sae.architecture, sae.d_sae                                                   # doctest: +SKIP
    ('topk', 128)
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg = read_cfg(folder)
    arch_disk = cfg["architecture"]
    md = cfg.get("metadata") or {}
    if arch_disk == "standard":
        arch = "relu_l1"
    elif arch_disk == "topk":
        arch = "topk"
    elif arch_disk == "jumprelu":
        arch = "batchtopk"
    else:
        raise SAEError(f"{str(folder)!r} holds a {arch_disk!r} SAE; only 'standard', 'topk' and 'jumprelu' load here.")
    for key in ("apply_b_dec_to_input",):
        if cfg.get(key, True) is not True:
            raise SAEError(f"{str(folder)!r} has {key}={cfg.get(key)!r}; only SAEs that subtract b_dec load here.")
    if cfg.get("normalize_activations", "none") not in ("none", None):
        raise SAEError(f"{str(folder)!r} normalizes activations ({cfg['normalize_activations']!r}); only 'none' "
                       "loads here.")
    if cfg.get("rescale_acts_by_decoder_norm"):
        raise SAEError(f"{str(folder)!r} has rescale_acts_by_decoder_norm=true, which this loader does not apply.")
    d, n = cfg["d_in"], cfg["d_sae"]
    if not all(isinstance(v, int) and v > 0 for v in (d, n)):
        raise SAEError(f"{str(folder / CFG)!r} has d_in={d!r}, d_sae={n!r}; both must be positive ints.")
    if d_in is not None and d != d_in:
        raise SAEError(f"the SAE in {str(folder)!r} takes inputs of size d_in={d}, but the activations have size "
                       f"{d_in}.")
    path = folder / WEIGHTS
    if not path.is_file():
        raise SAEError(f"{str(folder)!r} has {CFG} but no {WEIGHTS}.")
    try:
        w = load_file(path)
    except (SafetensorError, OSError, ValueError) as e:
        raise SAEError(f"{str(path)!r} is corrupt: safetensors could not read it ({e}).") from None
    shapes = {"W_enc": (d, n), "W_dec": (n, d), "b_enc": (n,), "b_dec": (d,)}
    if arch_disk == "jumprelu":
        shapes["threshold"] = (n,)
    for key, shape in shapes.items():
        if key not in w:
            raise SAEError(f"{str(path)!r} lacks the weight {key!r} that a {arch_disk!r} SAE needs.")
        if tuple(w[key].shape) != shape:
            raise SAEError(f"{str(path)!r}: {key} has shape {tuple(w[key].shape)}, expected {shape} from cfg.json.")
    own = md.get("workbench") or {}
    k = int(cfg.get("k", own.get("k", 0)) or 0)
    if arch == "topk" and not 1 <= k <= n:
        raise SAEError(f"{str(folder / CFG)!r} is a topk SAE with k={cfg.get('k')!r}; k must be in 1..{n}.")
    sae = SparseAutoencoder(d, n, arch, k=k if arch == "topk" else max(1, k) if arch == "batchtopk" else 0,
                            l1=float(own.get("l1", 0.0)))
    with torch.no_grad():
        for key in ("W_enc", "W_dec", "b_enc", "b_dec"):
            getattr(sae, key).copy_(w[key].to(torch.float32))
        if "threshold" in w:
            sae.threshold.copy_(w["threshold"].to(torch.float32))
    sae.metadata = md  # type: ignore[attr-defined]
    return sae


def is_sae_folder(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a loadable SAE (used by the grid to skip finished members).

    >>> is_sae_folder("/nonexistent/sae")
    False
    """
    try:
        read_cfg(folder)
    except SAEError:
        return False
    return (Path(folder) / WEIGHTS).is_file()


__all__ = ["save_sae", "load_sae", "read_cfg", "is_sae_folder", "CFG", "WEIGHTS"]
