"""SAE training throughput with activations streamed through the traced model against a precomputed buffer, in the
same run, and the time to build one latent's dashboard data.

Model: the Dyck-2 zoo model (2 blocks, d=64), residual stream after the last block, as in the shipped study. Both
variants train the same TopK SAE (k=4, d_sae=128, batch 512 activations, Adam) for ``STEPS`` steps on 1 CPU thread:

* **streamed**: every batch comes from fresh task strings traced with nnsight (:func:`workbench.analyses.sae.stream`:
  generate strings, trace to the site, keep the real tokens, shuffle in a small reservoir);
* **buffer**: batches drawn from activations traced once beforehand (:class:`workbench.analyses.sae.ActivationBuffer`);
  the time to fill the buffer is printed beside it.

Dashboard: one latent's data (:func:`workbench.analyses.sae.dashboard.latent_dashboard`: histogram, top contexts
with every token's activation, label scores, causal effect, decoder tokens, cross-seed match) from the shipped
Dataset ``data/sae/dyck2.nc``; and from scratch (trace 300 strings, encode, score the labels, ablate the latent
inside the model on its strings, then the same summary). Medians of ``ROUNDS``.

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
from workbench.analyses.sae import (ActivationBuffer, activations_of, collect, get_task, stream,  # noqa: E402
                                    train_sae)
from workbench.analyses.sae.dashboard import latent_dashboard  # noqa: E402

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
        latent = int(np.nanargmax(ds["detection"].isel(sae=s).max("label").values))
        times = []
        for _ in range(ROUNDS + 2):
            t0 = time.perf_counter()
            latent_dashboard(ds, s, latent)
            times.append(time.perf_counter() - t0)
        print(f"one latent's dashboard data from the shipped Dataset: {statistics.median(times) * 1e3:.1f} ms")
        from workbench.analyses.sae import load_sae
        from workbench.analyses.sae.evaluate import _strings_where, detection_scores
        from workbench.analyses.sae.tasks import label_matrix, label_names

        sae = load_sae(ROOT / "data" / "sae" / "dyck2" / str(ds["sae"].values[s]))
        times = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            smp = task.samples(300, 1234)
            x = activations_of(model, smp, LAYER, SITE)
            with torch.no_grad():
                f = sae.encode(x)[:, latent].numpy()
            names = label_names(task)
            labels = label_matrix(smp, names)
            det = detection_scores(f[:, None], labels, names)[0]
            strings = _strings_where(smp, labels[:, int(det.argmax())], names[int(det.argmax())], len(smp["ids"]), 32,
                                     np.random.default_rng(0))
            from workbench.analyses.sae.activations import trace_site

            ids = np.asarray(smp["ids"])[strings]
            d = sae.W_dec[latent]
            _, clean = trace_site(model, ids, LAYER, SITE, logits=True)
            _, ablated = trace_site(model, ids, LAYER, SITE, logits=True,
                                    edit=lambda h: h - sae.encode(h)[..., latent: latent + 1] * d)
            float((task.readout(ablated, ids) - task.readout(clean, ids)).abs().mean())
            np.histogram(f[f > 0], bins=20)
            times.append(time.perf_counter() - t0)
        print(f"one latent's dashboard data from scratch (trace, encode, score, ablate): "
              f"{statistics.median(times):.2f} s")
    else:
        print(f"no {shipped}: run python -m workbench.studies.sae --out data/sae for the dashboard timing")
    print(f"buffer / streamed throughput: {buf_rate / stream_rate:.1f}x")


if __name__ == "__main__":
    main()
