"""One training loop for the whole zoo: seeded, checkpointed as safetensors, resumable, with progress.

Every zoo model is a HuggingFace architecture (``save_pretrained`` folders), so a checkpoint loads through
``workbench.load_model`` like any other model and every analysis and widget works on it.

Two seeds are kept apart, as the population studies need: ``init_seed`` fixes the initial weights (use
:func:`seeded`), ``data_seed`` fixes the order and content of the training batches (a numpy ``Generator`` handed to
``sample_batch``). An interrupted run (Ctrl-C, a killed worker) resumes from its last resume point with the same
batches it would have seen, because the generator's state is saved with the optimizer's (as JSON and safetensors:
nothing is pickled).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn
from tqdm.auto import tqdm

Batch = Any
LossFn = Callable[[nn.Module, Batch], torch.Tensor]
SampleFn = Callable[[np.random.Generator, int], Batch]


@dataclass
class TrainConfig:
    """Optimisation settings of one run (AdamW with linear warm-up, then constant, or a cosine decay to
    ``min_lr_ratio * lr`` at the last step with ``schedule="cosine"``)."""

    steps: int
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    data_seed: int = 0
    checkpoint_steps: tuple[int, ...] = ()  # steps whose weights are kept as checkpoints (the last always is)
    resume_every: int = 200  # how often the resume point is refreshed
    schedule: str = "constant"  # after warm-up: "constant" or "cosine"
    min_lr_ratio: float = 0.0  # cosine: the rate at the last step, as a share of lr
    extra: dict[str, Any] = field(default_factory=dict)  # anything the caller wants recorded beside the config

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}.")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}.")
        bad = [s for s in self.checkpoint_steps if not 0 <= s <= self.steps]
        if bad:
            raise ValueError(f"checkpoint_steps must lie in 0..steps={self.steps}, got {bad}.")


@dataclass
class TrainResult:
    out_dir: Path
    steps_done: int
    losses: np.ndarray  # loss at every step of this run (resumed runs include the earlier steps)
    checkpoints: dict[int, Path]

    @property
    def final(self) -> Path:
        return self.checkpoints[max(self.checkpoints)]


def seeded(build: Callable[[], nn.Module], init_seed: int) -> nn.Module:
    """Build a model with its initial weights fixed by ``init_seed`` alone."""
    state = torch.random.get_rng_state()
    torch.manual_seed(init_seed)
    try:
        return build()
    finally:
        torch.random.set_rng_state(state)


def checkpoint_dir(out_dir: str | os.PathLike, step: int) -> Path:
    return Path(out_dir) / f"step_{step:07d}"


def atomic_dir(final: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` fills a fresh folder beside ``final``, which then replaces ``final``: a crash never leaves a
    half-written checkpoint, SAE or zoo model, and a failed write leaves the old ``final`` as it was."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        write(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_checkpoint(model: nn.Module, out_dir: str | os.PathLike, step: int, tokenizer: Any = None,
                    meta: Mapping[str, Any] | None = None) -> Path:
    """Save weights (safetensors) + config (+ tokenizer) as a HuggingFace folder ``out_dir/step_NNNNNNN``."""
    final = checkpoint_dir(out_dir, step)

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        (tmp / "training.json").write_text(json.dumps({"step": step, **(meta or {})}, indent=1, default=str))

    atomic_dir(final, write)
    return final


def _optimizer_tensors(opt: torch.optim.Optimizer, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    names = {id(p): n for n, p in model.named_parameters()}
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p, {})
            for key, value in st.items():
                if torch.is_tensor(value) and value.ndim > 0:
                    tensors[f"{names[id(p)]}::{key}"] = value.detach().contiguous().clone()
                else:
                    scalars[f"{names[id(p)]}::{key}"] = float(value)
    return tensors, scalars


def _restore_optimizer(opt: torch.optim.Optimizer, model: nn.Module, tensors: dict, scalars: dict) -> None:
    params = dict(model.named_parameters())
    for key, value in tensors.items():
        name, slot = key.split("::")
        opt.state[params[name]][slot] = value
    for key, value in scalars.items():
        name, slot = key.split("::")
        opt.state[params[name]][slot] = torch.tensor(value)


def _save_resume(out_dir: Path, model: nn.Module, opt: torch.optim.Optimizer, rng: np.random.Generator,
                 step: int, losses: list[float], config: TrainConfig) -> None:
    def write(tmp: Path) -> None:
        save_model(model, str(tmp / "model.safetensors"))  # handles tied weights (embedding = LM head)
        tensors, scalars = _optimizer_tensors(opt, model)
        tensors["__torch_rng_state__"] = torch.random.get_rng_state()  # dropout draws from it
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        state = {"step": step, "rng": rng.bit_generator.state, "optimizer_scalars": scalars,
                 "losses": losses, "config": asdict(config)}
        (tmp / "state.json").write_text(json.dumps(state, default=str))

    atomic_dir(out_dir / "resume", write)


def _lr_factor(step: int, warmup: int, schedule: str = "constant", steps: int = 1, min_ratio: float = 0.0) -> float:
    """Multiplier of the base rate at ``step``: linear warm-up, then constant or a cosine decay.

    >>> _lr_factor(0, 10), _lr_factor(50, 10), round(_lr_factor(99, 0, "cosine", 100, 0.1), 3)
    (0.1, 1.0, 0.1)
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "cosine":
        t = (step - warmup) / max(1, steps - 1 - warmup)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return 1.0


def train(
    model: nn.Module,
    loss_fn: LossFn,
    sample_batch: SampleFn,
    config: TrainConfig,
    out_dir: str | os.PathLike,
    tokenizer: Any = None,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    before_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train ``model`` for ``config.steps`` steps, keeping the checkpoints at ``config.checkpoint_steps``.

    ``sample_batch(rng, batch_size)`` draws a batch from the data generator, ``loss_fn(model, batch)`` returns the
    scalar loss. If ``out_dir/resume`` exists (an interrupted run), training continues from it. The final weights are
    always saved as a checkpoint. Ctrl-C stops at the end of the current step and leaves a resume point; a killed
    process resumes from the last periodic one (every ``config.resume_every`` steps). Returns the losses and
    checkpoint folders. ``before_step(step)`` runs before each step (0-based, resumed runs included), for losses that
    change along training.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=config.betas)
    rng = np.random.default_rng(config.data_seed)
    losses: list[float] = []
    start = 0
    resume = out_dir / "resume"
    if (resume / "state.json").is_file():
        state = json.loads((resume / "state.json").read_text())
        load_model(model, str(resume / "model.safetensors"))
        tensors = load_file(str(resume / "optimizer.safetensors"))
        torch_rng = tensors.pop("__torch_rng_state__")
        _restore_optimizer(opt, model, tensors, state["optimizer_scalars"])
        rng.bit_generator.state = state["rng"]
        start, losses = int(state["step"]), list(state["losses"])
    keep = set(config.checkpoint_steps) | {config.steps}
    checkpoints = {s: checkpoint_dir(out_dir, s) for s in sorted(keep) if checkpoint_dir(out_dir, s).is_dir()}
    meta = {"config": asdict(config)}
    if 0 in keep and 0 not in checkpoints and start == 0:
        checkpoints[0] = save_checkpoint(model, out_dir, 0, tokenizer, meta)

    model.train()
    rng_context = torch.random.fork_rng()  # dropout's RNG is seeded by data_seed; the caller's is left untouched
    rng_context.__enter__()
    torch.manual_seed(config.data_seed)
    if start:
        torch.random.set_rng_state(torch_rng)
    bar = tqdm(total=config.steps, initial=start, desc=f"train {out_dir.name}", disable=not progress, leave=False)
    interrupted = []
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C (or a Jupyter interrupt) is deferred to the end of the current step, so the resume point is a
        # consistent (weights, optimizer, data generator) triple and resuming replays exactly the same batches.
        previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        for step in range(start, config.steps):
            for group in opt.param_groups:
                group["lr"] = config.lr * _lr_factor(step, config.warmup_steps, config.schedule, config.steps,
                                                     config.min_lr_ratio)
            if before_step is not None:
                before_step(step)
            loss = loss_fn(model, sample_batch(rng, config.batch_size))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            value = float(loss.detach())
            losses.append(value)
            if on_step is not None:
                on_step(step + 1, value)
            done = step + 1
            if done in keep:
                model.eval()
                checkpoints[done] = save_checkpoint(model, out_dir, done, tokenizer, {**meta, "loss": value})
                model.train()
            if interrupted and done < config.steps:
                _save_resume(out_dir, model, opt, rng, done, losses, config)
                raise KeyboardInterrupt(f"training interrupted after step {done}; call train() again with the same "
                                        f"out_dir to resume from {out_dir / 'resume'}")
            if done % config.resume_every == 0 and done < config.steps:
                _save_resume(out_dir, model, opt, rng, done, losses, config)
            bar.update()
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
        bar.close()
        model.eval()
        rng_context.__exit__(None, None, None)
    shutil.rmtree(resume, ignore_errors=True)
    return TrainResult(out_dir=out_dir, steps_done=len(losses), losses=np.asarray(losses), checkpoints=checkpoints)


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mean_loss(losses: Iterable[float], last: int = 50) -> float:
    arr = np.asarray(list(losses), dtype=float)
    return float(arr[-last:].mean()) if arr.size else float("nan")
