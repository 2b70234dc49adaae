"""SAE training throughput with activations streamed through the traced model against a precomputed buffer, in the
same run, and the time to build one latent's dashboard data.

Model: the Dyck-2 zoo model (2 blocks, d=64), residual stream after the last block, as in the shipped study. Both
variants train the same TopK SAE (k=4, d_sae=128, batch 512 activations, Adam) for ``STEPS`` steps on 1 CPU thread:

* **streamed**: every batch comes from fresh task strings traced with nnsight (:func:`workbench.analyses.sae.stream`:
  generate strings, trace to the site, keep the real tokens, shuffle in a small reservoir);
* **buffer**: batches drawn from activations traced once beforehand (:class:`workbench.analyses.sae.ActivationBuffer`);
  the time to fill the buffer is printed beside it.

Dashboard: one latent's data as the FeatureExplorer sends it (:meth:`FeatureExplorer.latent_payload
<workbench.widgets.feature_explorer.FeatureExplorer.latent_payload>`: the active samples' activations for the
histogram and the top contexts with every token's activation, packed float32), from the shipped Dataset
``data/sae/dyck2.nc`` (alternating between two SAEs, so each call reads its SAE's activations from the Dataset
afresh); and from scratch: the analysis work for that one latent (:func:`workbench.analyses.sae.latent_scores`: trace
300 strings, encode, score the labels, ablate the latent inside the model on its strings) followed by the widget
built on those numbers (its payload and the SAE's scores). Medians of ``ROUNDS``.

Run: python benchmarks/sae.py    (prints the buffer/streamed throughput ratio last)
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import workbench as wb  # noqa: E402
from workbench.analyses.sae import (ActivationBuffer, collect, get_task, latent_scores, load_sae,  # noqa: E402
                                    stream, train_sae)
from workbench.widgets import FeatureExplorer  # noqa: E402

STEPS, BATCH, ROUNDS = int(os.environ.get("BENCH_STEPS", 200)), 512, int(os.environ.get("BENCH_ROUNDS", 3))
LAYER, SITE = 2, "resid"
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    torch.set_num_threads(1)
    model, task = wb.load_model("dyck2"), get_task("dyck2")
    t0 = time.perf_counter()
    acts = collect(model, task, LAYER, SITE, 2000, seed=0)
    fill = time.perf_counter() - t0
    buf = ActivationBuffer(acts)
    rates: dict[str, list[float]] = {"streamed": [], "buffer": []}
    for r in range(ROUNDS):  # interleaved, so drift on a shared machine hits both alike
        for name in ("streamed", "buffer"):
            src = stream(model, task, LAYER, SITE, BATCH, seed=r) if name == "streamed" else buf
            t0 = time.perf_counter()
            _, rec = train_sae(src, "topk", 4, seed=r, d_sae=128, steps=STEPS, batch_size=BATCH, progress=False)
            rates[name].append(rec["activations"] / (time.perf_counter() - t0))
    stream_rate, buf_rate = statistics.median(rates["streamed"]), statistics.median(rates["buffer"])
    print(f"buffer fill: {acts.shape[0]:,} activations traced in {fill:.2f} s ({acts.shape[0] / fill:,.0f}/s)")
    print(f"streamed through the traced model: {stream_rate:,.0f} activations/s (median of {ROUNDS})")
    print(f"precomputed buffer:                {buf_rate:,.0f} activations/s (median of {ROUNDS})")

    shipped = ROOT / "data" / "sae" / "dyck2.nc"
    if shipped.is_file():
        ds = wb.load(shipped)
        s = int(np.argmax(ds["l0"].values > 0))
        other = (s + 1) % ds.sizes["sae"]
        latent = int(np.nanargmax(ds["detection"].isel(sae=s).max("label").values))
        widget = FeatureExplorer(ds, sae=s, latent=latent, offline_budget=0)  # the kernel sends each pick's payload
        times = []
        for r in range(2 * ROUNDS):
            t0 = time.perf_counter()
            widget.latent_payload(s if r % 2 else other, latent)
            times.append(time.perf_counter() - t0)
        print(f"one latent's widget payload from the shipped Dataset: {statistics.median(times) * 1e3:.1f} ms")

        sae = load_sae(ROOT / "data" / "sae" / "dyck2" / str(ds["sae"].values[s]))
        a = ds.attrs
        times = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            got = latent_scores(model, task, sae, latent, LAYER, SITE, n_strings=int(a["n_eval_strings"]),
                                seed=int(a["eval_seed"]), max_strings=int(a["max_strings"]))
            one = ds.isel(sae=[s], latent=[latent]).copy(deep=True)  # the Dataset's layout; this latent's numbers
            show = got["samples"]["string"] < int(a["n_show_strings"])
            one["activation"].values[0, :, 0] = got["activation"][show]
            one["detection"].values[0, 0] = got["detection"]
            one["frequency"].values[0, 0] = got["frequency"]
            one["causal_effect"].values[0, 0] = got["causal_effect"][""]
            FeatureExplorer(one, offline_budget=0)  # builds the latent's payload and the SAE's scores
            times.append(time.perf_counter() - t0)
        print(f"one latent's dashboard from scratch (trace, encode, score, ablate, then the widget's payload): "
              f"{statistics.median(times):.2f} s")
    else:
        print(f"no {shipped}: run python -m workbench.studies.sae --out data/sae for the dashboard timing")
    print(f"buffer / streamed throughput: {buf_rate / stream_rate:.1f}x")


if __name__ == "__main__":
    main()
