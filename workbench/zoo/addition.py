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


def answer_loss(model: nn.Module, ids: torch.Tensor, reduce: bool = True) -> torch.Tensor:
    """Cross-entropy of the four answer tokens, averaged (``reduce``) or per token ``(problem, 4)``.

    >>> answer_loss(build_model(), torch.as_tensor(task.encode([task.Problem(1, 2)])), reduce=False).shape
    torch.Size([1, 4])
    """
    logits = model(input_ids=ids).logits[:, list(task.TARGET_POSITIONS)]
    targets = ids[:, list(task.ANSWER_TOKENS)]
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                       reduction="mean" if reduce else "none")
    return loss if reduce else loss.reshape(targets.shape)


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
    logits = model(input_ids=ids).logits[:, list(task.TARGET_POSITIONS)]
    targets = ids[:, list(task.ANSWER_TOKENS)]
    loss = nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    out = {"loss": float(loss.mean()), "accuracy": float((logits.argmax(-1) == targets).all(1).float().mean())}
    out.update({f"loss_{p}": float(loss[:, i].mean()) for i, p in enumerate(task.PLACES)})
    return out


def train_run(work: str | Path, steps: int = DEFAULTS["steps"], every: int = DEFAULTS["every"],
              lr: float = DEFAULTS["lr"], progress: bool = True, **overrides: Any) -> dict[str, Any]:
    """Train the model, keeping a checkpoint every ``every`` steps (and step 0) in ``work/step_NNNNNNN``.

    An interrupted run resumes from ``work/resume``. Returns a report (losses, seconds, validation metrics).
    """
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
    res = train(model, lambda m, ids: answer_loss(m, ids), sampler(val), cfg, work, task.build_tokenizer(),
                progress=progress)
    report = {"settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()},
              "seconds": round(time.time() - t0, 1), "parameters": sum(p.numel() for p in model.parameters()),
              "validation": evaluate(model, val), "train_losses": [round(float(x), 5) for x in res.losses]}
    (Path(work) / "run.json").write_text(json.dumps(report))
    return report


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
    a = ap.parse_args(argv)
    report = train_run(a.work, a.steps, a.every, a.lr, n_embd=a.n_embd, n_layer=a.n_layer,
                       weight_decay=a.weight_decay, batch_size=a.batch_size, schedule=a.schedule)
    print(json.dumps({k: report[k] for k in ("seconds", "parameters", "validation")}), flush=True)
    if a.out is not None:
        print("shipped", ship(a.work, a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
