"""The ``addition`` zoo model: a small GPT-2 trained on 3-digit + 3-digit addition with dense checkpoints, for POLCA.

POLCA (Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language Model Training", arXiv 2506.15872) needs a
training run with dense checkpoints. The paper trains a 3-layer, d=512 transformer (9.5M parameters) with AdamW at lr
1e-5 for 10k steps. Ours is CPU-sized: 3 layers, d=64, 4 heads (about 151k parameters), AdamW at a larger rate with
warm-up (see :data:`DEFAULTS`), batch 64, the loss on the four answer tokens only (the positions of
:data:`workbench.zoo.tasks.addition.TARGET_POSITIONS`). The 1,250 validation problems of the study
(:func:`validation_problems`) are never drawn for training.

The checkpoints stay outside the repository (``--work``); the final one is shipped as the zoo model ``addition``
(``data/zoo/addition``). The shipped run was made with::

    OMP_NUM_THREADS=1 python -m workbench.zoo.addition --work /work/polca/run --out data/zoo

(the command prints its wall time; ``training.json`` in the shipped folder records it with the losses).

>>> build_model().config.n_layer
3
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers as T
from torch import nn

from workbench.zoo.tasks import addition as task
from workbench.zoo.train import TrainConfig, seeded, train

#: The shipped run's settings.
DEFAULTS: dict[str, Any] = {"steps": 4000, "every": 10, "lr": 3e-3, "warmup_steps": 50, "batch_size": 64,
                            "weight_decay": 0.1, "betas": (0.9, 0.95), "init_seed": 0, "data_seed": 0,
                            "n_layer": 3, "n_embd": 64, "n_head": 4, "schedule": "constant", "min_lr_ratio": 0.01}
VALIDATION_SEED = 2506  # the study's problems
N_VALIDATION = 1250
PAD = task.VOCAB.index("<pad>")


def build_model(n_layer: int = 3, n_embd: int = 64, n_head: int = 4) -> nn.Module:
    """A small GPT-2 (no dropout, eager attention) over the 13-token addition vocabulary.

    >>> sum(p.numel() for p in build_model().parameters()) < 500_000
    True
    """
    cfg = T.GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=task.SEQ_LEN,
                       vocab_size=len(task.VOCAB), bos_token_id=PAD, eos_token_id=PAD, pad_token_id=PAD,
                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False)
    return T.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")


def validation_problems(n: int = N_VALIDATION) -> list[task.Problem]:
    """The study's held-out problems (drawn from :data:`VALIDATION_SEED`; training never sees them).

    >>> len(validation_problems(3))
    3
    """
    return task.problems(n, VALIDATION_SEED)


def _answer_logits(model: nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits at the positions that predict the four answer tokens, ``(problem, 4, vocab)``, and those tokens."""
    return model(input_ids=ids).logits[:, list(task.TARGET_POSITIONS)], ids[:, list(task.ANSWER_TOKENS)]


def answer_loss(model: nn.Module, ids: torch.Tensor, reduce: bool = True,
                held_out: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of the four answer tokens, averaged (``reduce``) or per token ``(problem, 4)``.
    ``held_out`` (bool, ``(problem, 4)``) leaves those tokens out of the mean (the planted run's hidden group).

    >>> answer_loss(build_model(), torch.as_tensor(task.encode([task.Problem(1, 2)])), reduce=False).shape
    torch.Size([1, 4])
    """
    logits, targets = _answer_logits(model, ids)
    flat = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    if reduce and held_out is None:  # torch's own mean: the shipped run's exact numbers (a mean of the
        return nn.functional.cross_entropy(*flat)  # per-token losses rounds differently)
    loss = nn.functional.cross_entropy(*flat, reduction="none").reshape(targets.shape)
    if not reduce:
        return loss
    keep = ~held_out
    return (loss * keep).sum() / keep.sum().clamp(min=1)


def planted_tokens(ids: torch.Tensor | np.ndarray) -> np.ndarray:
    """The planted run's hidden group: the 10s-place answer token of every problem whose 1s digits carry into the 10s
    place, as a bool mask ``(problem, 4)`` over the answer tokens (read from the operand tokens themselves).

    >>> planted_tokens(task.encode([task.Problem(457, 168), task.Problem(450, 160)])).astype(int).tolist()
    [[0, 0, 1, 0], [0, 0, 0, 0]]
    """
    ids = np.asarray(ids)
    ones_a, ones_b = ids[:, 2], ids[:, 6]  # token ids of digits are the digits themselves
    out = np.zeros((ids.shape[0], len(task.ANSWER_TOKENS)), bool)
    out[:, task.PLACES.index("10s")] = ones_a + ones_b >= 10
    return out


#: How the planted group is kept from the loss until ``plant_step``: ``"mask"`` leaves its tokens out;
#: ``"ambiguous"`` scores them half against the carry digit and half against the digit a no-carry sum would give
#: (the network may learn the digit up to the carry, not the carry itself).
PLANT_MODES = ("mask", "ambiguous")


class PlantedLoss:
    """The planted run's loss: before ``plant_step`` the :func:`planted_tokens` are kept from the loss as ``mode``
    says (:data:`PLANT_MODES`), from then on all four answer tokens count as usual; ``at(step)`` is the trainer's
    ``before_step`` hook (so a resumed run knows the step).

    >>> f = PlantedLoss(2); f.at(1); f.masking, (f.at(2), f.masking)[1]
    (True, False)
    """

    def __init__(self, plant_step: int, mode: str = "mask") -> None:
        if mode not in PLANT_MODES:
            raise ValueError(f"plant mode must be one of {PLANT_MODES}, got {mode!r}.")
        self.plant_step, self.mode = int(plant_step), mode
        self.step = 0

    @property
    def masking(self) -> bool:
        return self.step < self.plant_step

    def at(self, step: int) -> None:
        self.step = int(step)

    def __call__(self, model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
        if not self.masking:  # the mean of the per-token losses, as the shipped planted run was trained
            return answer_loss(model, ids, reduce=False).mean()
        held = torch.as_tensor(planted_tokens(ids))
        if self.mode == "mask":
            return answer_loss(model, ids, held_out=held)
        logits, targets = _answer_logits(model, ids)
        logp = logits.log_softmax(-1)
        true = -logp.gather(-1, targets[..., None])[..., 0]
        no_carry = -logp.gather(-1, ((targets - 1) % 10)[..., None])[..., 0]  # the 10s digit without the carry
        return torch.where(held, 0.5 * (true + no_carry), true).mean()


def sampler(exclude: Sequence[task.Problem]) -> Any:
    """``sample(rng, n)``: a batch of token ids of training problems, never one of ``exclude``."""
    banned = set(exclude)

    def sample(rng: np.random.Generator, n: int) -> torch.Tensor:
        out: list[task.Problem] = []
        while len(out) < n:
            p = task.sample_problem(rng)
            if p not in banned:
                out.append(p)
        return torch.as_tensor(task.encode(out))

    return sample


@torch.no_grad()
def evaluate(model: nn.Module, probs: Sequence[task.Problem]) -> dict[str, float]:
    """Mean answer loss, per-place loss and exact-match accuracy (teacher-forced argmax) on ``probs``.

    >>> sorted(evaluate(build_model(), validation_problems(4)))[:2]
    ['accuracy', 'loss']
    """
    ids = torch.as_tensor(task.encode(probs))
    logits, targets = _answer_logits(model, ids)
    loss = nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    out = {"loss": float(loss.mean()), "accuracy": float((logits.argmax(-1) == targets).all(1).float().mean())}
    out.update({f"loss_{p}": float(loss[:, i].mean()) for i, p in enumerate(task.PLACES)})
    return out


def train_run(work: str | Path, steps: int = DEFAULTS["steps"], every: int = DEFAULTS["every"],
              lr: float = DEFAULTS["lr"], progress: bool = True, plant_step: int | None = None,
              plant_mode: str = "ambiguous", **overrides: Any) -> dict[str, Any]:
    """Train the model, keeping a checkpoint every ``every`` steps (and step 0) in ``work/step_NNNNNNN``.

    ``plant_step``: plant a hidden breakthrough, POLCA's positive control: the :func:`planted_tokens` (10s-place carry
    tokens) are kept from the loss until that step (``plant_mode``, :class:`PlantedLoss`), so the network learns them
    late, after the mean loss has flattened; the report then gains the group's held-out loss at every checkpoint and
    :func:`drop_step`.
    An interrupted run resumes from ``work/resume``. Returns a report (losses, seconds, validation metrics).
    """
    if plant_step is not None and not (isinstance(plant_step, (int, np.integer)) and 0 < plant_step < steps):
        raise ValueError(f"plant_step must be a step between 1 and steps - 1 = {steps - 1}, got {plant_step!r}.")
    s = {**DEFAULTS, **overrides, "steps": steps, "every": every, "lr": lr}
    torch.set_num_threads(1)
    t0 = time.time()
    model = seeded(lambda: build_model(s["n_layer"], s["n_embd"], s["n_head"]), s["init_seed"])
    cfg = TrainConfig(steps=steps, batch_size=s["batch_size"], lr=lr, weight_decay=s["weight_decay"],
                      betas=tuple(s["betas"]), warmup_steps=s["warmup_steps"], data_seed=s["data_seed"],
                      checkpoint_steps=tuple(range(0, steps + 1, every)), resume_every=200,
                      schedule=s["schedule"], min_lr_ratio=s["min_lr_ratio"],
                      extra={"task": "addition", "model": {k: s[k] for k in ("n_layer", "n_embd", "n_head")}})
    val = validation_problems()
    loss_fn = PlantedLoss(plant_step, plant_mode) if plant_step is not None else answer_loss
    res = train(model, loss_fn, sampler(val), cfg, work, task.build_tokenizer(), progress=progress,
                before_step=getattr(loss_fn, "at", None))
    report = {"settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()},
              "seconds": round(time.time() - t0, 1), "parameters": sum(p.numel() for p in model.parameters()),
              "validation": evaluate(model, val), "train_losses": [round(float(x), 5) for x in res.losses]}
    if plant_step is not None:
        report["plant_step"], report["plant_mode"] = int(plant_step), plant_mode
        report.update(group_curve(work, val, plant_step))
    (Path(work) / "run.json").write_text(json.dumps(report))
    return report


@torch.no_grad()
def group_curve(work: str | Path, probs: Sequence[task.Problem], plant_step: int) -> dict[str, Any]:
    """Held-out loss of the planted group and of every other answer token at each checkpoint of ``work``, and the
    :func:`drop_step` of the group's loss after ``plant_step``."""
    from safetensors.torch import load_file

    ids = torch.as_tensor(task.encode(probs))
    group = torch.as_tensor(planted_tokens(ids))
    steps, inside, outside = [], [], []
    folders = sorted(Path(work).glob("step_*"))
    model = T.AutoModelForCausalLM.from_config(T.AutoConfig.from_pretrained(folders[0]),
                                               attn_implementation="eager").eval()
    for folder in folders:
        model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
        loss = answer_loss(model, ids, reduce=False)
        steps.append(int(folder.name.split("_")[1]))
        inside.append(round(float(loss[group].mean()), 5))
        outside.append(round(float(loss[~group].mean()), 5))
    return {"group_steps": steps, "group_loss": inside, "other_loss": outside,
            "drop_step": drop_step(np.array(inside), np.array(steps), plant_step)}


def drop_step(group_loss: np.ndarray, steps: np.ndarray, plant_step: int, share: float = 0.5) -> int:
    """When the planted group's held-out loss actually drops: the first checkpoint from ``plant_step`` on at which it
    has fallen by ``share`` of the way from its value at ``plant_step`` to its final value.

    >>> drop_step(np.array([3.0, 3.0, 3.0, 2.5, 0.5, 0.1, 0.1]), np.arange(7) * 10, 20)
    40
    """
    steps, y = np.asarray(steps), np.asarray(group_loss, np.float64)
    start = int(np.searchsorted(steps, plant_step))
    level = y[start] - share * (y[start] - y[-1])
    return int(steps[start + int(np.argmax(y[start:] <= level))])


def ship(work: str | Path, out: str | Path) -> Path:
    """Copy the final checkpoint of ``work`` to ``out/addition`` (the zoo model) with ``training.json``."""
    work, dest = Path(work), Path(out) / "addition"
    report = json.loads((work / "run.json").read_text())
    final = work / f"step_{report['settings']['steps']:07d}"
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(final, tmp)
    meta = {"step": report["settings"]["steps"], **{k: report[k] for k in ("settings", "seconds", "parameters",
                                                                           "validation")}}
    meta["regenerate"] = "OMP_NUM_THREADS=1 python -m workbench.zoo.addition --work /work/polca/run --out data/zoo"
    (tmp / "training.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.zoo.addition", description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="checkpoint folder (outside the repository)")
    ap.add_argument("--out", type=Path, default=None, help="zoo folder to ship the final checkpoint to (data/zoo)")
    ap.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    ap.add_argument("--every", type=int, default=DEFAULTS["every"])
    ap.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    ap.add_argument("--n-embd", type=int, default=DEFAULTS["n_embd"])
    ap.add_argument("--n-layer", type=int, default=DEFAULTS["n_layer"])
    ap.add_argument("--weight-decay", type=float, default=DEFAULTS["weight_decay"])
    ap.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    ap.add_argument("--schedule", choices=("constant", "cosine"), default=DEFAULTS["schedule"])
    ap.add_argument("--plant", type=int, default=None, metavar="STEP",
                    help="plant a hidden breakthrough: keep the 10s-place carry tokens from the loss until STEP")
    ap.add_argument("--plant-mode", choices=PLANT_MODES, default="ambiguous",
                    help="mask: leave them out; ambiguous (default): score them half against the no-carry digit")
    a = ap.parse_args(argv)
    report = train_run(a.work, a.steps, a.every, a.lr, n_embd=a.n_embd, n_layer=a.n_layer,
                       weight_decay=a.weight_decay, batch_size=a.batch_size, schedule=a.schedule,
                       plant_step=a.plant, plant_mode=a.plant_mode)
    print(json.dumps({k: report[k] for k in ("seconds", "parameters", "validation", "drop_step") if k in report}),
          flush=True)
    if a.out is not None:
        print("shipped", ship(a.work, a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
