"""Latent-reasoning zoo models: a Coconut-style GPT-2 and its explicit-CoT and no-CoT twins on arithmetic chains.

Coconut (Hao et al. 2024, "Training large language models to reason in a continuous latent space", arXiv 2412.06769):
the last hidden state (GPT-2's ``hidden_states[-1]``, i.e. after the final LayerNorm) is fed back as the next input
embedding, a "continuous thought", between ``<bot>`` and ``<eot>`` markers. A curriculum of stages replaces the first
``k`` written steps of the gold trace with ``k * THOUGHTS_PER_STEP`` thoughts (the optimizer is reset at each stage,
as in the paper); the last stage has no written steps and a fixed ``N_LATENTS`` thoughts. The twins, trained on the
same problems: ``cot`` writes the steps ``<< a op b = c >>`` then ``### answer``; ``nocot`` writes ``### answer`` only.

Sequences (tokens, see :mod:`workbench.zoo.tasks.arithmetic`)::

    question  <bot> [thought]*n <eot> (remaining steps) ### answer <eos>      latent (stage-dependent n)
    question  << 3 * 4 = 12 >> ... ### answer <eos>                           cot
    question  ### answer <eos>                                                nocot

The latent model's config carries ``workbench_latent`` (token ids of the markers and ``n_latents``), which is how
:mod:`workbench.analyses.latent` recognises a latent model. The shipped checkpoints were made with::

    OMP_NUM_THREADS=1 python -m workbench.zoo.latent --out data/zoo --work /tmp/latent/work

(defaults: CoT 1,500 steps, Coconut stages 1-4 x 300 steps from the CoT weights then 1,500 more at the last stage,
no-CoT 1,000 steps; batch 32, AdamW lr 2e-3 (1e-3 for the last phase); about 35 minutes on one shared CPU core;
finished phases found in ``--work`` are loaded rather than retrained). ``training.json`` in each folder records losses, time and
held-out accuracy.

>>> from workbench.zoo.latent import build_model
>>> build_model().config.n_layer
4
"""

from __future__ import annotations

import argparse
import functools
import inspect
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

from workbench.zoo.tasks import arithmetic as ar
from workbench.zoo.train import TrainConfig, checkpoint_dir, seeded, train

THOUGHTS_PER_STEP = 2
MAX_STAGE = 4  # = the longest chain, so the last stage removes every written step
N_LATENTS = THOUGHTS_PER_STEP * MAX_STAGE
TRAIN_SEED, TEST_SEED = 0, 12345  # problems for training are drawn from TRAIN_SEED streams; held-out from TEST_SEED
MODES = ("coconut", "cot", "nocot")

_V = ar._INDEX
PAD, EOS, BOT, EOT, LATENT, ANS = (_V[t] for t in ("<pad>", "<eos>", "<bot>", "<eot>", "<latent>", "###"))


def latent_settings(n_latents: int = N_LATENTS) -> dict[str, int]:
    """What ``config.workbench_latent`` holds for a latent model.

    >>> latent_settings()["n_latents"]
    8
    """
    return {"bot_id": BOT, "eot_id": EOT, "latent_id": LATENT, "answer_id": ANS, "eos_id": EOS,
            "n_latents": int(n_latents), "thoughts_per_step": THOUGHTS_PER_STEP}


def build_model(n_layer: int = 4, n_embd: int = 96, n_head: int = 4) -> nn.Module:
    """A small GPT-2 (eager attention) over the arithmetic vocabulary."""
    cfg = T.GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=128,
                       vocab_size=len(ar.vocabulary()), bos_token_id=EOS, eos_token_id=EOS, pad_token_id=PAD,
                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return T.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")


def hf_module(model: Any) -> nn.Module:
    """The plain transformers module behind a workbench ``Model`` (or the module itself).

    >>> type(hf_module(build_model())).__name__
    'GPT2LMHeadModel'
    """
    envoy = getattr(model, "envoy", None)
    if envoy is not None:
        return envoy._module
    return model


# --------------------------------------------------------------------------------------------------------- batches
def question_ids(p: ar.Problem) -> list[int]:
    """Token ids of the question.

    >>> len(question_ids(ar.Problem((3, 4), ("*",)))) == len(ar.Problem((3, 4), ("*",)).question().split())
    True
    """
    return ar.encode_tokens(p.question().split())


def _left_pad(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = 1
    return ids, mask


def _right_pad(rows: Sequence[Sequence[int]], fill: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), fill, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def target_tokens(p: ar.Problem, mode: str, stage: int = MAX_STAGE) -> list[str]:
    """What follows the question (for ``coconut``: what follows ``<eot>``).

    >>> target_tokens(ar.Problem((3, 4), ("*",)), "cot")
    ['<<', '3', '*', '4', '=', '12', '>>', '###', '12', '<eos>']
    """
    tail = ["###", str(p.answer), "<eos>"]
    if mode == "nocot":
        return tail
    steps = p.steps[stage:] if mode == "coconut" else p.steps
    return [t for s in steps for t in ("<<", str(s.a), s.op, str(s.b), "=", str(s.result), ">>")] + tail


def n_thoughts(stage: int) -> int:
    """Continuous thoughts at curriculum ``stage``.

    >>> n_thoughts(1), n_thoughts(9)
    (2, 8)
    """
    return THOUGHTS_PER_STEP * min(stage, MAX_STAGE)


# ---------------------------------------------------------------------------------------------- latent forward
def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(1) - 1).clamp(min=0)


@functools.lru_cache(maxsize=None)
def _cache_keyword(model_class: type) -> str:
    """The keyword that passes a KV cache to a model of ``model_class``: ``cache`` in recent transformers
    (``past_key_values`` there is deprecated and warns), ``past_key_values`` in older 5.x releases. Read once per
    class, not at every generated token."""
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def _with_cache(hf: nn.Module, cache: Any) -> dict[str, Any]:
    """``{keyword: cache}`` for ``hf``'s forward (see :func:`_cache_keyword`)."""
    return {_cache_keyword(type(hf)): cache}


def _cache_of(out: Any) -> Any:
    """The KV cache a forward returned, under either name."""
    return out["cache"] if "cache" in out else out["past_key_values"]


def run_thoughts(hf: nn.Module, prefix: torch.Tensor, prefix_mask: torch.Tensor, n: int
                 ) -> tuple[torch.Tensor, torch.Tensor, Any, torch.Tensor]:
    """Feed ``n`` continuous thoughts after a left-padded prefix that ends in ``<bot>``.

    Thought ``j`` is the final hidden state after the final LayerNorm (GPT-2's ``hidden_states[-1]``) at the position
    before it, fed back as the next input embedding, as in Coconut; a KV cache makes each thought one token's work.
    Returns (input embeddings of prefix + thoughts, attention mask, the KV cache, the last position's logits).
    Runs with or without grad (gradients flow through the thoughts and the cache).
    """
    emb = hf.get_input_embeddings()(prefix)
    mask = prefix_mask
    out = hf(inputs_embeds=emb, attention_mask=mask, position_ids=_positions(mask), output_hidden_states=True,
             use_cache=True)
    cache, parts = _cache_of(out), [emb]
    for _ in range(n):
        thought = out.hidden_states[-1][:, -1:, :]
        parts.append(thought)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        out = hf(inputs_embeds=thought, attention_mask=mask, position_ids=_positions(mask)[:, -1:],
                 output_hidden_states=True, use_cache=True, **_with_cache(hf, cache))
        cache = _cache_of(out)
    return torch.cat(parts, 1), mask, cache, out.logits[:, -1]


def coconut_batch(problems: Sequence[ar.Problem], stage: int) -> dict[str, Any]:
    """Left-padded ``question <bot>`` prefixes, right-padded ``<eot> ...`` suffixes and the thought count.

    >>> coconut_batch(ar.problems(2, seed=0), 2)["n"]
    4
    """
    q = [question_ids(p) + [BOT] for p in problems]
    prefix, pmask = _left_pad(q)
    tail = [[EOT] + ar.encode_tokens(target_tokens(p, "coconut", stage)) for p in problems]
    suffix, smask = _right_pad(tail, PAD)
    return {"prefix": prefix, "prefix_mask": pmask, "suffix": suffix, "suffix_mask": smask,
            "n": n_thoughts(stage)}


def coconut_loss(hf: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    """Next-token loss on what follows ``<eot>``, after the multi-pass continuous-thought forward.

    >>> float(coconut_loss(build_model(), coconut_batch(ar.problems(2, seed=0), 1)).detach()) > 0
    True
    """
    _, mask, cache, _ = run_thoughts(hf, batch["prefix"], batch["prefix_mask"], batch["n"])
    suffix, smask = batch["suffix"], batch["suffix_mask"]
    mask = torch.cat([mask, smask], 1)
    pos = _positions(mask)[:, -suffix.shape[1]:]
    logits = hf(inputs_embeds=hf.get_input_embeddings()(suffix), attention_mask=mask, position_ids=pos,
                use_cache=True, **_with_cache(hf, cache)).logits
    pred = logits[:, :-1]  # the <eot> position predicts the first token after it
    labels = suffix[:, 1:].masked_fill(smask[:, 1:] == 0, -100)
    return nn.functional.cross_entropy(pred.reshape(-1, pred.shape[-1]), labels.reshape(-1), ignore_index=-100)


def text_batch(problems: Sequence[ar.Problem], mode: str) -> dict[str, torch.Tensor]:
    """Right-padded ids for the ``cot``/``nocot`` twins, labels only after the question.

    >>> text_batch(ar.problems(2, seed=0), "nocot")["labels"].shape[0]
    2
    """
    rows = [question_ids(p) + ar.encode_tokens(target_tokens(p, mode)) for p in problems]
    ids, mask = _right_pad(rows, PAD)
    qlen = torch.tensor([len(question_ids(p)) for p in problems])
    labels = ids.masked_fill(mask == 0, -100)
    labels[torch.arange(ids.shape[1])[None, :] < qlen[:, None]] = -100  # loss only on what follows the question
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def text_loss(hf: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Next-token loss of the written twins.

    >>> float(text_loss(build_model(), text_batch(ar.problems(2, seed=0), "cot")).detach()) > 0
    True
    """
    return hf(**batch).loss


# --------------------------------------------------------------------------------------------------- generation
@torch.no_grad()
def greedy(hf: nn.Module, emb: torch.Tensor, mask: torch.Tensor, max_new: int, cache: Any = None) -> np.ndarray:
    """Greedy continuation (KV-cached) of left-padded input embeddings; with ``cache``, ``emb`` is only the new part.

    >>> m = build_model(); greedy(m, m.get_input_embeddings()(torch.tensor([[3, 4]])), torch.ones(1, 2, dtype=torch.long), 3).shape
    (1, 3)
    """
    emb_layer = hf.get_input_embeddings()
    out = []
    full = mask
    for _ in range(max_new):
        pos = _positions(full)[:, -emb.shape[1]:]
        res = hf(inputs_embeds=emb, attention_mask=full, position_ids=pos, use_cache=True, **_with_cache(hf, cache))
        cache = _cache_of(res)
        nxt = res.logits[:, -1].argmax(-1)
        out.append(nxt)
        emb = emb_layer(nxt)[:, None]
        full = torch.cat([full, torch.ones_like(full[:, :1])], 1)
    return torch.stack(out, 1).numpy()


def parse_answer(ids: Sequence[int]) -> int | None:
    """The number written after ``###`` in generated ids (None if there is none).

    >>> parse_answer([ANS, ar.vocabulary().index("42"), EOS])
    42
    """
    ids = list(ids)
    vocab = ar.vocabulary()
    for i, t in enumerate(ids[:-1]):
        if t == EOS:
            return None
        if t == ANS:
            tok = vocab[ids[i + 1]]
            return int(tok) if tok.isdigit() else None
    return None


@torch.no_grad()
def answers(model: Any, problems: Sequence[ar.Problem], mode: str, n_latents: int | None = None,
            batch_size: int = 256) -> np.ndarray:
    """Greedy answers (int, or -1 when none is written) of a zoo model in ``mode`` on ``problems``.

    For ``coconut``, ``n_latents`` thoughts (default: the model's own number) are run and ``<eot>`` is then forced,
    which is how early stopping is measured.

    >>> from workbench import load_model                                               # doctest: +SKIP
    >>> answers(load_model("latent-nocot"), ar.problems(4, 1), "nocot").shape          # doctest: +SKIP
    (4,)
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    hf = hf_module(model)
    hf.eval()
    if n_latents is None:
        settings = getattr(hf.config, "workbench_latent", None) or latent_settings()
        n_latents = int(settings["n_latents"]) if mode == "coconut" else 0
    out = []
    for start in range(0, len(problems), batch_size):
        chunk = problems[start: start + batch_size]
        if mode == "coconut":
            prefix, pmask = _left_pad([question_ids(p) + [BOT] for p in chunk])
            _, mask, cache, _ = run_thoughts(hf, prefix, pmask, n_latents)
            eot = hf.get_input_embeddings()(torch.full((len(chunk), 1), EOT))
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
            gen = greedy(hf, eot, mask, 3 + 7 * max(0, MAX_STAGE - n_latents // THOUGHTS_PER_STEP), cache)
        else:
            prefix, pmask = _left_pad([question_ids(p) for p in chunk])
            emb = hf.get_input_embeddings()(prefix)
            gen = greedy(hf, emb, pmask, 3 if mode == "nocot" else 3 + 7 * MAX_STAGE)
        out += [(-1 if (a := parse_answer(row)) is None else a) for row in gen]
    return np.asarray(out, dtype=np.int64)


def accuracy(model: Any, problems: Sequence[ar.Problem], mode: str) -> float:
    """Share of ``problems`` answered correctly.

    >>> 0 <= accuracy(build_model(), ar.problems(2, seed=0), "nocot") <= 1
    True
    """
    pred = answers(model, problems, mode)
    return float(np.mean(pred == np.array([p.answer for p in problems])))


# ----------------------------------------------------------------------------------------------------- training
def held_out(n: int = 200) -> list[ar.Problem]:
    """Held-out problems (drawn from TEST_SEED; the training sampler rejects the first 1,000 of them).

    >>> len(held_out(5))
    5
    """
    return ar.problems(n, TEST_SEED)


def _held_out_keys() -> set:
    return {(p.numbers, p.ops) for p in held_out(1000)}


def _sampler(make_batch):
    banned = _held_out_keys()

    def sample(rng: np.random.Generator, n: int) -> Any:
        ps = []
        while len(ps) < n:
            p = ar.sample_problem(rng)
            if (p.numbers, p.ops) not in banned:
                ps.append(p)
        return make_batch(ps)

    return sample


def _phase(model: nn.Module, loss_fn: Any, sampler: Any, cfg: TrainConfig, out: Path, tok: Any) -> list[float]:
    """Train one phase, or, when ``out`` already holds its final checkpoint, load those weights instead (so an
    extended run re-uses finished phases). Returns the last 50 losses (empty when loaded)."""
    done = checkpoint_dir(out, cfg.steps)
    if (done / "model.safetensors").is_file() and not (out / "resume").exists():
        trained = T.AutoModelForCausalLM.from_pretrained(done, attn_implementation="eager")
        model.load_state_dict(trained.state_dict())
        return []
    return [float(x) for x in train(model, loss_fn, sampler, cfg, out, tok).losses[-50:]]


def train_all(out: Path, steps: dict[str, int], batch_size: int = 32, lr: float = 2e-3, init_seed: int = 0,
              work: Path | None = None) -> dict[str, Any]:
    """Train the three models and copy their final weights to ``out/latent-{cot,coconut,nocot}``.

    Coconut's stage 0 is the explicit-CoT model (as in Hao et al., who start from a CoT-trained model), so ``cot`` is
    trained first and shipped, then stages 1..MAX_STAGE continue from it (``steps["coconut"]`` split evenly between
    them, optimizer reset per stage), then ``steps["final"]`` more steps at the last stage (fresh optimizer, half the
    learning rate); ``nocot`` starts from the same initial weights. Phases already finished in ``work`` are loaded.
    """
    torch.set_num_threads(1)
    work = Path(work or out / ".latent-work")
    report: dict[str, Any] = {}
    tok = ar.build_tokenizer()
    test = held_out()

    def text_model(mode: str) -> nn.Module:
        t0 = time.time()
        model = seeded(build_model, init_seed)
        cfg = TrainConfig(steps=steps[mode], batch_size=batch_size, lr=lr, warmup_steps=100, data_seed=TRAIN_SEED,
                          extra={"mode": mode})
        losses = _phase(model, text_loss, _sampler(lambda ps, m=mode: text_batch(ps, m)), cfg, work / mode, tok)
        model.config.workbench_mode = mode
        report[mode] = {"seconds": round(time.time() - t0), "loss": float(np.mean(losses)) if losses else None,
                        "accuracy": accuracy(model, test, mode)}
        _ship(model, tok, out / f"latent-{mode}", {"mode": mode, "steps": steps[mode], **report[mode]})
        print(mode, report[mode], flush=True)
        return model

    model = text_model("cot")
    t0 = time.time()
    per_stage = steps["coconut"] // MAX_STAGE
    stages = []
    phases = [(stage, per_stage, lr) for stage in range(1, MAX_STAGE + 1)]
    if steps.get("final"):
        phases.append((MAX_STAGE, steps["final"], lr / 2))
    for i, (stage, n_steps, rate) in enumerate(phases):
        cfg = TrainConfig(steps=n_steps, batch_size=batch_size, lr=rate, warmup_steps=50,
                          data_seed=TRAIN_SEED + 1 + i, extra={"mode": "coconut", "stage": stage})
        name = f"coconut_stage{stage}" if i < MAX_STAGE else f"coconut_stage{stage}_final"
        losses = _phase(model, coconut_loss, _sampler(lambda ps, s=stage: coconut_batch(ps, s)), cfg,
                        work / name, tok)
        stages.append(float(np.mean(losses)) if losses else None)
        print("coconut", name, stages[-1], round(time.time() - t0), flush=True)
    model.config.workbench_latent = latent_settings()
    model.config.workbench_mode = "coconut"
    report["coconut"] = {"seconds": round(time.time() - t0), "stage_losses": stages,
                         "accuracy": accuracy(model, test, "coconut")}
    _ship(model, tok, out / "latent-coconut", {"mode": "coconut", "steps_per_stage": per_stage,
                                                "final_steps": steps.get("final", 0), "from": "latent-cot",
                                                **report["coconut"]})
    print("coconut", report["coconut"], flush=True)
    text_model("nocot")
    return report


def _ship(model: nn.Module, tok: Any, dest: Path, meta: dict) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / "training.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/zoo"))
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--cot-steps", type=int, default=1500)
    ap.add_argument("--nocot-steps", type=int, default=1000)
    ap.add_argument("--coconut-steps", type=int, default=1200)
    ap.add_argument("--final-steps", type=int, default=1500)
    args = ap.parse_args(argv)
    print(train_all(args.out, {"cot": args.cot_steps, "nocot": args.nocot_steps, "coconut": args.coconut_steps,
                     "final": args.final_steps},
                    work=args.work))


if __name__ == "__main__":
    main()
