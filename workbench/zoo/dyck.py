"""The Dyck classifier of the population study: a tiny GPT-2 read out at ``[end]``, its tokenizer, and one training run.

Li, Kaufmann, Wattenberg, Alvarez-Melis & Saphra (2025), "Can Interpretation Predict Behavior on Unseen Data?"
(arXiv 2507.06445) train minGPT classifiers (d=64, no dropout) and classify from the first two logits at ``[end]``. We
use a HuggingFace GPT-2 config of the same shape so every workbench analysis and widget works on the checkpoints
(``workbench.load_model(folder)``), and a word-level tokenizer saved in the folder so ``workbench.attention(model,
"[start](())[end]")`` just works.

Vocabulary (token ids): 0 ``False``, 1 ``True``, 2 ``(``, 3 ``)``, 4 ``[start]``, 5 ``[end]``, 6 ``[pad]``, 7 ``[unk]``.
The class is read from logits 0 and 1 at ``[end]``: predicted TRUE (nested) when ``logit[1] > logit[0]``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.zoo.tasks import dyck as task
from workbench.zoo.train import TrainConfig, seeded, train

VOCAB: dict[str, int] = {"False": 0, "True": 1, "(": 2, ")": 3, "[start]": 4, "[end]": 5, "[pad]": 6, "[unk]": 7}
FALSE_ID, TRUE_ID, PAD_ID = 0, 1, 6
N_POSITIONS = 48
D_MODEL = 64


def make_tokenizer() -> Any:
    """A word-level HF tokenizer over the Dyck vocabulary (no spaces needed: ``[start](())[end]``).

    >>> make_tokenizer()("[start]()[end]")["input_ids"]
    [4, 2, 3, 5]
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab=dict(VOCAB), unk_token="[unk]"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"\[start\]|\[end\]|\[pad\]|\[unk\]|True|False|\(|\)|\s+|."),
                                            behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[pad]", unk_token="[unk]")


def make_config(n_layers: int, n_heads: int) -> Any:
    """GPT-2 config: d=64, MLP 4d, no dropout, 48 positions, untied read-out.

    >>> make_config(2, 4).n_embd
    64
    """
    from transformers import GPT2Config

    for name, v in (("n_layers", n_layers), ("n_heads", n_heads)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}.")
    if D_MODEL % n_heads:
        raise ValueError(f"n_heads must divide d_model={D_MODEL}, got n_heads={n_heads}.")
    return GPT2Config(vocab_size=len(VOCAB), n_positions=N_POSITIONS, n_embd=D_MODEL, n_layer=int(n_layers),
                      n_head=int(n_heads), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                      tie_word_embeddings=False, pad_token_id=PAD_ID, bos_token_id=VOCAB["[start]"],
                      eos_token_id=VOCAB["[end]"])


def build_model(n_layers: int, n_heads: int, init_seed: int = 0) -> nn.Module:
    """A freshly initialised classifier (eager attention), weights fixed by ``init_seed``.

    >>> sum(p.numel() for p in build_model(1, 2).parameters()) > 0
    True
    """
    from transformers import AutoModelForCausalLM

    cfg = make_config(n_layers, n_heads)
    return seeded(lambda: AutoModelForCausalLM.from_config(cfg, attn_implementation="eager"), init_seed)


def class_logits(model: nn.Module, ids: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """The (FALSE, TRUE) logits at each string's ``[end]``: shape (batch, 2)."""
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits  # right padding: causal suffices
    return logits[torch.arange(ids.shape[0]), end, :2]


@torch.no_grad()
def predict(model: nn.Module, strings: list[str] | tuple[str, ...], batch_size: int = 512) -> np.ndarray:
    """Predicted labels (1 = nested) for bracket strings, plain torch (no tracing), right-padded batches.

    >>> predict(build_model(1, 2), ["()"]).shape
    (1,)
    """
    model.eval()
    out = []
    for i in range(0, len(strings), batch_size):
        ids, end = task.encode(strings[i: i + batch_size], VOCAB, PAD_ID)
        out.append(class_logits(model, torch.from_numpy(ids), torch.from_numpy(end)).argmax(-1).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy(model: nn.Module, data: task.DyckSet) -> float:
    """Fraction of ``data`` classified correctly.

    >>> 0.0 <= accuracy(build_model(1, 2), task.ood_set(0, 4)) <= 1.0
    True
    """
    return float((predict(model, data.strings) == data.labels).mean())


class TrainPool:
    """A fixed training set drawn from ``data_seed`` (as the paper trains for passes over 200K strings), pre-encoded;
    ``sample(rng, batch_size)`` draws a batch of it."""

    def __init__(self, data_seed: int, size: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([int(data_seed), 7]))
        data = task.id_set(rng, size, kind="train")
        self.ids, self.end = task.encode(data.strings, VOCAB, PAD_ID)
        self.labels = data.labels

    def sample(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = rng.integers(0, len(self.labels), size=batch_size)
        end = self.end[idx]
        ids = self.ids[idx, : int(end.max()) + 1]
        return torch.from_numpy(ids), torch.from_numpy(end), torch.from_numpy(self.labels[idx])


def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the (FALSE, TRUE) logits at ``[end]``."""
    ids, end, labels = batch
    return nn.functional.cross_entropy(class_logits(model, ids, end), labels)


@dataclass
class MemberResult:
    """One trained member: where its final checkpoint is, its accuracies and its training record."""

    checkpoint: Path
    id_accuracy: float
    ood_accuracy: float
    final_loss: float
    seconds: float


def eval_sets(size: int = 400, seed: int = 12345) -> tuple[task.DyckSet, task.DyckSet]:
    """The shared ID test set and OOD set (the same for every member, so accuracies are comparable).

    >>> i, o = eval_sets(10); len(i), len(o)
    (10, 10)
    """
    return task.id_set(np.random.default_rng([seed, 1]), size), task.ood_set(np.random.default_rng([seed, 2]), size)


def train_member(n_layers: int, n_heads: int, weight_decay: float, init_seed: int, data_seed: int, steps: int,
                 out_dir: str | os.PathLike, *, lr: float = 1e-3, batch_size: int = 64, train_size: int = 50_000,
                 eval_size: int = 400, progress: bool = False) -> MemberResult:
    """Train one Dyck classifier with the zoo loop and evaluate it on the ID test and OOD sets.

    The final checkpoint is the HuggingFace folder ``out_dir/step_<steps>`` (with tokenizer), loadable by
    ``workbench.load_model``. Re-running with the same ``out_dir`` resumes an interrupted run.

    >>> r = train_member(1, 2, 0.0, 0, 0, 5, "/tmp/dyck-doctest", train_size=200, eval_size=10)   # doctest: +SKIP
    >>> 0 <= r.ood_accuracy <= 1                                                                  # doctest: +SKIP
    True
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}.")
    t0 = time.perf_counter()
    model = build_model(n_layers, n_heads, init_seed)
    pool = TrainPool(data_seed, train_size)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay, data_seed=data_seed,
                      warmup_steps=min(100, steps // 10), resume_every=max(100, steps // 4),
                      extra={"task": "dyck", "n_layers": n_layers, "n_heads": n_heads, "init_seed": init_seed,
                             "train_size": train_size})
    res = train(model, loss_fn, pool.sample, cfg, out_dir, tokenizer=make_tokenizer(), progress=progress)
    id_data, ood_data = eval_sets(eval_size)
    out = MemberResult(res.final, accuracy(model, id_data), accuracy(model, ood_data),
                       float(np.mean(res.losses[-50:])), time.perf_counter() - t0)
    (Path(out_dir) / "result.json").write_text(json.dumps({**out.__dict__, "checkpoint": str(out.checkpoint)}))
    return out
