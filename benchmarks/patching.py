"""Batched activation patching and attribution patching against one forward pass per cell, in one run.

Model: SmolLM2-135M-Instruct (30 blocks, d = 576), fp32, one 20-token IOI pair. Work: residual-stream patching at the
output of each of the 30 blocks (resid layers 1..30) at every one of the 20 positions, 600 cells, denoising, metric
logit_diff(" Mary", " John").

* **one forward per cell** (the baseline; what TransformerLens's ``patching`` and a cell-at-a-time UI do): the clean
  run's block outputs recorded once, then for each cell one plain-torch forward of the corrupted prompt with a hook
  that writes the clean activation in (no nnsight, logits at the last position only, as the batched sweep keeps);
* **batched** ``wb.patch``: many patched runs per traced pass (plus its built-in whole-input and drift checks and the
  top-10 logit changes of every run); cells before the first token where the prompts differ are exact no-ops and are
  not run (13 of the 20 positions here); the same sweep running every cell is printed beside it;
* **attribution** ``wb.attribution_patch``: one forward and one backward pass, every cell estimated to first order.

The batched map must equal the baseline's (printed: the largest difference in the metric); attribution's Pearson r
against it is printed per site. Every variant is warmed up once; the fast ones run ``BENCH_ROUNDS`` times (default 3)
and the baseline ``BENCH_BASELINE_ROUNDS`` times (default 1), alternating, and medians are kept.
Printed last: the batched sweep's speed-up over one forward per cell.

Run: python benchmarks/patching.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import workbench as wb  # noqa: E402
from workbench.analyses.patching import with_correlation  # noqa: E402

CLEAN = "When Mary and John went to the store after a long day, John handed a bottle of milk to"
CORRUPTED = "When Mary and John went to the store after a long day, Mary handed a bottle of milk to"
RIGHT, WRONG = " Mary", " John"
LAYERS = range(1, 31)  # block outputs 1..30
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
BASELINE_ROUNDS = int(os.environ.get("BENCH_BASELINE_ROUNDS", 1))


def one_forward_per_cell(model, clean_ids: torch.Tensor, corrupted_ids: torch.Tensor) -> np.ndarray:
    """The baseline: per cell, one forward of the corrupted prompt with the clean block output written in."""
    hf = model.envoy._module
    blocks = hf.model.layers
    right, wrong = (model.tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in (RIGHT, WRONG))
    recorded = {}
    hooks = [blocks[l - 1].register_forward_hook(lambda m, a, o, l=l: recorded.__setitem__(l, o.detach().clone()))
             for l in LAYERS]
    with torch.no_grad():
        hf(input_ids=clean_ids[None], use_cache=False, logits_to_keep=1)
    for h in hooks:
        h.remove()
    out = np.zeros((len(LAYERS), len(clean_ids)))
    with torch.no_grad():
        for i, layer in enumerate(LAYERS):
            for pos in range(len(clean_ids)):
                def write(m, a, o, layer=layer, pos=pos):
                    o = o.clone()
                    o[:, pos] = recorded[layer][:, pos]
                    return o
                h = blocks[layer - 1].register_forward_hook(write)
                logits = hf(input_ids=corrupted_ids[None], use_cache=False, logits_to_keep=1).logits[0, -1]
                h.remove()
                out[i, pos] = float(logits[right] - logits[wrong])
    return out


def main() -> None:
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", 2)))
    model = wb.load_model("smollm2-135m")
    clean_ids = torch.as_tensor(model.tokenize(CLEAN).token_ids[0])
    corrupted_ids = torch.as_tensor(model.tokenize(CORRUPTED).token_ids[0])
    assert len(clean_ids) == len(corrupted_ids) == 20, (len(clean_ids), len(corrupted_ids))
    pair, metric = [(CLEAN, CORRUPTED)], wb.logit_diff(RIGHT, WRONG)
    results: dict[str, object] = {}
    fns = {
        "one forward per cell": lambda: one_forward_per_cell(model, clean_ids, corrupted_ids),
        "batched patch": lambda: wb.patch(model, pair, metric=metric, sites=("resid",), layers=LAYERS,
                                          progress=False),
        "batched, every cell run": lambda: wb.patch(model, pair, metric=metric, sites=("resid",), layers=LAYERS,
                                                    skip_shared_prefix=False, progress=False),
        "attribution patching": lambda: wb.attribution_patch(model, pair, metric=metric, sites=("resid",),
                                                             layers=LAYERS, progress=False),
    }
    wb.patch(model, pair, metric=metric, sites=("resid",), layers=[1], progress=False)  # warm-ups
    wb.attribution_patch(model, pair, metric=metric, sites=("resid",), layers=[1], progress=False)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for round_ in range(max(ROUNDS, BASELINE_ROUNDS)):
        for name, fn in fns.items():
            if round_ >= (BASELINE_ROUNDS if name == "one forward per cell" else ROUNDS):
                continue
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    batched, naive, attr = results["batched patch"], results["one forward per cell"], results["attribution patching"]
    exact = batched.metric.sel(site="resid", layer=list(LAYERS)).values[0]
    diff = float(np.abs(exact - naive).max())
    every = results["batched, every cell run"].metric.sel(site="resid", layer=list(LAYERS)).values[0]
    diff = max(diff, float(np.abs(every - naive).max()))
    r = with_correlation(attr, batched).pearson_r.values
    cells = len(LAYERS) * len(clean_ids)
    print(f"SmolLM2-135M, one {len(clean_ids)}-token pair, resid layers 1-30 x {len(clean_ids)} positions = {cells} "
          f"cells, {torch.get_num_threads()} threads, medians of {ROUNDS} ({BASELINE_ROUNDS} for the baseline)")
    for name, t in med.items():
        print(f"  {name:24s} {t:8.2f} s  ({t / cells * 1000:.1f} ms per cell)")
    print(f"  batched map vs one forward per cell: max |metric difference| = {diff:.2e}")
    print(f"  attribution's Pearson r against the exact map, per site: "
          f"{dict(zip(attr.site.values.tolist(), np.round(r, 3).tolist()))}")
    print(f"batched, every cell run: {med['one forward per cell'] / med['batched, every cell run']:.1f}x faster than "
          "one forward per cell")
    print(f"attribution patching is {med['batched patch'] / med['attribution patching']:.1f}x faster than the batched "
          "sweep")
    print(f"batched sweep is {med['one forward per cell'] / med['batched patch']:.1f}x faster than one forward pass "
          "per cell")


if __name__ == "__main__":
    main()
