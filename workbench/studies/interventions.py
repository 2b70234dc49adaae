"""The shipped activation-patching study (``data/interventions/``): factual recall, indirect-object identification
(IOI) and formatted multiple choice on SmolLM2-135M-Instruct and Gemma-3-270M.

The prompt pairs are the project's hand-written sets (``data/interventions/*.tsv``, read by
:mod:`workbench.zoo.tasks.interventions`). For each model the study writes:

* ``accuracy.nc``: every pair's clean and corrupted logit difference (:func:`workbench.analyses.patching.pair_metrics`)
  for all three sets and both models, so each model's accuracy is known before anything is patched;
* ``<model>_factual.nc`` and ``<model>_ioi.nc``: exact patch maps (resid, attn and mlp at every layer and position,
  denoising, each pair's ``logit_diff(answer, wrong)``) of :data:`N_EXACT` pairs of one template whose prompts have the
  same token length under that model, so positions line up and the mean over pairs means something (factual: the
  landmark -> city relation of Meng et al. 2022; IOI: the first template of Wang et al. 2022); IOI adds every head,
  patched at every position;
* ``<model>_factual_attribution.nc``, ``<model>_ioi_attribution.nc``: attribution patching of the same pairs, with its
  Pearson r against the exact map;
* ``<model>_mcqa.nc``: the exact resid map of :data:`N_MCQA` multiple-choice pairs of one length, and
  ``<model>_mcqa_lens.nc``: the probability of " A" .. " D" at the final position at every layer for every
  multiple-choice prompt (:func:`workbench.analyses.lens.answer_lens`), the vocabulary projection of Wiegreffe et al.
  (2025, arXiv 2407.15018).

Regenerate everything (about 25 minutes on 2 cores)::

    python -m workbench.studies.interventions --out data/interventions

A finished file is kept (``--force`` recomputes it), so an interrupted run loses only the file in progress.

>>> MODELS["smollm2"]
'smollm2-135m'
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from workbench.analyses import patching as P
from workbench.analyses.lens import answer_lens
from workbench.zoo.tasks import interventions as iv

MODELS = {"smollm2": "smollm2-135m", "gemma3": "gemma3-270m"}
N_EXACT, N_MCQA = 8, 4
LETTERS = [" A", " B", " C", " D"]


def shipped_dir() -> Path:
    """``data/interventions`` in the repository (or ``$WORKBENCH_DATA/interventions``)."""
    return iv.data_dir()


def same_length(model: Any, pairs: Sequence[iv.Pair], n: int) -> list[iv.Pair]:
    """The first ``n`` pairs (file order) of the most common token length under ``model`` (ties: the shorter), so that
    their positions line up.

    >>> same_length(model, iv.ioi(), 8)                                                     # doctest: +SKIP
    """
    lengths = [len(model.tokenize(p.clean).token_ids[0]) for p in pairs]
    counts = Counter(lengths)
    best = min(counts, key=lambda length: (-counts[length], length))
    return [p for p, length in zip(pairs, lengths) if length == best][:n]


def factual_pairs(model: Any, n: int = N_EXACT) -> list[iv.Pair]:
    """Landmark -> city pairs of one token length."""
    rows, pairs = iv.rows("factual"), iv.factual()
    return same_length(model, [p for p, r in zip(pairs, rows) if r["relation"] == "landmark"], n)


def ioi_pairs(model: Any, n: int = N_EXACT) -> list[iv.Pair]:
    """Pairs of the first IOI template."""
    rows, pairs = iv.rows("ioi"), iv.ioi()
    first = rows[0]["template"]
    return same_length(model, [p for p, r in zip(pairs, rows) if r["template"] == first], n)


def accuracy(models: dict[str, Any]) -> xr.Dataset:
    """Clean and corrupted logit differences of every pair of every set: Dataset (model, set, pair), NaN past a
    set's end, with each model's accuracies and mean logit differences per set on (model, set)."""
    sizes = {name: len(iv.load(name)) for name in iv.SETS}
    width = max(sizes.values())
    clean = np.full((len(models), len(iv.SETS), width), np.nan, np.float32)
    corrupted = clean.copy()
    for i, model in enumerate(models.values()):
        for j, name in enumerate(iv.SETS):
            ds = P.pair_metrics(model, iv.load(name), progress=False)
            clean[i, j, : sizes[name]] = ds.clean_metric.values
            corrupted[i, j, : sizes[name]] = ds.corrupted_metric.values
    dims = ("model", "set", "pair")
    ds = xr.Dataset({"clean_logit_diff": (dims, clean), "corrupted_logit_diff": (dims, corrupted)},
                    coords={"model": list(models), "set": list(iv.SETS), "pair": np.arange(width),
                            "n_pairs": ("set", [sizes[s] for s in iv.SETS])})
    valid = np.isfinite(ds.clean_logit_diff)
    return ds.assign(
        clean_accuracy=(ds.clean_logit_diff > 0).where(valid).mean("pair"),
        corrupted_accuracy=(ds.corrupted_logit_diff < 0).where(valid).mean("pair"),
        mean_clean_logit_diff=ds.clean_logit_diff.mean("pair"),
        mean_corrupted_logit_diff=ds.corrupted_logit_diff.mean("pair")).assign_attrs(
        what="logit_diff(answer, wrong) at the final position, unpatched; clean_accuracy: share of clean prompts that "
             "prefer their answer, corrupted_accuracy: share of corrupted prompts that prefer theirs (the wrong one)",
        metric="logit_diff(answer, wrong)")


def mcqa_lens(model: Any) -> xr.Dataset:
    """P(" A" .. " D") at the final position of every clean multiple-choice prompt, at every layer."""
    pairs = iv.mcqa()
    probs = answer_lens(model, [p.clean for p in pairs], LETTERS)
    return probs.to_dataset(name="answer_prob").assign_coords(
        correct=("prompt", [p.answer for p in pairs])).assign_attrs(probs.attrs)


def run(out: str | Path, names: Sequence[str] | None = None, force: bool = False, progress: bool = True) -> list[Path]:
    """Compute every file of the study under ``out`` (skipping finished ones unless ``force``)."""
    import workbench as wb

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(names or MODELS)
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise ValueError(f"names {unknown} are not models of this study; choose from {list(MODELS)}.")
    models = {name: wb.load_model(MODELS[name]) for name in names}
    written: list[Path] = []

    def save(ds: xr.Dataset, filename: str, t0: float) -> None:
        path = out / filename
        wb.save(ds.assign_attrs(compute_seconds=round(time.perf_counter() - t0, 1)), path, compress=True)
        written.append(path)

    def todo(filename: str) -> bool:
        return force or not (out / filename).is_file()

    if todo("accuracy.nc") and set(names) == set(MODELS):
        t0 = time.perf_counter()
        save(accuracy(models), "accuracy.nc", t0)
    for name, model in models.items():
        for task, pick, heads in (("factual", factual_pairs, False), ("ioi", ioi_pairs, True)):
            if todo(f"{name}_{task}.nc") or todo(f"{name}_{task}_attribution.nc"):
                pairs = pick(model)
                t0 = time.perf_counter()
                exact = P.patch(model, pairs, heads=heads, progress=progress)
                save(exact, f"{name}_{task}.nc", t0)
                t0 = time.perf_counter()
                est = P.attribution_patch(model, pairs, heads=heads, exact=exact, progress=progress)
                save(est, f"{name}_{task}_attribution.nc", t0)
        if todo(f"{name}_mcqa.nc"):
            t0 = time.perf_counter()
            save(P.patch(model, same_length(model, iv.mcqa(), N_MCQA), sites=("resid",), progress=progress),
                 f"{name}_mcqa.nc", t0)
        if todo(f"{name}_mcqa_lens.nc"):
            t0 = time.perf_counter()
            save(mcqa_lens(model), f"{name}_mcqa_lens.nc", t0)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.studies.interventions", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/interventions"))
    ap.add_argument("--only", nargs="*", choices=list(MODELS), default=None, help="models (default: both)")
    ap.add_argument("--force", action="store_true", help="recompute files that exist")
    a = ap.parse_args(argv)
    for path in run(a.out, a.only, a.force):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
