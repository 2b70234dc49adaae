"""POLCA's per-sample directional derivatives three ways, measured in one run: forward mode against per-sample
gradients (``torch.func.vmap``) and against a per-sample backward loop.

What is computed: ``D[b, x] = <b, grad l(x; theta)>`` for K orthonormal directions and every answer-token sample
(4 per problem) of the ``addition`` zoo model (3 layers, d = 64, 152,512 parameters), at both checkpoints of one
checkpoint pair (the shipped final weights and one more AdamW step from them), then each sample's first-order POLCA
term ``D_t[b, x] <b, theta_{t+1} - theta_t>``. Three implementations (``workbench.analyses.polca.gradients``):

* forward mode (``project_jvp``): one ``torch.func.jvp`` of the per-sample loss vector along each direction
  (``vmap`` over 8 directions at a time, 64 sequences at a time), eager, and the same function through
  ``torch.compile`` (``compile=True``; its one-time compilation is timed and printed separately: it pays off when the
  same model is decomposed at many checkpoints, as POLCA does);
* vmap per-sample gradients (``project_vmap``): ``vmap(jacrev)`` gives every sample's full gradient, then ``G @ B.T``;
* the per-sample backward loop: for each sample, a forward pass of its text and a backward pass of its loss (what one
  writes without torch.func); a second loop variant shares one forward per text between its 4 samples.

All must give the same numbers: max |difference| from the loop <= 1e-5 relative to the largest |D| (float32; checked
before any ratio is printed; the absolute difference is printed too). Timings
interleave the variants round-robin (medians), every variant with the same number of threads (``--threads``: all
cores by default, as a user runs it; ``--threads 1`` gives the single-core figures), on the same machine in the same
run. Batched forward mode uses the cores; the per-sample loop's tiny kernels hardly can, and may run slower on more
threads, so with several threads the loop is also timed on one and the ratios use its faster setting. Forward mode
costs about one forward pass per direction, per-sample gradients about one backward pass per sample whatever K: the
benchmark also prints the K at which vmap per-sample gradients catch up, which is why ``project(method="auto")`` uses
forward mode up to ``AUTO_JVP_MAX_DIRECTIONS`` directions and vmap above.

Run: python benchmarks/polca.py [--k 8] [--problems 500] [--rounds 3] [--threads N]    (prints the loop ratio last)
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
from workbench.analyses.polca.basis import random_basis  # noqa: E402
from workbench.analyses.polca.gradients import (AUTO_JVP_MAX_DIRECTIONS, FlatModel, Tokens, project_jvp,  # noqa: E402
                                           project_loop, project_vmap, tokenize_ids)
from workbench.zoo import addition as A  # noqa: E402
from workbench.zoo import registry  # noqa: E402
from workbench.zoo.tasks import addition as task  # noqa: E402


def per_sample_loop(fm: FlatModel, theta: torch.Tensor, toks: Tokens, vectors: torch.Tensor) -> torch.Tensor:
    """One forward and one backward per sample, each gradient projected on the directions."""
    out = torch.empty((vectors.shape[0], toks.n_samples), dtype=fm.dtype)
    for i in range(toks.n_samples):
        leaf = theta.detach().clone().requires_grad_(True)
        s = int(toks.seq[i])
        logits = fm.logits(leaf, toks.input_ids[s: s + 1], toks.attention_mask[s: s + 1])[0]
        loss = torch.nn.functional.cross_entropy(logits[int(toks.pos[i])][None], toks.target[i: i + 1])
        (g,) = torch.autograd.grad(loss, leaf)
        out[:, i] = vectors @ g
    return out


def on_one_thread(fn):
    """``fn`` run with one torch thread (the per-sample loop's tiny kernels are often faster so), threads restored."""
    def run(*args):
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args)
        finally:
            torch.set_num_threads(before)
    return run


def checkpoint_pair(fm: FlatModel) -> tuple[torch.Tensor, torch.Tensor]:
    """The shipped weights and the weights one AdamW step (lr 3e-3, a batch of 64 training problems) later."""
    theta0 = fm.flat()
    model = fm.model
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, betas=(0.9, 0.95))
    batch = A.sampler(A.validation_problems())(np.random.default_rng(0), 64)
    model.train()
    loss = A.answer_loss(model, batch)
    loss.backward()
    opt.step()
    model.eval()
    theta1 = fm.flat()
    with torch.no_grad():  # restore the shipped weights
        torch.nn.utils.vector_to_parameters(theta0, model.parameters())
    return theta0, theta1


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=8, help="basis vectors (>= 8)")
    ap.add_argument("--problems", type=int, default=500, help="problems (4 answer-token samples each)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads for every variant")
    a = ap.parse_args(argv)
    if a.k < 8:
        raise SystemExit(f"--k must be at least 8 basis vectors, got {a.k}.")
    torch.set_num_threads(a.threads)
    import transformers as T

    fm = FlatModel(T.AutoModelForCausalLM.from_pretrained(registry.path("addition")))
    probs = A.validation_problems(a.problems)
    toks = tokenize_ids(task.encode(probs).tolist(), [list(task.TARGET_POSITIONS)] * len(probs))
    vectors = torch.as_tensor(random_basis(fm.n_params, a.k, seed=0), dtype=torch.float32)
    theta0, theta1 = checkpoint_pair(fm)
    coord = (vectors.double() @ (theta1 - theta0).double()).float()
    print(f"model: addition zoo, {fm.n_params:,} parameters; {toks.n_samples:,} samples ({a.problems} problems x 4 "
          f"answer tokens); K = {a.k} orthonormal directions; one checkpoint pair; {a.threads} thread(s) each; "
          f"{a.rounds} rounds")

    t0 = time.perf_counter()
    project_jvp(fm, theta0, toks, vectors, compile=True)
    compile_s = time.perf_counter() - t0
    print(f"torch.compile of the forward-mode chunk (one time): {compile_s:.0f} s", flush=True)
    variants = {
        "forward mode (jvp)": lambda th: project_jvp(fm, th, toks, vectors),
        "forward mode, compiled": lambda th: project_jvp(fm, th, toks, vectors, compile=True),
        "vmap per-sample gradients": lambda th: project_vmap(fm, th, toks, vectors),
        "loop, shared forward per text": lambda th: project_loop(fm, th, toks, vectors),
        "per-sample backward loop": lambda th: per_sample_loop(fm, th, toks, vectors),
    }
    if a.threads > 1:  # the baseline at its own best: also on one thread
        one = on_one_thread(per_sample_loop)
        variants["per-sample backward loop, 1 thread"] = lambda th: one(fm, th, toks, vectors)
    times: dict[str, list[float]] = {k: [] for k in variants}
    results: dict[str, list[torch.Tensor]] = {}
    for r in range(a.rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            pair = [fn(theta0), fn(theta1)]  # both checkpoints of the pair
            times[name].append(time.perf_counter() - t0)
            results.setdefault(name, pair)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    ref = results["per-sample backward loop"]
    scale = max(float(r.abs().max()) for r in ref)
    for name, pair in results.items():
        err = max(float((p - q).abs().max()) for p, q in zip(pair, ref))
        terms, ref_terms = pair[0] * coord[:, None], ref[0] * coord[:, None]
        err_terms = float((terms - ref_terms).abs().max()) / float(ref_terms.abs().max())
        print(f"{name:34s} max |D - loop| = {err:.1e} ({err / scale:.1e} of max |D| = {scale:.2f}); "
              f"first-order terms {err_terms:.1e} relative")
        assert err / scale <= 1e-5 and err_terms <= 1e-5, f"{name} differs from the loop by {err:.2e}"
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:34s} {v:8.2f} s (median of {a.rounds})")
    fwd = med["forward mode (jvp)"]
    per_direction = fwd / a.k
    crossover = med["vmap per-sample gradients"] / per_direction
    print(f"forward mode costs {per_direction:.3f} s per direction (both checkpoints), vmap per-sample gradients "
          f"{med['vmap per-sample gradients']:.2f} s for any K: vmap catches up at K ~ {crossover:.0f} "
          f"(project(method='auto') uses forward mode up to {AUTO_JVP_MAX_DIRECTIONS} directions)")
    comp = med["forward mode, compiled"]
    print(f"vmap per-sample gradients / forward mode: {med['vmap per-sample gradients'] / fwd:.1f}x eager, "
          f"{med['vmap per-sample gradients'] / comp:.1f}x compiled")
    loops = {k: v for k, v in med.items() if k.startswith("per-sample backward loop")}
    best = min(loops, key=loops.get)
    loop = loops[best]
    print(f"forward mode eager / compiled: {fwd / comp:.1f}x (compilation {compile_s:.0f} s once, repaid after "
          f"{compile_s / max(1e-9, (fwd - comp) / 2):.0f} checkpoints)")
    print(f"loop with a shared forward / forward mode: {med['loop, shared forward per text'] / fwd:.1f}x eager, "
          f"{med['loop, shared forward per text'] / comp:.1f}x compiled")
    print(f"the per-sample loop's faster setting: {best!r} ({loop:.2f} s)")
    print(f"per-sample backward loop / forward mode (eager): {loop / fwd:.1f}x")
    print(f"per-sample backward loop / forward mode (compiled, steady state): {loop / comp:.1f}x")

if __name__ == "__main__":
    main()
