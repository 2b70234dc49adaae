"""The shipped latent-reasoning study (``data/latent/``): the Coconut zoo model's latent thoughts on held-out problems,
decoded with the logit lens, the decoded traces and their counterfactual verification.

Dilgren & Wiegreffe (2026), arXiv 2604.04902, at CPU scale. :func:`workbench.decode_latents` runs on the first 60
held-out arithmetic problems (:func:`workbench.zoo.latent.held_out`) with the top 10 tokens per cell, forward-chaining
decoding and 3 counterfactual checks, and the Dataset is saved as ``data/latent/coconut_heldout60.nc``. With
``--train`` the three zoo models it reads (``latent-coconut``, ``latent-cot``, ``latent-nocot``) are trained first,
by :func:`workbench.zoo.latent.train_all`, and shipped to the zoo folder (``$WORKBENCH_ZOO``, by default
``data/zoo``), which is where the decoding loads them from. One command regenerates everything::

    OMP_NUM_THREADS=1 python -m workbench.studies.latent --out data/latent --train --work /tmp/latent/work

(training: about 26 minutes on one core, and finished phases in ``--work`` are loaded, not retrained; decoding: under
a minute). Without ``--train`` only the decoding runs, on the zoo models already in ``data/zoo``.

>>> shipped_path().name
'coconut_heldout60.nc'
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

N_PROBLEMS, K, METHOD, CHECKS = 60, 10, "forward_chaining", 3
FILENAME = f"coconut_heldout{N_PROBLEMS}.nc"
#: the zoo's defaults for the shipped models (see :mod:`workbench.zoo.latent`)
TRAIN_STEPS = {"cot": 1500, "nocot": 1000, "coconut": 1200, "final": 1500}


def shipped_path() -> Path:
    """``data/latent/coconut_heldout60.nc`` in the repository."""
    return Path(__file__).resolve().parents[2] / "data" / "latent" / FILENAME


def decode(n_problems: int = N_PROBLEMS):
    """The study's Dataset: :func:`workbench.decode_latents` of ``latent-coconut`` on the first ``n_problems``
    held-out problems.

    >>> ds = decode(4)                                                                   # doctest: +SKIP
    >>> ds.sizes["problem"]                                                              # doctest: +SKIP
    4
    """
    from workbench.analyses.latent import decode_latents
    from workbench.backend import load_model
    from workbench.zoo.latent import held_out

    return decode_latents(load_model("latent-coconut"), held_out(n_problems), k=K, method=METHOD, checks=CHECKS)


def run(out: str | Path, n_problems: int = N_PROBLEMS) -> Path:
    """Decode and save the study under ``out`` (an interrupted save leaves any earlier file intact)."""
    from workbench.data import save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return save(decode(n_problems), out / f"coconut_heldout{n_problems}.nc")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.studies.latent", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/latent"), help="folder of the decoded Dataset")
    ap.add_argument("--problems", type=int, default=N_PROBLEMS, help="held-out problems to decode")
    ap.add_argument("--train", action="store_true", help="train the three latent zoo models first, into $WORKBENCH_ZOO or data/zoo")
    ap.add_argument("--work", type=Path, default=None, help="training checkpoints (outside the repository)")
    a = ap.parse_args(argv)
    if a.train:
        from workbench.zoo import latent as zl
        from workbench.zoo.registry import zoo_dir

        print(zl.train_all(zoo_dir(), dict(TRAIN_STEPS), work=a.work), flush=True)
    path = run(a.out, a.problems)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
