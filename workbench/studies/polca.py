"""The shipped POLCA study: hidden breakthroughs in the ``addition`` zoo model's training run.

Runs :func:`workbench.analyses.polca.polca` on the checkpoints of :mod:`workbench.zoo.addition` (every
``--every``-th saved checkpoint), with the study's validation problems as samples (4 answer tokens each, labelled by
``place`` and ``carry``) and a fixed sample of training problems for the Hessian, then ships the Dataset (compressed
netCDF) to ``data/polca/addition_polca.nc``. Regenerate everything with one command::

    OMP_NUM_THREADS=1 python -m workbench.studies.polca --train --run /work/polca/run --root /work/polca/study \\
        --ship data/polca

``--train`` first trains the run (:func:`workbench.zoo.addition.train_run`, the same as
``python -m workbench.zoo.addition --work /work/polca/run``) and ships its final checkpoint as the zoo model
``addition`` (``data/zoo/addition``, or ``$WORKBENCH_ZOO``); without it the study reads an existing run. Both stages
resume where they stopped (a finished run is kept); the study's checkpoint decompositions run as Dask tasks (``--workers``).

>>> len(study_samples(3)[0]), study_samples(3)[1]["place"][:4].tolist()
(3, ['1000s', '100s', '10s', '1s'])
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.zoo import addition as A
from workbench.zoo.tasks import addition as task

HESSIAN_SEED = 77  # the fixed training sample of the Hessian
#: the planted positive control's settings (``--plant``)
PLANTED: dict[str, Any] = {"plant_step": 2000, "plant_mode": "ambiguous"}
#: the shipped study's settings
STUDY: dict[str, Any] = {"problems": 500, "hessian_problems": 512, "basis_every": 160, "every": 1,
                         "curvature_samples": 64, "curvature_every": 10, "store_every": 8,
                         "store_dtype": "float16"}


def study_samples(n: int = STUDY["problems"]) -> tuple[list, dict[str, np.ndarray]]:
    """The study's samples (the first ``n`` validation problems, 4 answer tokens each) and their labels.

    >>> s, labels = study_samples(1)
    >>> len(s), labels["place"].tolist()
    (1, ['1000s', '100s', '10s', '1s'])
    """
    from workbench.analyses.polca import Sample

    probs = A.validation_problems(n)
    table = task.answer_table(probs)
    samples = [Sample(p.text(), task.TARGET_POSITIONS) for p in probs]
    labels = {"place": table["place"].astype(object), "carry": table["carry"].astype(np.int8),
              "digit": table["digit"].astype(np.int8), "problem": table["problem"].astype(np.int32)}
    return samples, labels


def hessian_samples(n: int = STUDY["hessian_problems"]) -> list:
    """A fixed sample of training problems (never a validation problem) for the Hessian.

    >>> len(hessian_samples(4))
    4
    """
    from workbench.analyses.polca import Sample

    probs = task.problems(n, HESSIAN_SEED, exclude=A.validation_problems())
    return [Sample(p.text(), task.TARGET_POSITIONS) for p in probs]


def checkpoint_folders(run: str | Path, every: int = STUDY["every"]) -> list[Path]:
    """Every ``every``-th checkpoint folder of a training run (always the first and the last).

    >>> checkpoint_folders("/work/polca/run")[:2]                                           # doctest: +SKIP
    [PosixPath('/work/polca/run/step_0000000'), PosixPath('/work/polca/run/step_0000020')]
    """
    folders = sorted(Path(run).glob("step_*"))
    if not folders:
        raise FileNotFoundError(f"no step_* checkpoints in {str(run)!r}; train first (python -m workbench.zoo.addition).")
    picked = folders[::every]
    return picked if picked[-1] == folders[-1] else picked + [folders[-1]]


def run_study(run: str | Path, root: str | Path, settings: dict[str, Any] | None = None, workers: int = 1,
              client: Any = None, progress: bool = True) -> Any:
    """POLCA on the run's checkpoints; returns the study Dataset (also in ``root/polca.nc``).

    >>> ds = run_study("/work/polca/run", "/work/polca/study")                              # doctest: +SKIP
    """
    from workbench.analyses.polca import polca

    s = {**STUDY, **(settings or {})}
    samples, labels = study_samples(s["problems"])
    t0 = time.time()
    ds = polca(checkpoint_folders(run, s["every"]), samples, root, hessian_samples=hessian_samples(
        s["hessian_problems"]), basis_every=s["basis_every"], labels=labels,
        curvature_samples=s["curvature_samples"], curvature_every=s["curvature_every"],
        store_every=s["store_every"], store_dtype=s["store_dtype"], client=client, workers=workers,
        progress=progress)
    ds.attrs["study_seconds"] = round(time.time() - t0, 1)
    ds.attrs["study_settings"] = json.dumps(s)
    return ds


def ship(ds: Any, dest: str | Path, name: str = "addition_polca.nc") -> Path:
    """Save the study Dataset compressed to ``dest/name`` (``addition_planted.nc`` for the planted run).

    >>> ship(ds, "data/polca")                                                               # doctest: +SKIP
    """
    from workbench.data import save

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    return save(ds, dest / name, compress=True)


def mark_planted(ds: Any, run: str | Path) -> Any:
    """The planted study's Dataset: sample coord ``planted`` (the tokens kept from the loss), attrs ``planted_step``,
    ``plant_mode`` and ``drop_step`` (from the run's report) and ``planted_table`` (:func:`planted_table`, JSON).

    >>> mark_planted(ds, "/work/polca/planted")                                               # doctest: +SKIP
    """
    report = json.loads((Path(run) / "run.json").read_text())
    if "plant_step" not in report:
        raise ValueError(f"run {str(run)!r} has no planted group; train it with --plant STEP.")
    problems = A.validation_problems(int(ds.sizes["sample"]) // 4)
    ds = ds.assign_coords(planted=("sample", A.planted_tokens(task.encode(problems)).ravel()))
    ds.attrs.update(planted_step=int(report["plant_step"]), plant_mode=str(report["plant_mode"]),
                    drop_step=int(report["drop_step"]))
    ds.attrs["planted_table"] = json.dumps(planted_table(ds))
    return ds


def planted_table(ds: Any) -> list[dict[str, Any]]:
    """Per Table 1 approach, read from the file alone: the cluster that best matches the planted group
    (:func:`~workbench.analyses.polca.findings.planted_recovery` on ``approach_cluster``/``approach_break_step``),
    its carry homogeneity, planted recall, mean break step, whether that is after tau (hidden) and within delta of
    ``drop_step``, and whether it passes the issue's test (homogeneity >= 0.9 and at least half of the group).

    >>> planted_table(xr.open_dataset("data/polca/addition_planted.nc"))[0]["approach"]      # doctest: +SKIP
    'exact loss'
    """
    from dataclasses import asdict

    from workbench.analyses.polca import findings as F

    planted, carry = ds.planted.values.astype(bool), ds.carry.values.astype(bool)
    tau, delta, drop = float(ds.attrs["tau"]), float(ds.attrs["delta"]), float(ds.attrs["drop_step"])
    rows = []
    for a, name in enumerate(ds.approach.values):
        r = F.planted_recovery(ds.approach_cluster.values[a], ds.approach_break_step.values[a], planted, carry, tau)
        row: dict[str, Any] = {"approach": str(name), "found": False}
        if r is not None:
            row.update(asdict(r), found=r.found(), within_delta=bool(abs(r.break_step - drop) <= delta))
            row["direction"] = int(ds.approach_direction.values[a, r.direction])
        rows.append(row)
    return rows


def shipped_path() -> Path:
    """``data/polca/addition_polca.nc`` in the repository.

    >>> shipped_path().name
    'addition_polca.nc'
    """
    return Path(__file__).resolve().parents[2] / "data" / "polca" / "addition_polca.nc"


def planted_path() -> Path:
    """``data/polca/addition_planted.nc``: the planted positive control (``--plant``).

    >>> planted_path().name
    'addition_planted.nc'
    """
    return shipped_path().with_name("addition_planted.nc")


def sensitivity(root: str | Path, sizes: Sequence[tuple[int, int]] = ((60, 133), (60, 30), (60, 10), (30, 5)),
                store_every: int = STUDY["store_every"]) -> list[dict[str, Any]]:
    """Max carry homogeneity and hidden-breakthrough share of POLCA (paper's ratio second order), its trapezoid
    variant and first-order POLCA for several HDBSCAN ``(min_cluster_size, min_samples)``, from a study's
    decompositions (a sensitivity check, reported beside the paper-scaled sizes, never instead of them).

    >>> sensitivity("/work/polca/study")                                                     # doctest: +SKIP
    """
    from workbench.analyses.polca import findings as F
    from workbench.analyses.polca import gather
    from workbench.data import load

    g = gather(root)
    samples = load(Path(root) / "samples.nc")
    k = load(Path(root) / "basis.nc").sizes["basis"]
    steps, d, c, cv, loss = g["steps"], g["d"][:, :k], g["coord"][:, :k], g["curvature"][:, :k], g["loss"]
    keep = np.unique(np.r_[np.arange(0, len(steps), store_every), len(steps) - 1])
    tau = F.flattening_step(loss.mean(1), steps)
    delta = max(float(steps[keep][1] - steps[keep][0]), round(tau / 10 / (steps[1] - steps[0])) * (steps[1] - steps[0]))
    carry, place = samples.carry.values.astype(bool), samples.place.values.astype(str)
    first = F.first_order_terms(d, c)
    variants = {"POLCA": first + F.second_order_terms(d, c, cv),
                "POLCA, trapezoid second order": first + F.trapezoid_terms(d, c), "first-order POLCA": first}
    out = []
    for mcs, ms in sizes:
        for name, terms in variants.items():
            pl = F.projected_loss(terms)[:, :, keep]
            labels = F.cluster_vectors(pl, mcs, ms)
            brk = np.stack([F.break_steps(pl[b], steps[keep], delta) for b in range(k)])
            s = F.summarize(F.cluster_stats(labels, brk, tau, carry, place))
            out.append({"min_cluster_size": mcs, "min_samples": ms, "method": name, "clusters": s["n_clusters"],
                        "max_homogeneity": s["max_homogeneity"], "hidden_share": s["hidden_share"]})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.studies.polca", description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="training run (python -m workbench.zoo.addition --work)")
    ap.add_argument("--train", action="store_true",
                    help="train the run first (resumable) and ship its final checkpoint to the zoo (data/zoo/addition)")
    ap.add_argument("--root", type=Path, required=True, help="POLCA work folder (outside the repository)")
    ap.add_argument("--ship", type=Path, default=None, help="copy the Dataset here (data/polca)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--plant", type=int, default=None, metavar="STEP",
                    help="the planted positive control: train with the 10s-place carry tokens kept from the loss until "
                         f"STEP (the shipped one: {PLANTED['plant_step']}) and ship addition_planted.nc")
    ap.add_argument("--plant-mode", choices=A.PLANT_MODES, default=PLANTED["plant_mode"])
    for k, v in STUDY.items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    a = ap.parse_args(argv)
    settings = {k: getattr(a, k) for k in STUDY}
    if a.train:
        if (a.run / "run.json").is_file():  # a finished run is kept, never retrained
            print("training run already finished:", a.run, flush=True)
        else:
            report = A.train_run(a.run, plant_step=a.plant, plant_mode=a.plant_mode)
            print(json.dumps({k: report[k] for k in ("seconds", "parameters", "validation", "drop_step")
                              if k in report}), flush=True)
        if a.plant is None:  # the natural run is the zoo model; a planted run never replaces it
            from workbench.zoo.registry import zoo_dir

            print("shipped", A.ship(a.run, zoo_dir()), flush=True)
    ds = run_study(a.run, a.root, settings, workers=a.workers)
    print(json.dumps({m: [round(float(h), 3), round(float(s), 3)] for m, h, s in
                      zip(ds.approach.values, ds.table_homogeneity.values, ds.table_hidden_share.values)}))
    if a.plant is not None:
        ds = mark_planted(ds, a.run)
        print(ds.attrs["planted_table"], flush=True)
    if a.ship is not None:
        print("shipped", ship(ds, a.ship, "addition_planted.nc" if a.plant is not None else "addition_polca.nc"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
