"""The shipped SAE study (``data/sae/``): grids of sparse autoencoders on two Dyck-2 models' residual streams,
judged against the task's ground truth.

Two models of the same shape (GPT-2, 2 blocks, d=64, :mod:`workbench.zoo.dyck2`) and the same task:

* ``dyck2``: the zoo classifier, trained only on the answer at ``[end]`` (Dyck-2 word or near miss);
* ``dyck2-lm``: the same architecture trained on that answer plus next-token prediction on the words (the
  formal-language SAE paper trains language models on Dyck-2; predicting the next bracket needs the top of the stack
  at every position). Trained by the zoo (``python -m workbench.zoo.dyck2 --lm --out data/zoo``, about 3 CPU
  minutes; ``--train-lm-model`` here runs the same).

Per model, the grid is :data:`ARCHITECTURES` x two sparsity levels each (:data:`SPARSITIES`) x :data:`SEEDS`,
``d_sae`` = :data:`D_SAE`, on the residual stream after the last block (resid layer :data:`LAYER`), trained on a
precomputed buffer of :data:`BUFFER_STRINGS` strings traced with nnsight. Files:

* ``data/sae/<model>/<member>/``: every SAE in SAELens's layout (``cfg.json`` + ``sae_weights.safetensors``);
* ``data/sae/<model>.nc``: the evaluation Dataset (passes :func:`workbench.data.validate_sae`; the FeatureExplorer's
  input): reconstruction, spliced accuracy, detection and causal effect per latent, the neuron baseline, and the
  Hungarian match of every SAE to the next seed of its architecture and sparsity.

Regenerate (about 5 minutes per model on 2 cores; ``--train-lm-model`` first retrains ``dyck2-lm``)::

    python -m workbench.studies.sae --out data/sae
    python -m workbench.studies.sae --train-lm-model --zoo data/zoo --out data/sae

Finished SAEs are kept (an interrupted run resumes; ``--force`` retrains them).

>>> len(ARCHITECTURES) * 2 * len(SEEDS), MODELS
(18, ('dyck2', 'dyck2-lm'))
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

MODELS = ("dyck2", "dyck2-lm")
LAYER, SITE = 2, "resid"
ARCHITECTURES = ("relu_l1", "topk", "batchtopk")
SPARSITIES = {"relu_l1": (0.003, 0.03), "topk": (2, 8), "batchtopk": (2, 8)}
SEEDS = (0, 1, 2)
D_SAE = 128
BUFFER_STRINGS = 2000
SETTINGS = {"d_sae": D_SAE, "steps": 1500, "batch_size": 512, "lr": 2e-3}
EVAL_STRINGS, SHOW_STRINGS = 300, 30


def train_lm_model(zoo: Path, work: Path | None = None, progress: bool = True) -> Path:
    """Retrain ``dyck2-lm`` with the zoo's trainer (:func:`workbench.zoo.dyck2.train_run`, objective ``"lm"``;
    resumable in ``work``) and ship it to ``zoo/dyck2-lm``; returns that folder.

    >>> train_lm_model(Path("/tmp/zoo"))   # doctest: +SKIP
    PosixPath('/tmp/zoo/dyck2-lm')
    """
    from workbench.zoo import dyck2

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(work) if work is not None else Path(tmp)
        dyck2.train_run(work, progress=progress, objective="lm")
        return dyck2.ship(work, zoo)


def run_model(name: str, out: Path, force: bool = False, workers: int = 1, progress: bool = True) -> list[Path]:
    """Train one model's grid (resumably) into ``out/<name>/`` and write its evaluation Dataset ``out/<name>.nc``;
    return the paths written.

    >>> run_model("dyck2", Path("data/sae"))   # doctest: +SKIP
    [PosixPath('data/sae/dyck2.nc'), PosixPath('data/sae/dyck2')]
    """
    import workbench as wb
    from workbench.analyses.sae import (ActivationBuffer, collect, get_task, grid_members, hook_name, load_sae,
                                        train_grid)
    from workbench.analyses.sae.evaluate import evaluate
    from workbench.data import save, validate_sae

    out = Path(out)
    saes_dir = out / name
    if force and saes_dir.exists():
        shutil.rmtree(saes_dir)
    model = wb.load_model(name)
    task = get_task(name)
    with tempfile.TemporaryDirectory() as tmp:
        buf_path = Path(tmp) / "acts.safetensors"
        ActivationBuffer(collect(model, task, LAYER, SITE, BUFFER_STRINGS, seed=0)).save(str(buf_path))
        status = train_grid({"kind": "buffer", "path": str(buf_path)}, saes_dir, ARCHITECTURES, SPARSITIES, SEEDS,
                            settings=SETTINGS, metadata={"model_name": model.name, "hook_name": hook_name(LAYER, SITE),
                                                         "layer": LAYER, "site": SITE, "task": task.name},
                            workers=workers, progress=progress)
    failed = [k for k, v in status.items() if v == "failed"]
    if failed:
        raise RuntimeError(f"SAE grid members {failed} failed; see {saes_dir / 'failures.json'} and rerun.")
    saes = {}
    for key in grid_members(saes_dir):
        sae = load_sae(saes_dir / key, d_in=model.config.n_embd)
        own = sae.metadata["workbench"]
        own["sparsity"] = own["training"]["sparsity"]
        own["seed"] = own["training"]["seed"]
        saes[key] = sae
    ds = evaluate(model, task, saes, LAYER, SITE, n_strings=EVAL_STRINGS, n_show_strings=SHOW_STRINGS,
                  progress=progress)
    ds.attrs["regenerate"] = "python -m workbench.studies.sae --out data/sae"
    validate_sae(ds)
    path = save(ds, out / f"{name}.nc", compress=True)
    return [path, saes_dir]


def run(out: Path, force: bool = False, workers: int = 1, progress: bool = True,
        models: Sequence[str] = MODELS) -> list[Path]:
    """Every model's grid and Dataset (:func:`run_model` for each of ``models``).

    >>> run(Path("data/sae"), models=["dyck2-lm"])   # doctest: +SKIP
    [PosixPath('data/sae/dyck2-lm.nc'), PosixPath('data/sae/dyck2-lm')]
    """
    return [p for name in models for p in run_model(name, out, force, workers, progress)]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    from workbench.zoo import registry

    ap = argparse.ArgumentParser(prog="python -m workbench.studies.sae", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/sae"))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--force", action="store_true", help="retrain SAEs that exist")
    ap.add_argument("--workers", type=int, default=1, help="Dask worker processes for the grid")
    ap.add_argument("--train-lm-model", action="store_true", help="first (re)train the dyck2-lm zoo model")
    ap.add_argument("--zoo", type=Path, default=registry.zoo_dir(),
                    help="zoo folder for --train-lm-model (default: the one the study loads models from, "
                         "$WORKBENCH_ZOO or data/zoo)")
    a = ap.parse_args(argv)
    if a.train_lm_model:
        print(f"wrote {train_lm_model(a.zoo)}")
    for path in run(a.out, a.force, a.workers, models=a.models):
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
        print(f"wrote {path} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
