"""Logit lens at scale: ``workbench.logit_lens`` against a straightforward full-vocabulary implementation, one run.

Model: the real SmolLM2-135M (``load_model("smollm2-135m")``: 30 blocks -> 31 residual layers, vocabulary 49,152),
fp32, one text of ``BENCH_TOKENS`` (default 1,024) tokens, top-10 and entropy at every layer and position.

- workbench: ``logit_lens(model, text, k=10)``: projection inside the nnsight trace, one layer and one chunk of
  positions at a time (at most ``LOGITS_BUDGET`` logits alive), only top-k and entropy kept.
- naive: plain transformers forward with ``output_hidden_states=True``, then every layer's full fp32 logits
  (final norm -> LM head) materialised and kept in a list, then softmax / top-k / entropy over each.

Each variant runs in a fresh subprocess after loading the model; peak memory is the growth of the process's peak RSS
(Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` after loading) over its RSS before the analysis; time is wall
clock of the analysis alone. Both variants first run once on an 8-token text (pages in the memory-mapped weights,
pays imports and nnsight's first-trace costs), so only the analysis itself is measured. The two results are checked to agree (top-1 ids, probabilities).
If the naive variant's full tensor does not fit (``BENCH_NAIVE_LAYERS`` < 31), only that many layers' logits are kept
and the memory figure says so.

Run: python benchmarks/lens.py      (prints the memory ratio last)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
TOKENS = int(os.environ.get("BENCH_TOKENS", 1024))
K = 10


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def _text(model) -> str:
    words = ("the quick brown fox jumps over the lazy dog while a small bird sings in the old oak tree near "
             "the river and children play on the grass ").split()
    text = " ".join(words[i % len(words)] for i in range(TOKENS * 2))
    ids = model.tokenizer(text)["input_ids"][:TOKENS]
    return model.tokenizer.decode(ids)


def child(variant: str) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", 1)))
    from workbench import load_model, logit_lens

    model = load_model("smollm2-135m")
    text = _text(model)
    n_tok = len(model.tokenize(text).token_ids[0])
    hf = model.envoy._module
    # warm-up on a short text: pages in the memory-mapped weights and pays one-off costs (imports, nnsight's
    # first trace) before the measurement
    warm = " ".join(text.split()[:8])
    if variant == "workbench":
        logit_lens(model, warm, k=K)
    else:
        with torch.no_grad():
            hf(input_ids=torch.tensor([model.tokenizer(warm)["input_ids"]]), output_hidden_states=True)
    _reset_peak()
    before = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    if variant == "workbench":
        ds = logit_lens(model, text, k=K)
        top_ids = ds.token_id.values[:, :, 0]
        top_p = ds.prob.values[:, :, 0]
        layers = ds.sizes["layer"]
    else:
        keep = int(os.environ.get("BENCH_NAIVE_LAYERS", 31))
        ids = torch.tensor([model.tokenizer(text)["input_ids"]])
        with torch.no_grad():
            out = hf(input_ids=ids, output_hidden_states=True)
            hs = out.hidden_states  # Llama: the last entry already has the final norm applied
            logits = []
            for i, h in enumerate(hs[:keep]):
                x = h if i == len(hs) - 1 else hf.model.norm(h)
                logits.append(hf.lm_head(x)[0].float())  # (position, vocabulary), all kept
            top_ids, top_p = [], []
            for lg in logits:
                logp = torch.log_softmax(lg, -1)
                top = logp.topk(K, -1)
                _entropy = -(logp.exp() * logp).sum(-1)
                top_ids.append(top.indices[:, 0].numpy())
                top_p.append(top.values[:, 0].exp().numpy())
        top_ids, top_p, layers = np.stack(top_ids), np.stack(top_p), len(logits)
    seconds = time.perf_counter() - t0
    peak = _rss_kib("VmHWM")
    np.save(os.environ["BENCH_OUT"] + f".{variant}.npy", np.stack([top_ids.astype(np.float64), top_p]))
    print(json.dumps({"variant": variant, "seconds": seconds, "peak_growth_mib": (peak - before) / 1024,
                      "tokens": n_tok, "layers": layers, "vocab": int(model.config.vocab_size)}))


def main() -> None:
    import tempfile

    import numpy as np

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "bench")
        for variant in ("workbench", "naive"):
            env = {**os.environ, "BENCH_OUT": out}
            proc = subprocess.run([sys.executable, __file__, "--child", variant], env=env, capture_output=True,
                                  text=True)
            if proc.returncode:
                print(proc.stderr[-3000:])
                raise SystemExit(f"{variant} failed (exit {proc.returncode})")
            results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(json.dumps(results[variant]))
        wb, nv = np.load(out + ".workbench.npy"), np.load(out + ".naive.npy")
    layers = min(wb.shape[1], nv.shape[1])
    same = float((wb[0, :layers] == nv[0, :layers]).mean())
    dp = float(np.abs(wb[1, :layers] - nv[1, :layers]).max())
    w, n = results["workbench"], results["naive"]
    full = w["layers"] * w["tokens"] * w["vocab"]
    print(f"full layer x position x vocabulary: {w['layers']} x {w['tokens']} x {w['vocab']} = {full:,} logits "
          f"= {full * 4 / 2**30:.2f} GiB in fp32")
    note = "" if n["layers"] == w["layers"] else f" (naive kept only {n['layers']} of {w['layers']} layers)"
    print(f"agreement: top-1 ids equal at {same:.4%} of (layer, position); max |prob difference| {dp:.2e}")
    print(f"time: workbench {w['seconds']:.1f} s, naive {n['seconds']:.1f} s, ratio workbench/naive "
          f"{w['seconds'] / n['seconds']:.2f}")
    print(f"peak RSS growth: workbench {w['peak_growth_mib']:.0f} MiB, naive {n['peak_growth_mib']:.0f} MiB{note}")
    print(f"peak memory ratio workbench/naive: {w['peak_growth_mib'] / n['peak_growth_mib']:.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
