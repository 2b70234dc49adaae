"""Train SAEs from streamed or buffered activations, one at a time or as a resumable grid of Dask tasks.

A grid member is one (architecture, sparsity, seed); it is trained by :func:`train_sae` and written, atomically, to
``out_dir/<key>/`` in SAELens's layout (:mod:`workbench.analyses.sae.saelens_format`). A rerun of :func:`train_grid`
skips every member whose folder is already complete, so an interrupted grid resumes without redoing finished members;
failures are recorded in ``out_dir/failures.json`` and the other members go on.

>>> from workbench.analyses.sae.activations import ActivationBuffer
>>> sae, record = train_sae(ActivationBuffer(torch.randn(256, 4)), "topk", 2, seed=0, d_sae=8, steps=5,
...                         batch_size=64, progress=False)
>>> sae.d_sae, len(record["loss"])
(8, 5)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from workbench.analyses.sae.activations import ActivationBuffer
from workbench.analyses.sae.architectures import SPARSITY_MEANING, SAEError, SparseAutoencoder, check_architecture
from workbench.analyses.sae.saelens_format import is_sae_folder, save_sae


def member_key(architecture: str, sparsity: float, seed: int) -> str:
    """The folder name of a grid member.

    >>> member_key("topk", 4, 1), member_key("relu_l1", 0.003, 0)
    ('topk-k4-seed1', 'relu_l1-l1_0.003-seed0')
    """
    if SPARSITY_MEANING[check_architecture(architecture)] == "k":
        return f"{architecture}-k{int(sparsity)}-seed{int(seed)}"
    return f"{architecture}-l1_{float(sparsity):g}-seed{int(seed)}"


def _batches(source: Any, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    if isinstance(source, ActivationBuffer):
        return source.batches(batch_size, seed)
    if hasattr(source, "__next__"):
        return source
    raise SAEError(f"source must be an ActivationBuffer or an iterator of activation batches (workbench.analyses.sae"
                   f".stream), got {type(source).__name__}.")


def train_sae(source: Any, architecture: str, sparsity: float, *, seed: int = 0, d_sae: int = 256,
              steps: int = 2000, batch_size: int = 512, lr: float = 2e-3, d_in: int | None = None,
              progress: bool = True) -> tuple[SparseAutoencoder, dict[str, Any]]:
    """Train one SAE on activations from ``source`` (an :class:`ActivationBuffer` or a stream of batches).

    ``sparsity`` is the L1 coefficient (``relu_l1``) or ``k`` (``topk``, ``batchtopk``). Activations are divided by
    one scale (root mean squared norm of the first batch) while training; the returned SAE has it folded in and
    takes raw activations. ``d_in``, when given, must equal the activation size. Returns the SAE and a record
    (loss per step, seconds, activations seen, scale).
    """
    check_architecture(architecture)
    it = _batches(source, batch_size, seed)
    first = next(it)
    if first.ndim != 2:
        raise SAEError(f"activation batches must be (tokens, d), got shape {tuple(first.shape)}.")
    d = int(first.shape[1])
    if d_in is not None and d_in != d:
        raise SAEError(f"the SAE's d_in={d_in} is not the activation size {d}.")
    scale = float(first.pow(2).sum(-1).mean().sqrt().clamp_min(1e-8))
    kwargs = {"k": int(sparsity)} if SPARSITY_MEANING[architecture] == "k" else {"l1": float(sparsity)}
    sae = SparseAutoencoder(d, int(d_sae), architecture, seed=seed, **kwargs)
    with torch.no_grad():
        sae.b_dec.copy_((first / scale).mean(0))
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    losses, seen = [], 0
    t0 = time.perf_counter()
    torch.manual_seed(int(seed))
    batch = first
    for step in tqdm(range(int(steps)), desc=f"SAE {architecture}", disable=not progress, leave=False):
        if step:
            batch = next(it)
        x = batch / scale
        loss, f = sae.loss(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        # warm the learning rate down over the last fifth
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, 5.0 * (1 - step / max(1, steps)))
        opt.step()
        sae.normalise_decoder()
        if architecture == "batchtopk":
            sae.update_threshold(f.detach())
        losses.append(loss.item())
        seen += int(x.shape[0])
    seconds = time.perf_counter() - t0
    record = {"loss": losses, "seconds": seconds, "activations": seen, "activations_per_second": seen / seconds,
              "scale": scale, "steps": int(steps), "batch_size": int(batch_size), "lr": lr, "seed": int(seed),
              "architecture": architecture, "sparsity": float(sparsity), "d_sae": int(d_sae)}
    return sae.folded(scale), record


def _train_member(source: Mapping[str, Any], architecture: str, sparsity: float, seed: int, folder: str,
                  settings: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    """One grid member on a Dask worker: load the buffer (or open a stream), train, save atomically."""
    torch.set_num_threads(1)
    if source["kind"] == "buffer":
        src: Any = ActivationBuffer.load(source["path"])
    else:
        import workbench as wb
        from workbench.analyses.sae.activations import stream
        from workbench.analyses.sae.tasks import get_task

        src = stream(wb.load_model(source["model"]), get_task(source["task"]), source["layer"], source["site"],
                     int(settings.get("batch_size", 512)), seed=int(seed))
    sae, record = train_sae(src, architecture, sparsity, seed=seed, progress=False, **dict(settings))
    record.pop("loss")
    save_sae(sae, folder, {**dict(metadata), "training": record, "source": source["kind"]})
    return folder


def train_grid(source: Mapping[str, Any], out_dir: str | os.PathLike, architectures: Sequence[str],
               sparsities: Mapping[str, Sequence[float]], seeds: Sequence[int], *, settings: Mapping[str, Any]
               | None = None, metadata: Mapping[str, Any] | None = None, client: Any = None, workers: int = 1,
               progress: bool = True) -> dict[str, str]:
    """Train every (architecture, sparsity, seed) not yet in ``out_dir`` as a Dask task; return ``{key: status}``.

    ``source`` is ``{"kind": "buffer", "path": <safetensors>}`` or ``{"kind": "stream", "model": <zoo name>,
    "task": ..., "layer": ..., "site": ...}``; ``sparsities`` maps each architecture to its levels; ``settings`` go to
    :func:`train_sae`. Finished members are skipped; failures go to ``out_dir/failures.json``.

    >>> train_grid({"kind": "buffer", "path": "acts.safetensors"}, "out", ["topk"], {"topk": [4]},  # doctest: +SKIP
    ...            [0])
    {'topk-k4-seed0': 'done'}
    """
    from workbench.runner import Task as RTask
    from workbench.runner import run_tasks

    if source.get("kind") not in ("buffer", "stream"):
        raise SAEError(f"source['kind'] must be 'buffer' or 'stream', got {source.get('kind')!r}.")
    if source["kind"] == "buffer" and not Path(source["path"]).is_file():
        raise SAEError(f"the activation buffer {str(source['path'])!r} does not exist.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    failures_path = out / "failures.json"
    failures: dict[str, str] = json.loads(failures_path.read_text()) if failures_path.is_file() else {}
    tasks = []
    for arch in architectures:
        check_architecture(arch)
        if arch not in sparsities or not len(sparsities[arch]):
            raise SAEError(f"sparsities must give levels for architecture {arch!r}, got {dict(sparsities)!r}.")
        for sp in sparsities[arch]:
            for seed in seeds:
                key = member_key(arch, sp, seed)
                tasks.append(RTask(key, _train_member, (dict(source), arch, float(sp), int(seed), str(out / key),
                                                        dict(settings or {}), dict(metadata or {}))))

    def on_failure(key: str, text: str) -> None:
        failures[key] = text
        failures_path.write_text(json.dumps(failures, indent=1))

    def on_success(key: str) -> None:
        if failures.pop(key, None) is not None:
            failures_path.write_text(json.dumps(failures, indent=1))

    return run_tasks(tasks, is_done=lambda k: is_sae_folder(out / k), on_failure=on_failure, on_success=on_success,
                     client=client, workers=workers, progress=progress, desc="SAE grid", what="member")


def grid_members(out_dir: str | os.PathLike) -> list[str]:
    """Keys of the finished members in ``out_dir``, sorted.

    >>> grid_members("data/sae/dyck2")[:2]                                              # doctest: +SKIP
    ['batchtopk-k2-seed0', 'batchtopk-k2-seed1']
    """
    out = Path(out_dir)
    return sorted(p.name for p in out.iterdir() if is_sae_folder(p)) if out.is_dir() else []


__all__ = ["train_sae", "train_grid", "member_key", "grid_members"]
