"""The shipped in-context study (``data/incontext/``): Gemma-3-270M on the grid, the ring and the shuffled days of the
week, with its controls, and SmolLM2-135M-Instruct on the grid. One command regenerates every file::

    python -m workbench.studies.incontext --out data/incontext

Each study is 8 seeded walks of 1,400 words (:func:`workbench.analyses.incontext.study`), window 50, every residual
layer. The grid file also carries its controls' curves (:func:`~workbench.analyses.incontext.with_controls`): the same
architecture with random weights (seed 0) and the previous-token-mixing toy (hidden size 640, Gemma's). A finished
file is kept: a rerun skips it (``--force`` recomputes), so an interrupted run loses only the study in progress.

Shipped files stay small (about 4 MB in all): every metric is computed from the full float32 node means; then the
grid file's ``node_mean`` keeps only the layer the study is read at (``picked_layer``, the layer with the best mean
Procrustes R^2 over T >= 100), rounded to float16, NaN at the other layers, and the other files drop ``node_mean``
(their attrs say so; the command above brings it back). SmolLM2's study keeps every third residual layer. Files are
deflated (``save(compress=True)``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from workbench.analyses import incontext as ic
from workbench.zoo.tasks import graphs

N_WALKS, LENGTH, SEED = 8, 1400, 0

#: name -> (model, graph factory, with controls, residual layers (None: all), ship node_mean)
STUDIES: dict[str, tuple[str, Any, bool, list[int] | None, bool]] = {
    "gemma3_grid": ("gemma3-270m", graphs.grid, True, None, True),
    "gemma3_ring": ("gemma3-270m", lambda: graphs.ring(16), False, None, False),
    "gemma3_days": ("gemma3-270m", lambda: graphs.days_of_week(0), False, None, False),
    "smollm2_grid": ("smollm2-135m", graphs.grid, False, list(range(0, 31, 3)), False),
}


def shipped_path(name: str) -> Path:
    """Where the shipped study ``name`` (a key of :data:`STUDIES`) lives: ``$WORKBENCH_DATA/incontext`` or the
    repository's ``data/incontext``.

    >>> shipped_path("gemma3_grid").name
    'gemma3_grid.nc'
    """
    import os

    if name not in STUDIES:
        raise ValueError(f"name {name!r} is not a shipped study; choose from {list(STUDIES)}.")
    root = Path(os.environ["WORKBENCH_DATA"]) if os.environ.get("WORKBENCH_DATA") else \
        Path(__file__).resolve().parents[2] / "data"
    return root / "incontext" / f"{name}.nc"


def pick_layer(ds: xr.Dataset, min_context: int = 100) -> int:
    """The layer whose Procrustes R^2, averaged over context lengths T >= ``min_context``, is highest.

    >>> ds = xr.Dataset({"procrustes_r2": (("layer", "context"), [[0.9, 0.1], [0.2, 0.8]])},
    ...                 coords={"layer": [0, 1], "context": [50, 200]})
    >>> pick_layer(ds)
    1
    """
    r2 = ds.procrustes_r2.sel(context=ds.context[ds.context >= min_context]).mean("context")
    return int(r2.idxmax("layer"))


def compact(ds: xr.Dataset, layer: int, node_mean: bool = True) -> xr.Dataset:
    """The shipped form: ``node_mean`` only at ``layer`` (float16; NaN elsewhere), or dropped; said in the attrs."""
    ds = ds.assign_attrs(picked_layer=int(layer))
    if not node_mean:
        return ds.drop_vars("node_mean").assign_attrs(
            node_mean_shipped="node_mean is dropped from this shipped file to keep it small; every metric was "
                              "computed from it; `python -m workbench.studies.incontext` recomputes it")
    kept = ds.node_mean.where(ds.layer == layer).astype(np.float16)
    return ds.assign(node_mean=kept).assign_attrs(
        node_mean_shipped=f"node_mean is kept at layer {layer} only (float16; NaN at the other layers) to keep the "
                          "file small; every metric was computed in float32 from the node means of every layer")


def run(out: str | Path, names: list[str] | None = None, force: bool = False, n_walks: int = N_WALKS,
        length: int = LENGTH) -> dict[str, Path]:
    """Compute and save the studies in ``names`` (default: all of :data:`STUDIES`) under ``out``."""
    import workbench as wb
    from workbench.backend import random_weights

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(STUDIES) if names is None else names
    unknown = sorted(set(names) - set(STUDIES))
    if unknown:
        raise ValueError(f"names {unknown} are not studies; choose from {list(STUDIES)}.")
    paths: dict[str, Path] = {}
    models: dict[str, Any] = {}
    for name in tqdm(names, desc="in-context studies"):
        path = out / f"{name}.nc"
        paths[name] = path
        if path.exists() and not force:
            continue
        model_name, make_graph, controls, layers, keep_means = STUDIES[name]
        if model_name not in models:
            models[model_name] = wb.load_model(model_name)
        model = models[model_name]
        graph = make_graph()
        t0 = time.perf_counter()
        ds = ic.study(model, graph, n_walks=n_walks, length=length, seed=SEED, layers=layers)
        if controls:
            rand = ic.study(random_weights(model, seed=0), graph, n_walks=n_walks, length=length, seed=SEED,
                            layers=layers)
            toy = ic.mixing_toy(graph, n_walks=n_walks, length=length, seed=SEED, hidden=int(model.config.hidden_size))
            ds = ic.with_controls(ds, **{"random weights": rand, "mixing toy": toy})
        ds = ds.assign_attrs(compute_seconds=round(time.perf_counter() - t0, 1))
        wb.save(compact(ds, pick_layer(ds), keep_means), path, compress=True)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.studies.incontext", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/incontext")
    parser.add_argument("--only", nargs="*", choices=list(STUDIES), default=None)
    parser.add_argument("--force", action="store_true", help="recompute studies whose file exists")
    args = parser.parse_args(argv)
    for name, path in run(args.out, args.only, args.force).items():
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
