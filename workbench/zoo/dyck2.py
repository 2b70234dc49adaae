"""The ``dyck2`` zoo model: a tiny GPT-2 that tells Dyck-2 words (``()`` and ``[]``) from near misses, read out at
``[end]``, for the sparse-autoencoder study.

The formal-language SAE paper ("Analyzing (In)Abilities of SAEs via Formal Languages") trains SAEs on a Dyck-2 model;
this is ours, CPU-sized and built like the Dyck-1 classifiers of :mod:`workbench.zoo.dyck`: a HuggingFace GPT-2
(d=64, MLP 4d, no dropout, untied read-out) with a word-level tokenizer saved in the folder, so
``workbench.load_model("dyck2")`` and every analysis work on it. The task, its near-miss negatives and the
per-character labels (depth, top-of-stack type, violation) are in :mod:`workbench.zoo.tasks.dyck2`.

Vocabulary (token ids): 0 ``False``, 1 ``True``, 2 ``(``, 3 ``)``, 4 ``[``, 5 ``]``, 6 ``[start]``, 7 ``[end]``,
8 ``[pad]``, 9 ``[unk]``. Predicted TRUE (a Dyck-2 word) when ``logit[1] > logit[0]`` at ``[end]``; :func:`output` is
that difference.

Two zoo models are trained here, the same network with two objectives (:data:`OBJECTIVES`):

* ``dyck2``: only the answer at ``[end]`` (:func:`loss_fn`);
* ``dyck2-lm`` (``--lm``): that answer plus next-token cross-entropy over the Dyck-2 words (:func:`lm_loss_fn`), as
  the formal-language SAE paper's language models are trained; predicting the next bracket needs the top of the
  stack at every position, which the answer alone does not.

The shipped models were trained with::

    nice -n 10 env OMP_NUM_THREADS=1 python -m workbench.zoo.dyck2 --out data/zoo
    nice -n 10 env OMP_NUM_THREADS=1 python -m workbench.zoo.dyck2 --lm --out data/zoo

(``training.json`` in ``data/zoo/<name>`` records the settings, the objective, the wall time and the held-out
accuracy.)

>>> make_tokenizer()("[start]([])[end]")["input_ids"]
[6, 2, 4, 5, 3, 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.zoo.tasks import dyck2 as task
from workbench.zoo.train import TrainConfig, atomic_dir, seeded, train

VOCAB: dict[str, int] = {"False": 0, "True": 1, "(": 2, ")": 3, "[": 4, "]": 5, "[start]": 6, "[end]": 7,
                         "[pad]": 8, "[unk]": 9}
TOKENS: tuple[str, ...] = tuple(VOCAB)
FALSE_ID, TRUE_ID, END_ID, PAD_ID = 0, 1, 7, 8
N_POSITIONS = 32
D_MODEL = 64
NAME = "dyck2"
#: The shipped run's settings.
DEFAULTS: dict[str, Any] = {"n_layer": 2, "n_head": 4, "steps": 3000, "batch_size": 64, "lr": 3e-3,
                            "warmup_steps": 100, "weight_decay": 0.01, "schedule": "cosine", "min_lr_ratio": 0.05,
                            "init_seed": 0, "data_seed": 0}
EVAL_SEED, EVAL_SIZE = 2028, 3000  # the held-out set of training.json (fresh draws; never the training generator's)
REGENERATE = "nice -n 10 env OMP_NUM_THREADS=1 python -m workbench.zoo.dyck2 --out data/zoo"


def make_tokenizer() -> Any:
    """A word-level HF tokenizer over the Dyck-2 vocabulary (no spaces needed: ``[start]([])[end]``).

    >>> make_tokenizer().convert_ids_to_tokens([6, 4, 5, 7])
    ['[start]', '[', ']', '[end]']
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab=dict(VOCAB), unk_token="[unk]"))
    tk.pre_tokenizer = pre_tokenizers.Split(
        Regex(r"\[start\]|\[end\]|\[pad\]|\[unk\]|True|False|\(|\)|\[|\]|\s+|."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[pad]", unk_token="[unk]")


def build_model(n_layer: int = 2, n_head: int = 4, init_seed: int = 0) -> nn.Module:
    """A freshly initialised classifier (GPT-2, d=64, no dropout, eager attention), weights fixed by ``init_seed``.

    >>> build_model().config.n_embd, build_model().config.vocab_size
    (64, 10)
    """
    from transformers import AutoModelForCausalLM, GPT2Config

    for name, v in (("n_layer", n_layer), ("n_head", n_head)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}.")
    if D_MODEL % n_head:
        raise ValueError(f"n_head must divide d_model={D_MODEL}, got n_head={n_head}.")
    cfg = GPT2Config(vocab_size=len(VOCAB), n_positions=N_POSITIONS, n_embd=D_MODEL, n_layer=int(n_layer),
                     n_head=int(n_head), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False,
                     pad_token_id=PAD_ID, bos_token_id=VOCAB["[start]"], eos_token_id=END_ID)
    return seeded(lambda: AutoModelForCausalLM.from_config(cfg, attn_implementation="eager"), init_seed)


def load() -> tuple[nn.Module, Any]:
    """The shipped zoo model ``dyck2`` (eval mode) and its tokenizer, from ``workbench.zoo.registry``.

    >>> model, tok = load()
    >>> model.config.n_layer, tok("[start]()[end]")["input_ids"]
    (2, [6, 2, 3, 7])
    """
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from workbench.zoo import registry

    folder = registry.path(NAME)
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    return model, PreTrainedTokenizerFast.from_pretrained(folder)


def _as_ids(ids: Any) -> torch.Tensor:
    ids = torch.as_tensor(np.asarray(ids) if not torch.is_tensor(ids) else ids)
    if ids.ndim != 2 or ids.dtype not in (torch.int64, torch.int32) or ids.shape[1] > N_POSITIONS:
        raise ValueError(f"ids must be an int array (strings, positions) with at most {N_POSITIONS} positions, got "
                         f"shape {tuple(ids.shape)} of {ids.dtype}.")
    return ids.long()


def end_positions(ids: Any) -> torch.Tensor:
    """The index of each row's ``[end]`` token in right-padded ``ids``.

    >>> end_positions([[6, 2, 3, 7, 8], [6, 4, 2, 3, 7]]).tolist()
    [3, 4]
    """
    ids = _as_ids(ids)
    has = (ids == END_ID).any(1)
    if not bool(has.all()):
        raise ValueError(f"every row of ids needs an [end] token (id {END_ID}); rows "
                         f"{torch.nonzero(~has).flatten().tolist()[:5]} have none.")
    return (ids == END_ID).long().argmax(1)


def output_from_logits(logits: torch.Tensor, ids: Any) -> torch.Tensor:
    """``logit[True] - logit[False]`` at each string's ``[end]``, from logits (strings, positions, vocab) of ``ids``
    (use it on the logits of a traced or intervened forward pass).

    >>> output_from_logits(torch.zeros(1, 3, 10).index_fill_(2, torch.tensor([1]), 2.0), [[6, 7, 8]]).tolist()
    [2.0]
    """
    end = end_positions(ids)
    at_end = logits[torch.arange(logits.shape[0]), end.to(logits.device)]
    return at_end[:, TRUE_ID] - at_end[:, FALSE_ID]


def output(model: nn.Module, ids: Any) -> torch.Tensor:
    """The scalar the answer depends on, per string: ``logit[True] - logit[False]`` at ``[end]`` (> 0: a Dyck-2
    word), from a plain forward pass of right-padded ``ids`` (gradients flow if enabled).

    >>> output(build_model(), [[6, 2, 3, 7]]).shape
    torch.Size([1])
    """
    ids = _as_ids(ids)
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits  # right padding: causal suffices
    return output_from_logits(logits, ids)


@torch.no_grad()
def predict(model: nn.Module, strings: Sequence[str], batch_size: int = 512) -> np.ndarray:
    """Predicted labels (1 = Dyck-2 word) for bracket strings.

    >>> predict(build_model(), ["()", "[)"]).shape
    (2,)
    """
    model.eval()
    out = []
    for i in range(0, len(strings), batch_size):
        ids, _ = task.encode(list(strings[i: i + batch_size]), VOCAB, PAD_ID)
        out.append((output(model, ids) > 0).long().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy(model: nn.Module, strings: Sequence[str], labels: Sequence[int] | np.ndarray) -> float:
    """Fraction of ``strings`` classified as ``labels`` (1 = Dyck-2 word, 0 = not).

    >>> 0.0 <= accuracy(build_model(), ["()", "(]"], [1, 0]) <= 1.0
    True
    """
    labels = np.asarray(labels)
    if isinstance(strings, str) or len(strings) != len(labels) or len(labels) == 0:
        raise ValueError(f"strings and labels must be non-empty lists of the same length, got "
                         f"{'a str' if isinstance(strings, str) else len(strings)} strings and {len(labels)} labels.")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, got {sorted(set(np.unique(labels).tolist()) - {0, 1})[:5]}.")
    return float((predict(model, strings) == labels).mean())


def samples(n_strings: int, seed: int = 0) -> dict[str, Any]:
    """``n_strings`` fresh strings (half Dyck-2 words, half near misses, :func:`workbench.zoo.tasks.dyck2.make_set`)
    with every real token's labels, for activation datasets.

    Per string: ``text`` (without special tokens), ``ids`` (strings x positions, right-padded with ``[pad]``),
    ``end`` (index of ``[end]``), ``label`` (1 = Dyck-2 word) and ``kind``. Per token, flattened over the real
    (non-pad) tokens in order: ``string``, ``position`` (index in ``ids``), ``token``, ``char`` (index in ``text``,
    -1 for ``[start]``/``[end]``), ``depth``, ``top_type`` (0 none, 1 round, 2 square) and ``violation``
    (:func:`workbench.zoo.tasks.dyck2.token_labels` recomputes them from ``text``, ``char`` and ``token``).

    >>> d = samples(2, seed=0)
    >>> d["text"][0][:4], d["token"][:5].tolist(), d["char"][:5].tolist(), d["depth"][:5].tolist()
    ('[]()', ['[start]', '[', ']', '(', ')'], [-1, 0, 1, 2, 3], [0, 1, 0, 1, 0])
    >>> d["ids"].shape[0], len(d["string"]) == sum(len(t) + 2 for t in d["text"])
    (2, True)
    """
    if not isinstance(n_strings, (int, np.integer)) or n_strings < 1:
        raise ValueError(f"n_strings must be an int >= 1, got {n_strings!r}.")
    data = task.make_set(np.random.default_rng([int(seed), 28]), int(n_strings))
    ids, end = task.encode(data.strings, VOCAB, PAD_ID)
    string, position, char, depth, top, violation = [], [], [], [], [], []
    for i, s in enumerate(data.strings):
        lab = task.char_labels(s)
        final = (int(lab["depth"][-1]), int(lab["top_type"][-1]), not task.is_dyck2(s)) if s else (0, 0, False)
        string.extend([i] * (len(s) + 2))
        position.extend(range(len(s) + 2))
        char.extend([-1, *range(len(s)), -1])
        depth.extend([0, *lab["depth"].tolist(), final[0]])
        top.extend([0, *lab["top_type"].tolist(), final[1]])
        violation.extend([False, *lab["violation"].tolist(), final[2]])
    string_a, position_a = np.asarray(string, np.int64), np.asarray(position, np.int64)
    tokens = np.asarray(TOKENS, dtype=object)[ids[string_a, position_a]].astype(str)
    return {"text": list(data.strings), "ids": ids, "end": end, "label": data.labels, "kind": list(data.kinds),
            "string": string_a, "position": position_a, "token": tokens, "char": np.asarray(char, np.int64),
            "depth": np.asarray(depth, np.int64), "top_type": np.asarray(top, np.int64),
            "violation": np.asarray(violation, bool)}


def sample_batch(rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fresh training batch drawn from ``rng`` (the data is unlimited): ids and labels."""
    data = task.make_set(rng, batch_size)
    ids, _ = task.encode(data.strings, VOCAB, PAD_ID)
    perm = rng.permutation(batch_size)  # make_set alternates TRUE/FALSE; shuffling keeps batches honest
    return torch.from_numpy(ids[perm]), torch.from_numpy(data.labels[perm])


def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the (False, True) logits at ``[end]`` (the ``dyck2`` objective).

    >>> bool(loss_fn(build_model(), (torch.tensor([[6, 2, 3, 7]]), torch.tensor([1]))) > 0)
    True
    """
    ids, labels = batch
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    at_end = logits[torch.arange(ids.shape[0]), end_positions(ids)]
    return nn.functional.cross_entropy(at_end[:, :2], labels)


def lm_loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """:func:`loss_fn` plus next-token cross-entropy over the Dyck-2 words (label 1) up to their ``[end]`` (the
    ``dyck2-lm`` objective).

    >>> batch = (torch.tensor([[6, 2, 3, 7], [6, 2, 5, 7]]), torch.tensor([1, 0]))
    >>> bool(lm_loss_fn(build_model(), batch) > loss_fn(build_model(), batch))
    True
    """
    ids, labels = batch
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    end = end_positions(ids)
    cls = nn.functional.cross_entropy(logits[torch.arange(ids.shape[0]), end][:, :2], labels)
    target = ids[:, 1:]
    keep = (labels[:, None] == 1) & (torch.arange(target.shape[1])[None, :] < end[:, None])
    return cls + nn.functional.cross_entropy(logits[:, :-1][keep], target[keep])


#: Training objectives: objective -> (zoo name, loss, what it is trained on).
OBJECTIVES: dict[str, tuple[str, Any, str]] = {
    "answer": (NAME, loss_fn, "cross-entropy of the answer at [end]"),
    "lm": ("dyck2-lm", lm_loss_fn, "cross-entropy of the answer at [end] + next-token cross-entropy over the Dyck-2 "
                                   "words"),
}


def regenerate_command(objective: str = "answer") -> str:
    """The command that retrains and ships the zoo model of ``objective``.

    >>> regenerate_command("lm")
    'nice -n 10 env OMP_NUM_THREADS=1 python -m workbench.zoo.dyck2 --lm --out data/zoo'
    """
    _check_objective(objective)
    return REGENERATE.replace(" --out", " --lm --out") if objective == "lm" else REGENERATE


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}.")


def evaluate(model: nn.Module, size: int = EVAL_SIZE, seed: int = EVAL_SEED) -> dict[str, float]:
    """Held-out accuracy over ``size`` fresh strings, overall and per kind.

    >>> sorted(evaluate(build_model(), 8))
    ['accuracy', 'balanced', 'depth0', 'unclosed', 'wrong_type']
    """
    data = task.make_set(np.random.default_rng([seed, 1]), size)
    right = predict(model, data.strings) == data.labels
    kinds = np.asarray(data.kinds)
    out = {"accuracy": float(right.mean())}
    out.update({k: float(right[kinds == k].mean()) for k in task.GENERATORS if (kinds == k).any()})
    return out


def train_run(work: str | Path, progress: bool = True, objective: str = "answer", **settings: Any) -> dict[str, Any]:
    """Train the model of ``objective`` (:data:`OBJECTIVES`) with the zoo loop into ``work`` (resumable) and evaluate
    it; returns the report that :func:`ship` writes as ``training.json``.

    >>> r = train_run("/tmp/dyck2-doctest", progress=False, steps=3)   # doctest: +SKIP
    >>> sorted(r["validation"])[:1]                                      # doctest: +SKIP
    ['accuracy']
    """
    _check_objective(objective)
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; expected some of {sorted(DEFAULTS)}.")
    s = {**DEFAULTS, **settings}
    name, loss, described = OBJECTIVES[objective]
    t0 = time.time()
    model = build_model(s["n_layer"], s["n_head"], s["init_seed"])
    cfg = TrainConfig(steps=s["steps"], batch_size=s["batch_size"], lr=s["lr"], weight_decay=s["weight_decay"],
                      warmup_steps=s["warmup_steps"], data_seed=s["data_seed"], schedule=s["schedule"],
                      min_lr_ratio=s["min_lr_ratio"], resume_every=max(100, s["steps"] // 10),
                      extra={"task": "dyck2", "objective": objective, "n_layer": s["n_layer"], "n_head": s["n_head"],
                             "init_seed": s["init_seed"]})
    res = train(model, loss, sample_batch, cfg, work, tokenizer=make_tokenizer(), progress=progress)
    report = {"name": name, "settings": s, "objective": described, "seconds": round(time.time() - t0, 1),
              "parameters": sum(p.numel() for p in model.parameters()),
              "validation": {"seed": EVAL_SEED, "size": EVAL_SIZE, **evaluate(model)},
              "final_loss": round(float(np.mean(res.losses[-50:])), 5), "checkpoint": res.final.name,
              "regenerate": regenerate_command(objective)}
    (Path(work) / "run.json").write_text(json.dumps(report, indent=1))
    return report


def ship(work: str | Path, out: str | Path) -> Path:
    """Copy the final checkpoint of ``work`` to ``out/<name>`` (``dyck2`` or ``dyck2-lm``, from the run's objective)
    with ``training.json``; returns that folder.

    >>> ship("/tmp/dyck2-doctest", "/tmp/zoo")   # doctest: +SKIP
    PosixPath('/tmp/zoo/dyck2')
    """
    work = Path(work)
    report = json.loads((work / "run.json").read_text())
    dest = Path(out) / report.get("name", NAME)
    meta = {"step": report["settings"]["steps"],
            **{k: v for k, v in report.items() if k not in ("checkpoint", "name", "regenerate")},
            "regenerate": report.get("regenerate", REGENERATE)}

    def write(tmp: Path) -> None:
        shutil.copytree(work / report["checkpoint"], tmp, dirs_exist_ok=True)
        (tmp / "training.json").write_text(json.dumps(meta, indent=1))
        tmp.chmod(0o755)  # readable by all, like the other zoo folders (a temporary folder starts owner-only)
        for f in tmp.iterdir():
            f.chmod(0o644)

    atomic_dir(dest, write)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring): train, print the report, ship with ``--out``."""
    ap = argparse.ArgumentParser(prog="python -m workbench.zoo.dyck2", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="zoo folder to ship the model to (data/zoo)")
    ap.add_argument("--lm", action="store_true",
                    help="train dyck2-lm: the answer at [end] plus next-token prediction over the words")
    ap.add_argument("--work", type=Path, default=None,
                    help="checkpoint folder (resumable; default: a temporary folder, removed afterwards)")
    for key in ("steps", "batch_size", "n_layer", "n_head", "init_seed", "data_seed"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=DEFAULTS[key])
    for key in ("lr", "weight_decay"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=float, default=DEFAULTS[key])
    a = ap.parse_args(argv)
    settings = {k: getattr(a, k) for k in ("steps", "batch_size", "n_layer", "n_head", "init_seed", "data_seed",
                                           "lr", "weight_decay")}
    work = a.work or Path(tempfile.mkdtemp(prefix="dyck2-"))
    try:
        report = train_run(work, objective="lm" if a.lm else "answer", **settings)
        print(json.dumps({k: report[k] for k in ("seconds", "parameters", "validation", "final_loss")}), flush=True)
        if a.out is not None:
            print("shipped", ship(work, a.out))
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
