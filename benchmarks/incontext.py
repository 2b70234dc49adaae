"""One traced pass per walk against one forward pass per context length, on Gemma-3-270M, measured in one run.

Attention is causal, so the states of a prefix of length T are the first T states of the whole walk: one pass over a
1,400-word walk serves every context length (:func:`workbench.analyses.incontext.trace_walk`). The baseline is the
direct way: for every context length T, run the model on the walk's first T words and take the node means in the
window before T and the next-word probabilities there (the same function on the prefix, so both do identical work per
pass). Two baselines: one unembeds every position of each prefix, as ``model(prefix)`` computes logits for all of
them; the lean one unembeds only the positions new since the previous length, so the vocabulary projection costs the
same in total as in the single pass. Both must give the same numbers as the single pass: node means to a relative 1e-4
of their scale, word probabilities and accuracies to 1e-4. Every residual layer is kept, the window is 50 and the
context lengths are the study's default grid (60, log-spaced from 16 to 1,400); ``--contexts N`` changes how many.
The speed-up grows with the number of context lengths (their total length over the walk's).

Run: python benchmarks/incontext.py [--contexts 60] [--rounds 1]   (prints the lean ratio last)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import workbench as wb  # noqa: E402
from workbench.analyses import incontext as ic  # noqa: E402
from workbench.zoo.tasks import graphs  # noqa: E402


def per_length(model, graph, walk, contexts, window, lean: bool):
    """One forward pass per context length: node means at T and the word probabilities of positions [T_prev, T).
    ``lean`` unembeds only those positions; otherwise every position of the prefix, as ``model(prefix)`` would."""
    means, probs, prev = [], [], 0
    for t in contexts:
        out = ic.trace_walk(model, graph, walk[:t], None, [int(t)], min(window, int(t)),  # same window, clipped at 0
                            probs_from=prev if lean else 0)
        means.append(out["node_mean"][:, 0])
        probs.append(out["word_prob"][prev:t])
        prev = t
    return np.stack(means, axis=1), np.concatenate(probs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=None, help="number of log-spaced context lengths")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--length", type=int, default=1400)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", 2)))
    model = wb.load_model("gemma3-270m")
    graph = graphs.grid()
    walk = graph.walk(args.length, seed=[0, 0])
    contexts = ic.default_contexts(args.length) if args.contexts is None else ic.default_contexts(args.length, args.contexts)
    window = ic.DEFAULT_WINDOW
    print(f"Gemma-3-270M, {graph.name}, one walk of {args.length} words, {len(contexts)} context lengths "
          f"({contexts[0]}..{contexts[-1]}), window {window}, all {model.n_layers + 1} residual layers, "
          f"{torch.get_num_threads()} threads")
    ic.trace_walk(model, graph, walk[:64], None, [64], window)  # warm-up
    runs = {"single": lambda: ic.trace_walk(model, graph, walk, None, contexts, window),
            "naive": lambda: per_length(model, graph, walk, contexts, window, lean=False),
            "lean": lambda: per_length(model, graph, walk, contexts, window, lean=True)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    results = {}
    for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits all three alike
        for name, fn in runs.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    single = results["single"]
    acc_single = (single["word_prob"] * graph.adjacency[walk]).sum(1)
    for name in ("naive", "lean"):
        means, probs = results[name]
        scale = np.nanmax(np.abs(means), axis=(1, 2, 3), keepdims=True)
        rel = np.nanmax(np.abs(single["node_mean"] - means) / scale)
        same_mask = np.array_equal(np.isnan(single["node_mean"]), np.isnan(means))
        dprob = np.abs(single["word_prob"] - probs).max()
        dacc = np.abs(acc_single - (probs * graph.adjacency[walk]).sum(1)).max()
        print(f"agreement with {name} per-length passes: node means max relative difference {rel:.2e} "
              f"(same masked nodes: {same_mask}); word probabilities {dprob:.2e}; accuracy {dacc:.2e}")
        if not (rel <= 1e-4 and same_mask and dprob <= 1e-4 and dacc <= 1e-4):
            raise SystemExit(f"the single pass and the {name} per-length passes disagree beyond 1e-4")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"single traced pass {med['single']:.1f} s | one pass per context length ({len(contexts)} passes, "
          f"{int(np.sum(contexts)):,} tokens against {args.length:,}): unembedding every prefix position "
          f"{med['naive']:.1f} s, only the positions new since the previous length {med['lean']:.1f} s")
    print(f"time ratio, per-length passes unembedding every position / single pass: {med['naive'] / med['single']:.1f}")
    print(f"time ratio, lean per-length passes / single pass: {med['lean'] / med['single']:.1f}")


if __name__ == "__main__":
    main()
