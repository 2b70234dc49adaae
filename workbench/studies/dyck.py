"""The shipped Dyck population study (``data/dyck/``): a population of Dyck classifiers trained as Dask tasks, one result
file per member, combined into one Dataset.

The population study of Li, Kaufmann, Wattenberg, Alvarez-Melis & Saphra (2025), "Can Interpretation Predict Behavior
on Unseen Data?" (arXiv 2507.06445), at CPU scale: a grid of layers x heads x weight decay x seeds. Each Dask task
trains one member (:func:`workbench.zoo.dyck.train_member`), evaluates it on the ID test and OOD sets, scores its heads
(:func:`workbench.analyses.attention.head_scores`), measures head ablations, records its attention on a few example
strings, and writes ``<root>/members/<id>.nc`` (via :func:`workbench.save`) beside its checkpoint folder
``<root>/checkpoints/<id>/``. Finished members are never lost: a rerun skips them, a failed member is written as
``<id>.failed.json`` (its error text) and can be re-run alone with :func:`rerun`. :func:`combine` gathers everything into
one Dataset that passes :func:`workbench.data.validate_population`.

The shipped population (data/dyck/population.nc) was produced by::

    OMP_NUM_THREADS=1 python -m workbench.studies.dyck --out /work/dyck1600 --steps 1600 --lr 1e-3 --eval-size 300 \
        --ablation-size 100 --ablation-kinds mean uniform --seeds 4 --workers 2
    cp /work/dyck1600/population.nc /work/dyck1600/run.json data/dyck/
    python -c "import workbench; from workbench.studies import dyck as P; \
        P.export_representatives(workbench.load('data/dyck/population.nc'), '/work/dyck1600')"   # data/zoo/dyck-<type>/

(18 settings x 4 seeds = 72 members; seeds: init_seed = data_seed = 0..3; 1,600 steps of 64 strings, 2-4 minutes of one
core per member, 2 h 14 min on a busy 2-core machine.) Only ``population.nc`` and ``run.json`` are shipped;
``members/`` and ``checkpoints/`` stay local (data/dyck/.gitignore).

The four zoo representatives are distinct members (:func:`representatives` says how they are picked). Three of them
were not among the checkpoints kept from that run, so they were re-trained alone with the same settings, and each
reproduced its population entry exactly (accuracies, final loss, head scores, example attention, ablations)::

    OMP_NUM_THREADS=1 python -c "from workbench.studies import dyck as P; \
        s = P.RunSettings(1600, 1e-3, 64, 50_000, 300, True, 100, ('mean', 'uniform')); \
        [P.run_member(m, '/tmp/dyck', s) for m in P.grid() \
         if m.id in ('L3-H4-wd0-i0-d0', 'L2-H2-wd0.001-i2-d2', 'L2-H4-wd0.001-i2-d2')]"
    # + the violation-detecting member's checkpoint under /tmp/dyck/checkpoints/L2-H2-wd0.01-i3-d3/step_0001600
    python -c "import workbench; from workbench.studies import dyck as P; \
        P.export_representatives(workbench.load('data/dyck/population.nc'), '/tmp/dyck')"
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from workbench.data import HEAD_SCORE_TYPES, load, save, validate_population

LAYERS, HEADS, WEIGHT_DECAYS = (1, 2, 3), (2, 4), (0.0, 1e-3, 1e-2)
KINDS = ("mean", "uniform")
STATUS_DONE, STATUS_FAILED, STATUS_MISSING = "done", "failed", "missing"


@dataclass(frozen=True)
class Member:
    """One population member's hyperparameters."""

    n_layers: int
    n_heads: int
    weight_decay: float
    init_seed: int
    data_seed: int

    @property
    def id(self) -> str:
        return f"L{self.n_layers}-H{self.n_heads}-wd{self.weight_decay:g}-i{self.init_seed}-d{self.data_seed}"


@dataclass(frozen=True)
class RunSettings:
    """Training and evaluation settings shared by every member."""

    steps: int = 200
    lr: float = 3e-3
    batch_size: int = 64
    train_size: int = 50_000
    eval_size: int = 300
    ablations: bool = True
    ablation_size: int = 100  # OOD strings the ablations are measured on (the first of the OOD set)
    ablation_kinds: tuple[str, ...] = ("mean",)


def grid(layers: Iterable[int] = LAYERS, heads: Iterable[int] = HEADS, weight_decays: Iterable[float] = WEIGHT_DECAYS,
         seeds: Iterable[int] | int = 4, data_seeds: Iterable[int] | None = None) -> list[Member]:
    """The members of a grid. ``seeds`` (a count or a list) are init seeds; each is paired with the data seed of the
    same index unless ``data_seeds`` is given (then every init x data pair is a member).

    >>> len(grid(seeds=4)), grid(seeds=1)[0].id
    (72, 'L1-H2-wd0-i0-d0')
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    pairs = list(zip(seeds, seeds)) if data_seeds is None else list(itertools.product(seeds, list(data_seeds)))
    return [Member(int(l), int(h), float(w), int(i), int(d))
            for l, h, w in itertools.product(layers, heads, weight_decays) for i, d in pairs]


# ---------------------------------------------------------------------------------------------------- example strings
def example_strings() -> list[tuple[str, str]]:
    """The fixed strings whose attention every member records: ``(split, string)``; short, so the file stays small.

    >>> [split for split, _ in example_strings()]
    ['id', 'id', 'id', 'ood', 'ood', 'ood']
    """
    return [("id", "(()(()))()()"), ("id", "())(()(((("), ("id", "(()))))(()"),
            ("ood", "())(()()"), ("ood", ")(()()(())"), ("ood", "(()))(()()")]


def _example_coords() -> dict[str, Any]:
    from workbench.zoo.tasks import dyck as task

    ex = example_strings()
    width = max(len(s) for _, s in ex) + 2
    tokens = np.full((len(ex), width), "", dtype=object)
    depth = np.full((len(ex), width), np.nan, dtype=np.float32)
    for i, (_, s) in enumerate(ex):
        d = task.depth_profile(s)
        tokens[i, : len(s) + 2] = [task.START, *s, task.END]
        depth[i, : len(s) + 2] = [0, *d, d[-1]]
    return {"example_token": (("sample", "query"), tokens), "example_depth": (("sample", "query"), depth),
            "example_text": ("sample", np.array([s for _, s in ex], dtype=object)),
            "example_split": ("sample", np.array([sp for sp, _ in ex], dtype=object)), "width": width}


# ------------------------------------------------------------------------------------------------------ one member
def member_path(root: str | os.PathLike, member: Member) -> Path:
    """Where a member's result file goes.

    >>> member_path("data/dyck", grid(seeds=1)[0]).as_posix()
    'data/dyck/members/L1-H2-wd0-i0-d0.nc'
    """
    return Path(root) / "members" / f"{member.id}.nc"


def failed_path(root: str | os.PathLike, member: Member) -> Path:
    return Path(root) / "members" / f"{member.id}.failed.json"


def checkpoint_root(root: str | os.PathLike, member: Member) -> Path:
    return Path(root) / "checkpoints" / member.id


def run_member(member: Member, root: str | os.PathLike, settings: RunSettings = RunSettings()) -> str:
    """Train, evaluate and analyse one member; write ``<root>/members/<id>.nc``. Returns the member id.

    Runs inside a Dask worker (one thread: torch uses one core). Raises on failure; :func:`run_population` records it.

    >>> run_member(grid(seeds=1)[0], "/tmp/pop", RunSettings(steps=5))     # doctest: +SKIP
    'L1-H2-wd0-i0-d0'
    """
    import torch

    torch.set_num_threads(1)
    from workbench.analyses import attention as A
    from workbench.analyses.core import attention
    from workbench.backend import load_model
    from workbench.zoo import dyck

    root = Path(root)
    t0 = time.perf_counter()
    res = dyck.train_member(member.n_layers, member.n_heads, member.weight_decay, member.init_seed, member.data_seed,
                            settings.steps, checkpoint_root(root, member), lr=settings.lr,
                            batch_size=settings.batch_size, train_size=settings.train_size,
                            eval_size=settings.eval_size)
    model = load_model(res.checkpoint)
    id_data, ood_data = dyck.eval_sets(settings.eval_size)
    scores = np.stack([A.head_scores(model, id_data).values, A.head_scores(model, ood_data).values])
    ex = _example_coords()
    att = attention(model, [dyck.task.to_text(s) for _, s in example_strings()]).values  # (sample, l, h, q, k)
    att = att[:, :, :, : ex["width"], : ex["width"]]
    data_vars: dict[str, Any] = {
        "id_accuracy": ((), res.id_accuracy), "ood_accuracy": ((), res.ood_accuracy),
        "final_loss": ((), res.final_loss),
        "head_score": (("split", "layer", "head", "score"), scores),
        "example_attention": (("sample", "layer", "head", "query", "key"), att.astype(np.float16)),
    }
    if settings.ablations:
        sub = dyck.task.DyckSet(ood_data.strings[: settings.ablation_size], ood_data.labels[: settings.ablation_size],
                                "ood")
        eff = A.ablation_effects(model, sub, kinds=tuple(settings.ablation_kinds)).reindex(kind=list(KINDS))
        data_vars["ablation_effect"] = (("layer", "head", "kind"), eff.values)
        data_vars["ablation_all_heads"] = (("kind",), [eff.attrs.get(f"all_heads_{k}", np.nan) for k in KINDS])
        data_vars["ablation_clean_accuracy"] = ((), eff.attrs["clean_accuracy"])
    data_vars["train_seconds"] = ((), time.perf_counter() - t0)
    ds = xr.Dataset(data_vars, coords={"split": ["id", "ood"], "score": list(HEAD_SCORE_TYPES), "kind": list(KINDS)},
                    attrs={**asdict(member), "id": member.id,
                           "checkpoint": str(Path(res.checkpoint).resolve().relative_to(root.resolve())),
                           "settings": json.dumps(asdict(settings))})
    out = member_path(root, member)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(ds, out)
    failed_path(root, member).unlink(missing_ok=True)
    return member.id


def is_done(root: str | os.PathLike, member: Member) -> bool:
    return member_path(root, member).is_file()


# ------------------------------------------------------------------------------------------------------- the driver
def _default_client(workers: int) -> Any:
    from workbench.runner import default_client

    return default_client(workers)


def run_population(members: Sequence[Member], root: str | os.PathLike, settings: RunSettings = RunSettings(),
                   client: Any = None, workers: int = 1, progress: bool = True) -> dict[str, str]:
    """Train every member not yet done, as Dask tasks (a ``LocalCluster`` of ``workers`` unless ``client=``).

    Returns ``{member id: "done" | "skipped" | "failed"}``. A failure (an exception, a killed worker) is written to
    ``<root>/members/<id>.failed.json`` with its error text; finished members are skipped by a later call. The tasks go
    through the shared runner, :func:`workbench.runner.run_tasks`.

    >>> run_population(grid(layers=[1], heads=[2], weight_decays=[0], seeds=2), "/tmp/pop")   # doctest: +SKIP
    {'L1-H2-wd0-i0-d0': 'done', 'L1-H2-wd0-i1-d1': 'done'}
    """
    from workbench.runner import Task, run_tasks

    root = Path(root)
    (root / "members").mkdir(parents=True, exist_ok=True)
    (root / "run.json").write_text(json.dumps({"settings": asdict(settings),
                                               "members": [asdict(m) for m in members]}, indent=1))
    by_id = {m.id: m for m in members}
    # seed-major order: a run cut short still covers every setting with its first seeds
    ordered = sorted(members, key=lambda m: (m.init_seed, m.data_seed))
    tasks = [Task(m.id, run_member, (m, str(root), settings)) for m in ordered]

    def record(key: str, text: str) -> None:
        failed_path(root, by_id[key]).write_text(json.dumps({"member": asdict(by_id[key]), "error": text}))

    return run_tasks(tasks, is_done=lambda key: is_done(root, by_id[key]), on_failure=record, client=client,
                     workers=workers, progress=progress, desc="population", what="member",
                     rerun_hint=lambda key: f"rerun({key!r}, root)")


def rerun(member_ids: str | Iterable[str], root: str | os.PathLike, settings: RunSettings | None = None,
          client: Any = None, workers: int = 1, progress: bool = True) -> dict[str, str]:
    """Re-run members by id (e.g. the failed ones), discarding their old result; settings default to the root's run.

    >>> rerun("L1-H2-wd0-i0-d0", "/tmp/pop")     # doctest: +SKIP
    {'L1-H2-wd0-i0-d0': 'done'}
    """
    root = Path(root)
    run = json.loads((root / "run.json").read_text())
    ids = [member_ids] if isinstance(member_ids, str) else list(member_ids)
    known = {Member(**m).id: Member(**m) for m in run["members"]}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise KeyError(f"member_ids holds {unknown}, not members of the population in {str(root)!r}.")
    settings = settings or RunSettings(**{**run["settings"],
                                          "ablation_kinds": tuple(run["settings"]["ablation_kinds"])})
    for i in ids:
        member_path(root, known[i]).unlink(missing_ok=True)
    status = run_population([known[i] for i in ids], root, settings, client=client, workers=workers,
                            progress=progress)
    (root / "run.json").write_text(json.dumps(run, indent=1))  # the full member list stays recorded
    return status


def failed(root: str | os.PathLike) -> dict[str, str]:
    """``{member id: error text}`` of the members whose last run failed.

    >>> failed("/tmp/pop")       # doctest: +SKIP
    {}
    """
    return {p.name[: -len(".failed.json")]: json.loads(p.read_text())["error"]
            for p in sorted((Path(root) / "members").glob("*.failed.json"))}


# --------------------------------------------------------------------------------------------------------- combining
def combine(root: str | os.PathLike, members: Sequence[Member] | None = None) -> xr.Dataset:
    """One population Dataset (dim ``model``) from the member files under ``root``; members without a result get
    ``status`` "failed" (with ``error``) or "missing" and NaN values. Passes :func:`validate_population`.

    >>> pop = combine("data/dyck")     # doctest: +SKIP
    """
    root = Path(root)
    if members is None:
        members = [Member(**m) for m in json.loads((root / "run.json").read_text())["members"]]
    if not members:
        raise ValueError("members is empty; nothing to combine.")
    ex = _example_coords()
    n_l = max(m.n_layers for m in members)
    n_h = max(m.n_heads for m in members)
    n, s, w = len(members), len(example_strings()), ex["width"]
    head = np.full((n, 2, n_l, n_h, 4), np.nan)
    ex_att = np.full((n, s, n_l, n_h, w, w), np.nan, dtype=np.float16)
    abl = np.full((n, n_l, n_h, 2), np.nan)
    abl_all = np.full((n, 2), np.nan)
    scalars = {k: np.full(n, np.nan) for k in ("id_accuracy", "ood_accuracy", "final_loss", "train_seconds",
                                                "ablation_clean_accuracy")}
    status = np.full(n, STATUS_MISSING, dtype=object)
    error = np.full(n, "", dtype=object)
    checkpoint = np.full(n, "", dtype=object)
    errors = failed(root)
    for i, m in enumerate(members):
        p = member_path(root, m)
        if not p.is_file():
            if m.id in errors:
                status[i], error[i] = STATUS_FAILED, errors[m.id]
            continue
        ds = load(p)
        status[i] = STATUS_DONE
        checkpoint[i] = ds.attrs["checkpoint"]
        for k in scalars:
            if k in ds:
                scalars[k][i] = float(ds[k])
        head[i, :, : m.n_layers, : m.n_heads] = ds["head_score"].values
        ex_att[i, :, : m.n_layers, : m.n_heads] = ds["example_attention"].values
        if "ablation_effect" in ds:
            abl[i, : m.n_layers, : m.n_heads] = ds["ablation_effect"].values
            abl_all[i] = ds["ablation_all_heads"].values
    ids = np.array([m.id for m in members], dtype=object)
    pop = xr.Dataset(
        {**{k: ("model", v) for k, v in scalars.items()},
         "head_score": (("model", "split", "layer", "head", "score"), head),
         "example_attention": (("model", "sample", "layer", "head", "query", "key"), ex_att),
         "ablation_effect": (("model", "layer", "head", "kind"), abl),
         "ablation_all_heads": (("model", "kind"), abl_all),
         "status": ("model", status), "error": ("model", error)},
        coords={"model": ids,
                "n_layers": ("model", np.array([m.n_layers for m in members])),
                "n_heads": ("model", np.array([m.n_heads for m in members])),
                "weight_decay": ("model", np.array([m.weight_decay for m in members])),
                "init_seed": ("model", np.array([m.init_seed for m in members])),
                "data_seed": ("model", np.array([m.data_seed for m in members])),
                "checkpoint": ("model", checkpoint),
                "split": ["id", "ood"], "score": list(HEAD_SCORE_TYPES), "kind": list(KINDS),
                "layer": np.arange(n_l), "head": np.arange(n_h), "sample": np.arange(s),
                "query": np.arange(w), "key": np.arange(w),
                **{k: v for k, v in ex.items() if k != "width"}},
        attrs={"task": "dyck", "paper": "arXiv 2507.06445", "checkpoint_root": "paths are relative to the data root",
               "ablation": "OOD accuracy change when a head's attention is replaced (kind mean|uniform)",
               "settings": json.dumps(json.loads((root / "run.json").read_text())["settings"])},
    )
    return validate_population(pop)


def shipped_path() -> Path:
    """The shipped population file, ``data/dyck/population.nc`` in the repository.

    >>> shipped_path().name
    'population.nc'
    """
    return Path(__file__).resolve().parents[2] / "data" / "dyck" / "population.nc"


REPRESENTATIVE_TYPES = ("violation_detecting", "nonnegative", "sign_matching", "hierarchical")


def representatives(pop: xr.Dataset, split: str = "id") -> dict[str, str]:
    """One distinct finished member per head type: ``{type: member id}``, types in REPRESENTATIVE_TYPES order.

    Each type takes, among the members not yet taken, those whose best head of that type scores highest; ties (many
    members reach a score of 1.0) go to the highest OOD accuracy, then to the first in the population. So every zoo
    representative is a different model, and each one's best head of its type scores the population's maximum
    whenever an untaken member reaches it.

    >>> representatives(workbench.load("data/dyck/population.nc"))["hierarchical"]   # doctest: +SKIP
    'L2-H4-wd0.001-i2-d2'
    """
    done = pop.isel(model=np.flatnonzero(pop["status"].values == STATUS_DONE))
    best = done["head_score"].sel(split=split).max(("layer", "head"))
    ood = np.nan_to_num(done["ood_accuracy"].values, nan=-1.0)
    ids = [str(m) for m in done["model"].values]
    taken: dict[str, str] = {}
    for t in REPRESENTATIVE_TYPES:
        score = np.nan_to_num(best.sel(score=t).values, nan=-1.0)
        free = [i for i in range(len(ids)) if ids[i] not in taken.values()]
        if not free:
            raise ValueError(f"the population has {len(ids)} finished members, fewer than the "
                             f"{len(REPRESENTATIVE_TYPES)} head types that each need a distinct representative.")
        taken[t] = ids[min(free, key=lambda i: (-score[i], -ood[i], i))]
    return taken


def export_representatives(pop: xr.Dataset, root: str | os.PathLike, zoo: str | os.PathLike | None = None,
                           split: str = "id") -> dict[str, str]:
    """Copy each head type's :func:`representatives` member's checkpoint into ``<zoo>/dyck-<type>/`` (type with
    ``-`` for ``_``), so it loads by name: ``load_model("dyck-hierarchical")``. Returns ``{zoo name: member id}``.

    >>> export_representatives(workbench.load("data/dyck/population.nc"), "data/dyck")   # doctest: +SKIP
    """
    import shutil

    from workbench.zoo.registry import zoo_dir

    zoo = Path(zoo) if zoo is not None else zoo_dir()
    best = pop["head_score"].sel(split=split).max(("layer", "head"))
    out = {}
    for t, member_id in representatives(pop, split).items():
        member = pop.sel(model=member_id)
        name = "dyck-" + t.replace("_", "-")
        target = zoo / name
        if target.exists():
            shutil.rmtree(target)
        src = Path(root) / str(member["checkpoint"].item())
        shutil.copytree(src, target)
        info = {"member": member_id, "type": t,
                "id_accuracy": float(member["id_accuracy"]), "ood_accuracy": float(member["ood_accuracy"]),
                f"max_{split}_score": {s: float(best.sel(model=member_id, score=s)) for s in HEAD_SCORE_TYPES},
                "regenerate": "python -m workbench.studies.dyck --out data/dyck ... --export-zoo"}
        (target / "dyck.json").write_text(json.dumps(info, indent=1))
        out[name] = member_id
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workbench.studies.dyck", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="data root: members/, checkpoints/ and population.nc go here")
    p.add_argument("--layers", type=int, nargs="+", default=list(LAYERS))
    p.add_argument("--heads", type=int, nargs="+", default=list(HEADS))
    p.add_argument("--weight-decays", type=float, nargs="+", default=list(WEIGHT_DECAYS))
    p.add_argument("--seeds", type=int, default=4, help="init seeds 0..N-1, each paired with the same data seed")
    p.add_argument("--steps", type=int, default=RunSettings.steps)
    p.add_argument("--lr", type=float, default=RunSettings.lr)
    p.add_argument("--batch-size", type=int, default=RunSettings.batch_size)
    p.add_argument("--train-size", type=int, default=RunSettings.train_size)
    p.add_argument("--eval-size", type=int, default=RunSettings.eval_size)
    p.add_argument("--no-ablations", action="store_true")
    p.add_argument("--ablation-size", type=int, default=RunSettings.ablation_size)
    p.add_argument("--ablation-kinds", nargs="+", default=list(RunSettings.ablation_kinds), choices=list(KINDS))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--export-zoo", action="store_true",
                   help="copy one representative checkpoint per head type to data/zoo/dyck-<type>/")
    p.add_argument("--rerun", nargs="*", default=None, help="member ids to re-run (none given: the failed ones)")
    a = p.parse_args(argv)
    settings = RunSettings(a.steps, a.lr, a.batch_size, a.train_size, a.eval_size, not a.no_ablations,
                           a.ablation_size, tuple(a.ablation_kinds))
    members = grid(a.layers, a.heads, a.weight_decays, a.seeds)
    if a.rerun is not None:
        status = rerun(a.rerun or list(failed(a.out)), a.out, settings, workers=a.workers)
    else:
        status = run_population(members, a.out, settings, workers=a.workers)
    pop = combine(a.out)
    save(pop, Path(a.out) / "population.nc")
    counts = {k: sum(v == k for v in status.values()) for k in ("done", "skipped", "failed")}
    if a.export_zoo:
        print("representatives:", export_representatives(pop, a.out))
    print(f"population: {counts}; wrote {Path(a.out) / 'population.nc'} ({pop.sizes['model']} models)")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
