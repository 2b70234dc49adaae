"""Overhead of the workbench's nnsight extraction against plain torch doing the same work, measured in one run.

Model: GPT-2-small-shaped (12 layers, 12 heads, d=768, vocabulary 50,257), random init, fp32, batch 8 x 128 tokens.
Headline (printed last), like for like: ``capture(model, texts)`` (residuals + attention from one nnsight trace, as
labelled xarray) against ``hf.transformer(input_ids, output_hidden_states=True, output_attentions=True)``, the base
model without its LM head (capture() stops the trace after the last block, so it never runs the head either), under
no_grad, tensors to numpy. The baseline is pre-tokenized and keeps torch's per-layer tensors as zero-copy numpy views,
while capture() also tokenizes, realigns padding and stacks the layers into one labelled array: the ratio charges all
of that to capture().
Every plain baseline passes ``use_cache=False``, as capture() does: one forward pass needs no key/value cache, and
letting the baseline build one would only slow it down.
Secondary lines: capture() against the full model with its 50k-vocabulary LM head (what a plain transformers user
would call), and ``residuals()`` / ``attention()`` alone against the full model with only the matching flag.
Timings interleave the variants round-robin so drift on a shared machine hits all alike; medians are reported.

Run: python benchmarks/trace_overhead.py    (prints the like-for-like ratio last)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, GPT2Config, PreTrainedTokenizerFast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from workbench import attention, capture, load_model, residuals  # noqa: E402

BATCH, SEQ, ROUNDS = 8, 128, int(os.environ.get("BENCH_ROUNDS", 7))


def word_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """Whitespace tokenizer over words w0..wN: texts of exactly SEQ tokens, no padding, any vocabulary size."""
    vocab = {"<pad>": 0, "<unk>": 1} | {f"w{i}": i + 2 for i in range(vocab_size - 2)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", unk_token="<unk>")


def timed(fns: dict, rounds: int) -> dict[str, float]:
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257)
    hf = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()
    tok = word_tokenizer(cfg.vocab_size)
    rng = np.random.default_rng(0)
    texts = [" ".join(f"w{i}" for i in rng.integers(0, cfg.vocab_size - 2, SEQ)) for _ in range(BATCH)]
    enc = tok(texts, return_tensors="pt")
    assert enc.input_ids.shape == (BATCH, SEQ)
    model = load_model(hf, tokenizer=tok)

    def plain(hidden: bool, attn: bool):
        def run():
            with torch.no_grad():
                out = hf(**enc, output_hidden_states=hidden, output_attentions=attn, use_cache=False)
            hs = [h.numpy() for h in out.hidden_states] if hidden else None
            at = [a.numpy() for a in out.attentions] if attn else None
            return hs, at
        return run

    # correctness first: same numbers as the baseline
    both = capture(model, texts)
    hs, at = plain(True, True)()
    assert np.allclose(both["residuals"].values[:, :12], np.stack(hs[:12], 1), atol=1e-4)
    assert np.allclose(both["attention"].values, np.stack(at, 1), atol=1e-5)

    def plain_base():  # the same work as capture(): the forward without the LM head, which capture() never runs
        with torch.no_grad():
            out = hf.transformer(**enc, output_hidden_states=True, output_attentions=True, use_cache=False)
        return [h.numpy() for h in out.hidden_states], [a.numpy() for a in out.attentions]

    t = timed({
        "plain (hidden + attentions)": plain(True, True),
        "plain base model, no LM head": plain_base,
        "workbench capture()": lambda: capture(model, texts),
        "plain (hidden states)": plain(True, False),
        "workbench residuals()": lambda: residuals(model, texts),
        "plain (attentions)": plain(False, True),
        "workbench attention()": lambda: attention(model, texts),
    }, ROUNDS)
    print(f"GPT-2-small-shaped, batch {BATCH} x {SEQ} tokens, {torch.get_num_threads()} threads, "
          f"median of {ROUNDS} interleaved rounds")
    for name, secs in t.items():
        print(f"  {name:<30s} {secs * 1e3:9.1f} ms")
    resid, attn = t["workbench residuals()"], t["workbench attention()"]
    print(f"  residuals() / plain hidden states (full model): {resid / t['plain (hidden states)']:.3f}")
    print(f"  attention() / plain attentions (full model):    {attn / t['plain (attentions)']:.3f}")
    full = t["workbench capture()"] / t["plain (hidden + attentions)"]
    print(f"  capture() / plain full model with its LM head (work capture() skips): {full:.3f}")
    ratio = t["workbench capture()"] / t["plain base model, no LM head"]
    print(f"ratio capture(residuals+attention) / plain base model (hidden_states+attentions, no LM head), "
          f"like for like: {ratio:.3f}")


if __name__ == "__main__":
    main()
