"""POLCA: loss decomposition over training checkpoints, clusters of samples that learn together, hidden breakthroughs.

Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language Model Training" (arXiv 2506.15872). A training
run's loss curve is one scalar and hides many small breakthroughs. POLCA splits each sample's change in loss along
directions of the low-rank training subspace (Hessian eigenvectors found along training) and clusters the samples
whose projected losses move together. Three passes, each resumable under ``root``:

1. **Checkpoints** of any HuggingFace causal LM: folders (``save_pretrained``) or local revisions ``(name, revision)``
   of a model in the local HuggingFace cache. A remote model is refused: POLCA needs gradients and weights.
2. **Basis** (``root/basis.nc``): at every ``basis_every`` steps, the top Hessian eigenvector off the vectors found so
   far (:mod:`workbench.analyses.polca.basis`), on a fixed sample of training texts. Also a random orthonormal basis
   and the largest-magnitude parameters of the final checkpoint (``n_lca``), for the baselines; LCA's Table 1 row uses
   as many of them as there are basis vectors (the paper: 50 and 50).
3. **Decomposition** (``root/steps/step_NNNNNNN.nc``, one Dask task per checkpoint, :mod:`workbench.runner`):
   at every checkpoint, every sample's loss and ``<b, grad l(x)>`` along every direction
   (:mod:`workbench.analyses.polca.gradients`), ``<b, theta>`` and the curvature ``b^T H b``. A failed checkpoint is
   recorded (``root/steps/step_NNNNNNN.failed.json``) and re-run alone by :func:`rerun`; finished ones are kept and
   skipped by a later call.

Then :func:`assemble` turns them into the study's Dataset (:func:`workbench.data.validate_polca`): projected losses,
filters, HDBSCAN clusters, break times, hidden breakthroughs and the baselines of the paper's Table 1
(:mod:`workbench.analyses.polca.findings`).

A sample is one target token: :class:`Sample` ``(text, positions)`` counts, for every position ``p``, the loss of
predicting token ``p + 1`` from tokens ``0..p`` (positions index the tokenizer's output for ``text``).

>>> import workbench as wb                                                                  # doctest: +SKIP
>>> ds = wb.polca(sorted(glob.glob("/work/polca/run/step_*")), samples, "/work/polca/study",
...               hessian_samples=train_samples, basis_every=160)                         # doctest: +SKIP
>>> ds.projected_loss.dims                                                                  # doctest: +SKIP
('basis', 'sample', 'step')
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from workbench.analyses.polca import findings as F
from workbench.data import load, provenance, save, validate_polca

PAPER = "Kangaslahti, Rosenfeld & Saphra 2025, Hidden Breakthroughs in Language Model Training, arXiv 2506.15872"
SETS = ("polca", "random", "lca")


class PolcaInputError(ValueError):
    """Input POLCA cannot use (a remote model, checkpoints of different shapes, a sample with no target); the
    message names the argument, what was expected and what came."""


class PolcaRunError(RuntimeError):
    """Some checkpoints failed; the finished ones are kept under ``root`` and the message names the rerun call."""


# --------------------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Sample:
    """A text and the positions whose next-token loss counts: position ``p`` is the loss of predicting token ``p + 1``.

    >>> Sample("457+168=0625", (7, 8, 9, 10)).positions
    (7, 8, 9, 10)
    """

    text: str
    positions: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise PolcaInputError(f"Sample.text must be a non-empty string, got {self.text!r}.")
        object.__setattr__(self, "positions", tuple(int(p) for p in self.positions))
        if not self.positions:
            raise PolcaInputError(f"Sample {self.text!r} has no target position; give at least one position whose "
                                  "next-token loss counts.")


PolcaSample = Sample  # the name exported as ``workbench.PolcaSample``


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint: its training ``step``, a folder or model name ``source`` and an optional local ``revision``."""

    step: int
    source: str
    revision: str | None = None


def _step_of(path: Path) -> int | None:
    meta = path / "training.json"
    if meta.is_file():
        try:
            step = json.loads(meta.read_text()).get("step")
            if isinstance(step, int):
                return step
        except json.JSONDecodeError:
            pass
    digits = re.findall(r"\d+", path.name)
    return int(digits[-1]) if digits else None


def checkpoints_from(sources: Sequence[Any], steps: Sequence[int] | None = None) -> list[Checkpoint]:
    """Turn folders, ``(name, revision)`` pairs or :class:`Checkpoint` objects into checkpoints sorted by step.

    A folder's step is ``training.json``'s ``step`` or the last number in its name (``step_0000100``); a revision's is
    the last number in the revision (``step1000``); ``steps=`` overrides both. A remote ``workbench.Model`` or an
    in-memory module is refused with a one-sentence error.

    >>> [c.step for c in checkpoints_from([("m", "step200"), ("m", "step100")])]
    [100, 200]
    """
    if isinstance(sources, (str, os.PathLike)):
        raise PolcaInputError("checkpoints must be a list of checkpoints (folders or (name, revision) pairs), got one "
                              f"{type(sources).__name__}: {str(sources)!r}.")
    sources = list(sources)
    if len(sources) < 2:
        raise PolcaInputError(f"checkpoints must hold at least 2 checkpoints (POLCA decomposes the steps between "
                              f"them), got {len(sources)}.")
    if steps is not None and len(steps) != len(sources):
        raise PolcaInputError(f"steps must give one step per checkpoint: {len(sources)} checkpoints, {len(steps)} steps.")
    out: list[Checkpoint] = []
    for i, src in enumerate(sources):
        given = None if steps is None else int(steps[i])
        if getattr(src, "remote", False):
            raise PolcaInputError(f"checkpoints[{i}] is a remote model ({getattr(src, 'name', src)!r}); POLCA needs "
                                  "its gradients and weights, so give local checkpoints (folders or local revisions).")
        if isinstance(src, Checkpoint):
            out.append(src if given is None else Checkpoint(given, src.source, src.revision))
        elif isinstance(src, tuple) and len(src) == 2 and all(isinstance(s, str) for s in src):
            name, rev = src
            digits = re.findall(r"\d+", rev)
            step = given if given is not None else (int(digits[-1]) if digits else None)
            if step is None:
                raise PolcaInputError(f"checkpoints[{i}] = {src!r} has no step number in its revision; pass steps=.")
            out.append(Checkpoint(step, name, rev))
        elif isinstance(src, (str, os.PathLike)):
            path = Path(src)
            if not path.is_dir():
                raise PolcaInputError(f"checkpoints[{i}] = {str(src)!r} is not a folder; expected a save_pretrained "
                                      "folder or a (name, revision) pair.")
            step = given if given is not None else _step_of(path)
            if step is None:
                raise PolcaInputError(f"checkpoints[{i}] = {str(src)!r} has no step (no training.json step, no number "
                                      "in its name); pass steps=.")
            out.append(Checkpoint(step, str(path.resolve())))
        else:
            raise PolcaInputError(f"checkpoints[{i}] is a {type(src).__name__}; expected a save_pretrained folder or a "
                                  "(name, revision) pair (POLCA loads each checkpoint in a Dask worker, so save an "
                                  "in-memory model with save_pretrained first).")
    out.sort(key=lambda c: c.step)
    seen = [c.step for c in out]
    dup = sorted({s for s in seen if seen.count(s) > 1})
    if dup:
        raise PolcaInputError(f"checkpoints have duplicate steps {dup}; expected one checkpoint per step.")
    return out


def load_checkpoint(ck: Checkpoint) -> Any:
    """The checkpoint as a float32 transformers model (local files only; eager attention for forward mode).

    >>> load_checkpoint(Checkpoint(0, "data/zoo/addition")).config.n_layer                  # doctest: +SKIP
    3
    """
    import torch
    import transformers as T

    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": torch.float32, "attn_implementation": "eager"}
    if ck.revision is not None:
        kwargs["revision"] = ck.revision
    return T.AutoModelForCausalLM.from_pretrained(ck.source, **kwargs).eval()


def _shapes(ck: Checkpoint) -> dict[str, tuple[int, ...]]:
    path = Path(ck.source)
    files = sorted(path.glob("*.safetensors")) if ck.revision is None and path.is_dir() else []
    if files:
        from safetensors import safe_open

        out: dict[str, tuple[int, ...]] = {}
        for f in files:
            with safe_open(str(f), framework="pt") as h:
                for k in h.keys():
                    out[k] = tuple(h.get_slice(k).get_shape())
        return out
    return {k: tuple(v.shape) for k, v in load_checkpoint(ck).state_dict().items()}


def check_shapes(checkpoints: Sequence[Checkpoint]) -> None:
    """Raise :class:`PolcaInputError` naming the first parameter whose shape differs between checkpoints.

    >>> check_shapes(checkpoints_from(sorted(glob.glob("/work/polca/run/step_*"))))          # doctest: +SKIP
    """
    ref = _shapes(checkpoints[0])
    for ck in checkpoints[1:]:
        shapes = _shapes(ck)
        for k in sorted(set(ref) | set(shapes)):
            if ref.get(k) != shapes.get(k):
                raise PolcaInputError(
                    f"checkpoints have different shapes: step {ck.step} has {k!r} of shape {shapes.get(k)}, step "
                    f"{checkpoints[0].step} has {ref.get(k)}; POLCA needs checkpoints of one model.")


def _tokenizer(ck: Checkpoint, tokenizer: Any) -> Any:
    if tokenizer is not None:
        return tokenizer
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True}
    if ck.revision is not None:
        kwargs["revision"] = ck.revision
    return AutoTokenizer.from_pretrained(ck.source, **kwargs)


def encode_samples(samples: Sequence[Sample], tokenizer: Any, what: str = "samples") -> dict[str, np.ndarray]:
    """Token ids and target positions of ``samples`` as arrays (``ids``/``lengths`` per text, ``seq``/``pos`` per
    target token), positions checked against each text's token count.

    >>> from workbench.zoo.tasks.addition import build_tokenizer
    >>> encode_samples([Sample("457+168=0625", (7, 10))], build_tokenizer())["pos"].tolist()
    [7, 10]
    """
    if len(samples) == 0:
        raise PolcaInputError(f"{what} is empty; give at least one Sample(text, positions).")
    rows, seq, pos = [], [], []
    for i, s in enumerate(samples):
        if not isinstance(s, Sample):
            if isinstance(s, tuple) and len(s) == 2:
                s = Sample(s[0], tuple(s[1]))
            else:
                raise PolcaInputError(f"{what}[{i}] must be a Sample(text, positions), got {type(s).__name__}.")
        ids = list(tokenizer(s.text)["input_ids"])
        for p in s.positions:
            if not 0 <= p < len(ids) - 1:
                raise PolcaInputError(f"{what}[{i}] ({s.text!r}) has target position {p}, outside 0..{len(ids) - 2}: "
                                      f"position p counts the loss of predicting token p + 1 of its {len(ids)} tokens.")
        rows.append(ids)
        seq += [i] * len(s.positions)
        pos += list(s.positions)
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return {"ids": ids, "lengths": np.array([len(r) for r in rows], np.int64), "seq": np.array(seq, np.int64),
            "pos": np.array(pos, np.int64)}


def _tokens(enc: Mapping[str, np.ndarray]) -> Any:
    from workbench.analyses.polca.gradients import tokenize_ids

    rows = [list(enc["ids"][i, : enc["lengths"][i]]) for i in range(len(enc["lengths"]))]
    positions: list[list[int]] = [[] for _ in rows]
    for s, p in zip(enc["seq"], enc["pos"]):
        positions[int(s)].append(int(p))
    return tokenize_ids(rows, positions)


# ---------------------------------------------------------------------------------------------------- settings
@dataclass
class Settings:
    """What a POLCA run under ``root`` was asked for (``root/settings.json``); a later call must match it."""

    checkpoints: list[dict[str, Any]]
    basis_steps: list[int]
    k: int = 1
    n_random: int = 0
    n_lca: int = 50
    curvature_samples: int = 64
    curvature_every: int = 1
    method: str = "auto"
    seed: int = 0
    lanczos_tol: float = 1e-3
    extra: dict[str, Any] = field(default_factory=dict)


def _paths(root: Path) -> dict[str, Path]:
    return {"settings": root / "settings.json", "samples": root / "samples.nc", "basis": root / "basis.nc",
            "steps": root / "steps"}


def step_path(root: str | os.PathLike, step: int) -> Path:
    """Where the decomposition of checkpoint ``step`` is written.

    >>> step_path("/tmp/r", 20).name
    'step_0000020.nc'
    """
    return Path(root) / "steps" / f"step_{int(step):07d}.nc"


def _failed_path(root: Path, step: int) -> Path:
    return root / "steps" / f"step_{int(step):07d}.failed.json"


def failed(root: str | os.PathLike) -> dict[int, str]:
    """``{step: error text}`` of the checkpoints whose last decomposition failed.

    >>> failed("/tmp/no-such-root")
    {}
    """
    d = Path(root) / "steps"
    if not d.is_dir():
        return {}
    return {int(p.name[5:12]): json.loads(p.read_text())["error"] for p in sorted(d.glob("step_*.failed.json"))}


def prepare(root: str | os.PathLike, checkpoints: Sequence[Checkpoint], samples: Sequence[Sample],
            hessian_samples: Sequence[Sample], labels: Mapping[str, Sequence[Any]] | None, settings: Settings,
            tokenizer: Any = None) -> None:
    """Write ``root/settings.json`` and ``root/samples.nc`` (token ids of the samples and the Hessian sample, sample
    labels), or check that an existing run under ``root`` asked for the same.

    >>> prepare("/tmp/r", cks, samples, train_samples, None, Settings([...], [0]))        # doctest: +SKIP
    """
    root = Path(root)
    p = _paths(root)
    if p["settings"].is_file():
        old = json.loads(p["settings"].read_text())
        new = json.loads(json.dumps(asdict(settings)))
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise PolcaInputError(f"root {str(root)!r} holds a POLCA run with different settings ({', '.join(diff)}); "
                                  "use another root, or delete it to start over.")
        return
    root.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(checkpoints[0], tokenizer)
    enc = encode_samples(samples, tok)
    henc = encode_samples(hessian_samples, tok, "hessian_samples")
    n = len(enc["seq"])
    data = {
        "ids": (("sequence", "token"), enc["ids"]), "lengths": ("sequence", enc["lengths"]),
        "seq": ("sample", enc["seq"]), "pos": ("sample", enc["pos"]),
        "h_ids": (("h_sequence", "h_token"), henc["ids"]), "h_lengths": ("h_sequence", henc["lengths"]),
        "h_seq": ("h_sample", henc["seq"]), "h_pos": ("h_sample", henc["pos"]),
    }
    coords: dict[str, Any] = {"text": ("sample", np.array([samples[int(s)].text for s in enc["seq"]], dtype=object))}
    for name, values in (labels or {}).items():
        v = np.asarray(values)
        if v.shape != (n,):
            raise PolcaInputError(f"labels[{name!r}] must give one value per target token ({n}), got shape {v.shape}.")
        coords[name] = ("sample", v.astype(object) if v.dtype.kind in "OU" else v)
    save(xr.Dataset(data, coords=coords), p["samples"])
    p["settings"].write_text(json.dumps(asdict(settings), indent=1))


@functools.lru_cache(maxsize=2)
def _load_inputs(root: str, stamp: float) -> tuple[Settings, Any, Any, dict[str, np.ndarray]]:
    """Settings, sample tokens, Hessian tokens and directions of a run (cached per worker process)."""
    p = _paths(Path(root))
    settings = Settings(**json.loads(p["settings"].read_text()))
    s = load(p["samples"])
    toks = _tokens({"ids": s["ids"].values, "lengths": s["lengths"].values, "seq": s["seq"].values,
                    "pos": s["pos"].values})
    htoks = _tokens({"ids": s["h_ids"].values, "lengths": s["h_lengths"].values, "seq": s["h_seq"].values,
                     "pos": s["h_pos"].values})
    b = load(p["basis"])
    dirs = {name: np.asarray(b[f"{name}_vectors"].values, np.float32) for name in ("polca", "random")}
    dirs["lca"] = np.asarray(b["lca_index"].values, np.int64)
    return settings, toks, htoks, dirs


# ------------------------------------------------------------------------------------------------------------ basis
def make_basis(root: str | os.PathLike, progress: bool = True, vectors: np.ndarray | None = None,
               found_at: Sequence[int] | None = None) -> Path:
    """Build (or reuse) ``root/basis.nc``: the POLCA basis (Algorithm 1 at ``settings.basis_steps``), a random
    orthonormal basis of ``n_random`` vectors, and the ``n_lca`` largest-magnitude parameters of the final
    checkpoint (the LCA baseline). ``vectors`` (``(K, P)``, orthonormal rows over every parameter) replaces the
    Lanczos basis with one of your own (``found_at``: the step of each, default the first checkpoint's).

    >>> make_basis("/work/polca/study")                                                     # doctest: +SKIP
    """
    import torch

    from workbench.analyses.polca.basis import Basis, build_basis, check_orthonormal, random_basis
    from workbench.analyses.polca.gradients import FlatModel

    root = Path(root)
    p = _paths(root)
    if p["basis"].is_file():
        return p["basis"]
    settings = Settings(**json.loads(p["settings"].read_text()))
    s = load(p["samples"])
    htoks = _tokens({"ids": s["h_ids"].values, "lengths": s["h_lengths"].values, "seq": s["h_seq"].values,
                     "pos": s["h_pos"].values})
    cks = {c["step"]: Checkpoint(**c) for c in settings.checkpoints}
    missing = [t for t in settings.basis_steps if t not in cks]
    if missing:
        raise PolcaInputError(f"basis steps {missing} have no checkpoint; expected steps among the checkpoints.")
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    final = load_checkpoint(cks[max(cks)])
    fm = FlatModel(final)
    theta_final = fm.flat().double().numpy()

    def thetas():
        for t in settings.basis_steps:
            yield t, fm.flat_of(load_checkpoint(cks[t]).state_dict())

    t0 = time.time()
    if vectors is not None:
        v = np.asarray(vectors)
        if v.ndim != 2 or v.shape[1] != fm.n_params:
            raise PolcaInputError(f"basis must have shape (K, {fm.n_params}) (one row per vector over every parameter "
                                  f"of the model), got {v.shape}.")
        check_orthonormal(v, what="basis")
        at = [min(cks)] * v.shape[0] if found_at is None else [int(x) for x in found_at]
        basis = Basis(v.astype(np.float32), np.asarray(at, np.int64), np.full(v.shape[0], np.nan))
    else:
        basis = build_basis(fm, thetas(), htoks, k=settings.k, tol=settings.lanczos_tol, seed=settings.seed,
                            progress=progress)
    seconds = time.time() - t0
    rand = random_basis(fm.n_params, settings.n_random or len(basis), seed=settings.seed + 1)
    lca = np.argsort(-np.abs(theta_final), kind="stable")[: settings.n_lca]
    offsets = np.cumsum([0] + fm.sizes)
    names = [fm.names[int(np.searchsorted(offsets, i, side="right")) - 1] for i in lca]
    ds = xr.Dataset({"polca_vectors": (("basis", "parameter"), basis.vectors),
                     "random_vectors": (("random", "parameter"), rand.astype(np.float32)),
                     "lca_index": ("lca", lca.astype(np.int64)), "lca_name": ("lca", np.array(names, dtype=object))},
                    coords={"found_at": ("basis", basis.found_at), "eigenvalue": ("basis", basis.eigenvalue)},
                    attrs={"seconds": seconds, "n_params": fm.n_params})
    save(ds, p["basis"])
    return p["basis"]


# ---------------------------------------------------------------------------------------------------- decomposition
def decompose_checkpoint(root: str, step: int) -> str:
    """One Dask task: at checkpoint ``step``, every sample's loss and ``<b, grad l(x)>`` along every direction
    (POLCA basis, random basis, LCA parameters), ``<b, theta>`` and, at every ``curvature_every``-th checkpoint (and
    the last), the curvature ``b^T H b`` of the mean loss on the first ``curvature_samples`` Hessian texts (POLCA and
    random directions; NaN elsewhere, interpolated by :func:`gather`). Writes ``root/steps/step_NNNNNNN.nc``.

    >>> decompose_checkpoint("/work/polca/study", 100)                                      # doctest: +SKIP
    '/work/polca/study/steps/step_0000100.nc'
    """
    import torch

    from workbench.analyses.polca.gradients import FlatModel, Tokens, curvature, project, sample_losses

    rootp = Path(root)
    out = step_path(rootp, step)
    if out.is_file():  # finished before (Dask may run a task again when the worker holding its result died)
        return str(out)
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    settings, toks, htoks, dirs = _load_inputs(str(rootp), (rootp / "basis.nc").stat().st_mtime)
    cks = {c["step"]: Checkpoint(**c) for c in settings.checkpoints}
    ck = cks[int(step)]
    order = sorted(cks)
    idx = order.index(int(step))
    with_curvature = idx % settings.curvature_every == 0 or idx == len(order) - 1
    t0 = time.time()
    fm = FlatModel(load_checkpoint(ck))
    theta = fm.flat()
    dense = np.concatenate([dirs["polca"], dirs["random"]])
    lca_idx = dirs["lca"]
    vectors = torch.zeros((dense.shape[0] + lca_idx.size, fm.n_params), dtype=fm.dtype)
    vectors[: dense.shape[0]] = torch.as_tensor(dense)
    vectors[torch.arange(dense.shape[0], vectors.shape[0]), torch.as_tensor(lca_idx)] = 1.0
    d = project(fm, theta, toks, vectors, method=settings.method)
    losses = sample_losses(fm, theta, toks)
    coord = (vectors.double() @ theta.double()).numpy()
    n_curv = min(settings.curvature_samples, htoks.n_seq)
    cut = int(np.searchsorted(htoks.seq.numpy(), n_curv))
    sub = Tokens(htoks.input_ids[:n_curv], htoks.attention_mask[:n_curv], htoks.seq[:cut], htoks.pos[:cut],
                 htoks.target[:cut])
    curv = np.full(vectors.shape[0], np.nan)
    if with_curvature:
        curv[: dense.shape[0]] = curvature(fm, theta, sub, vectors[: dense.shape[0]]).double().numpy()
    ds = xr.Dataset({"d": (("direction", "sample"), d.numpy().astype(np.float32)),
                     "loss": ("sample", losses.numpy().astype(np.float32)),
                     "coord": ("direction", coord), "curvature": ("direction", curv)},
                    attrs={"step": int(step), "seconds": time.time() - t0})
    out.parent.mkdir(parents=True, exist_ok=True)
    save(ds, out)
    return str(out)


def decompose(root: str | os.PathLike, steps: Sequence[int] | None = None, client: Any = None, workers: int = 1,
              progress: bool = True) -> dict[int, str]:
    """Decompose every checkpoint of the run not yet done, one Dask task each (a ``LocalCluster`` of ``workers``
    unless ``client=``). Returns ``{step: "done"|"skipped"|"failed"}``; failures go to ``failed(root)``.

    >>> decompose("/work/polca/study")                                                      # doctest: +SKIP
    {0: 'done', 20: 'done', ...}
    """
    from workbench.runner import Task, run_tasks

    root = Path(root)
    settings = Settings(**json.loads(_paths(root)["settings"].read_text()))
    all_steps = [c["step"] for c in settings.checkpoints]
    todo = all_steps if steps is None else [int(s) for s in steps]
    unknown = sorted(set(todo) - set(all_steps))
    if unknown:
        raise PolcaInputError(f"steps {unknown} are not checkpoints of the run in {str(root)!r}.")
    (root / "steps").mkdir(parents=True, exist_ok=True)
    tasks = [Task(f"step_{s:07d}", decompose_checkpoint, (str(root), s)) for s in todo]
    by_key = {t.key: s for t, s in zip(tasks, todo)}

    def record(key: str, text: str) -> None:
        _failed_path(root, by_key[key]).write_text(json.dumps({"step": by_key[key], "error": text}))

    status = run_tasks(tasks, is_done=lambda key: step_path(root, by_key[key]).is_file(), on_failure=record,
                       on_success=lambda key: _failed_path(root, by_key[key]).unlink(missing_ok=True),
                       client=client, workers=workers, progress=progress, desc="POLCA checkpoints",
                       what="checkpoint", rerun_hint=lambda key: f"wb.analyses.polca.rerun({str(root)!r}, "
                                                                 f"[{by_key[key]}])")
    return {by_key[k]: v for k, v in status.items()}


def rerun(root: str | os.PathLike, steps: Sequence[int] | None = None, client: Any = None, workers: int = 1,
          progress: bool = True) -> dict[int, str]:
    """Re-run the decomposition of ``steps`` (default: the failed ones) alone, discarding their old result.

    >>> rerun("/work/polca/study", [120])                                                   # doctest: +SKIP
    {120: 'done'}
    """
    root = Path(root)
    steps = sorted(failed(root)) if steps is None else [int(s) for s in steps]
    for s in steps:
        step_path(root, s).unlink(missing_ok=True)
    return decompose(root, steps, client=client, workers=workers, progress=progress) if steps else {}


def _raise_failures(root: Path, status: Mapping[int, str]) -> None:
    bad = {s: t for s, t in failed(root).items() if status.get(s) == "failed"}
    if bad:
        first = min(bad)
        raise PolcaRunError(f"{len(bad)} of {len(status)} checkpoints failed (step {first}: {bad[first]}); the finished "
                            f"ones are kept in {str(root)!r}; fix the cause and call rerun({str(root)!r}) or polca() "
                            "again.")


# ------------------------------------------------------------------------------------------------------- assembling
def gather(root: str | os.PathLike) -> dict[str, np.ndarray]:
    """Stack every checkpoint's decomposition: ``steps (S,)``, ``d (S, dir, N)``, ``coord (S, dir)``,
    ``curvature (S, dir)`` (linearly interpolated over steps between the checkpoints where it was computed),
    ``loss (S, N)``. Missing checkpoints raise :class:`PolcaRunError`.

    >>> gather("/work/polca/study")["d"].shape                                              # doctest: +SKIP
    (201, 100, 2000)
    """
    root = Path(root)
    settings = Settings(**json.loads(_paths(root)["settings"].read_text()))
    steps = [c["step"] for c in settings.checkpoints]
    missing = [s for s in steps if not step_path(root, s).is_file()]
    if missing:
        raise PolcaRunError(f"{len(missing)} checkpoints are not decomposed yet (first: step {missing[0]}); run "
                            f"decompose({str(root)!r}) first.")
    parts = [load(step_path(root, s)) for s in steps]
    curv = np.stack([p["curvature"].values for p in parts])
    for j in range(curv.shape[1]):
        known = np.isfinite(curv[:, j])
        if known.any() and not known.all():
            curv[:, j] = np.interp(steps, np.asarray(steps)[known], curv[known, j])
    return {"steps": np.asarray(steps, np.int64),
            "d": np.stack([p["d"].values for p in parts]).astype(np.float64),
            "coord": np.stack([p["coord"].values for p in parts]),
            "curvature": curv,
            "loss": np.stack([p["loss"].values for p in parts]).astype(np.float64),
            "seconds": np.array([p.attrs.get("seconds", np.nan) for p in parts])}


METHODS = ("exact loss", "change in exact loss", "LCA (largest parameters)", "Fisher <b, grad l>^2",
           "random orthonormal basis", "first-order POLCA", "POLCA", "POLCA, trapezoid second order")


def assemble(root: str | os.PathLike, store_every: int = 1, tau: float | None = None, delta: float | None = None,
             min_cluster_size: int | None = None, min_samples: int | None = None, max_ratio: float = 10.0,
             carry_label: str = "carry", place_label: str = "place", store_dtype: str = "float32",
             progress: bool = True) -> xr.Dataset:
    """The study's Dataset from a decomposed run: POLCA's projected losses (second order included), filters, HDBSCAN
    clusters, break steps and the baselines' Table 1 rows (when the samples carry ``carry``/``place`` labels).

    The terms are summed over every checkpoint; ``store_every`` keeps the trajectories at every n-th checkpoint (and
    the last), and clusters and break steps are found on those (the stored data is what was clustered). ``tau`` defaults to
    :func:`~workbench.analyses.polca.findings.flattening_step` of the mean exact loss, ``delta`` to ``tau / 10``;
    HDBSCAN's sizes default to :func:`~workbench.analyses.polca.findings.scaled_sizes` of the sample count.
    ``store_dtype="float16"`` stores the projected losses at half precision (for shipping); they are rounded to it
    before the filters and the clustering, so the stored values are exactly what was clustered.

    >>> ds = assemble("/work/polca/study")                                                  # doctest: +SKIP
    """
    root = Path(root)
    p = _paths(root)
    settings = Settings(**json.loads(p["settings"].read_text()))
    samples = load(p["samples"])
    basis = load(p["basis"])
    g = gather(root)
    all_steps, d, coord, curv, loss_all = g["steps"], g["d"], g["coord"], g["curvature"], g["loss"]
    keep_idx = np.unique(np.r_[np.arange(0, len(all_steps), max(1, int(store_every))), len(all_steps) - 1])
    steps, loss = all_steps[keep_idx], loss_all[keep_idx]
    k, kr = basis.sizes["basis"], basis.sizes["random"]
    n = loss.shape[1]
    # LCA on as many of the largest parameters as there are basis vectors (the paper: 50 and 50), so every approach
    # has at most K directions and approach_cluster holds them all
    sl = {"polca": slice(0, k), "random": slice(k, k + kr), "lca": slice(k + kr, min(d.shape[1], k + kr + k))}
    mean_loss = loss.mean(1)
    tau = float(F.flattening_step(mean_loss, steps)) if tau is None else float(tau)
    spacing = float(steps[1] - steps[0])
    delta = max(spacing, round(tau / 10 / spacing) * spacing) if delta is None else float(delta)
    default_mcs, default_ms = F.scaled_sizes(n)
    mcs = default_mcs if min_cluster_size is None else int(min_cluster_size)
    ms = default_ms if min_samples is None else int(min_samples)

    if store_dtype not in ("float16", "float32"):
        raise PolcaInputError(f"store_dtype must be 'float16' or 'float32', got {store_dtype!r}.")
    pl = F.projected_loss(F.polca_terms(d[:, sl["polca"]], coord[:, sl["polca"]], curv[:, sl["polca"]],
                                        max_ratio))[:, :, keep_idx].astype(store_dtype).astype(np.float64)
    keep_v, keep_s = F.vector_filter(pl), F.sample_filter(pl)
    cluster = F.cluster_vectors(pl, mcs, ms, keep_v, keep_s, progress=progress)
    breaks = np.stack([F.break_steps(pl[b], steps, delta) for b in range(k)])
    exact = loss.T  # (N, S)
    exact_keep = exact[:, -1] <= exact[:, 0]
    exact_cluster = np.full(n, F.FILTERED, np.int64)
    exact_cluster[exact_keep] = F._ordered(F.hdbscan_labels(exact[exact_keep], mcs, ms), exact[exact_keep])
    exact_breaks = F.break_steps(exact, steps, delta)

    rows = None
    if carry_label in samples.coords and place_label in samples.coords:
        carry = np.asarray(samples[carry_label].values).astype(bool)
        place = np.asarray(samples[place_label].values).astype(str)
        rows = _table(d, coord, curv, loss, steps, keep_idx, sl, keep_v, keep_s, cluster, breaks, exact_cluster,
                      exact_breaks, tau, delta, mcs, ms, max_ratio, carry, place, progress)
    # one cluster_id axis wide enough for every approach's clusters in any one direction
    n_cl = max([1, int(cluster.max()) + 1, int(exact_cluster.max()) + 1]
               + [int(r.labels.max()) + 1 for r in (rows or {}).values()])
    break_step = F.cluster_break_steps(cluster, breaks, n_cl)
    exact_break = F.cluster_break_steps(exact_cluster[None], exact_breaks[None], n_cl)[0]

    data: dict[str, Any] = {
        "projected_loss": (("basis", "sample", "step"), pl.astype(store_dtype)),
        "exact_loss": (("sample", "step"), exact.astype(np.float32)),
        "cluster": (("basis", "sample"), cluster.astype(np.int16)),
        "exact_cluster": ("sample", exact_cluster.astype(np.int16)),
        "break_step": (("basis", "cluster_id"), break_step),
        "exact_break_step": ("cluster_id", exact_break),
        "curvature": (("basis", "step"), curv[keep_idx, sl["polca"]].T.copy()),
        "flip_rate": ("basis", _flip_rate(coord[:, sl["polca"]])),
        "net_over_path": ("basis", _net_over_path(coord[:, sl["polca"]])),
    }
    coords: dict[str, Any] = {
        "step": steps, "sample": np.arange(n), "basis": np.arange(k), "cluster_id": np.arange(n_cl),
        "found_at": ("basis", basis["found_at"].values), "eigenvalue": ("basis", basis["eigenvalue"].values),
        "kept": ("basis", keep_v),
    }
    for name, c in samples.coords.items():
        if c.dims == ("sample",):
            coords[str(name)] = ("sample", c.values)
    spans = _target_spans(settings, samples)
    if spans is not None:
        coords["target_start"], coords["target_end"] = ("sample", spans[0]), ("sample", spans[1])
    attrs = provenance(model=str(Path(settings.checkpoints[-1]["source"]).name), task="polca",
                       seed=settings.seed, paper=PAPER, tau=tau, delta=delta, min_cluster_size=mcs,
                       min_samples=ms, max_ratio=max_ratio, stored_every=int(store_every),
                       decomposed_steps=f"{int(all_steps[0])}..{int(all_steps[-1])} ({len(all_steps)} checkpoints)",
                       second_order_X="the study's samples (mean over them)",
                       curvature=f"recomputed at every {settings.curvature_every}th checkpoint (linear in between): "
                                 f"b^T H b of the mean loss on the first {settings.curvature_samples} Hessian texts",
                       tau_rule="first step from which the 5-checkpoint running median of the mean exact loss "
                                "stays within 10% of its total drop above its final value",
                       decompose_seconds=float(np.nansum(g["seconds"])),
                       random_flip_rate=float(np.mean(_flip_rate(coord[:, sl["random"]]))),
                       random_net_over_path=float(np.mean(_net_over_path(coord[:, sl["random"]]))),
                       basis_seconds=float(basis.attrs.get("seconds", np.nan)),
                       settings=json.dumps(_portable(settings)))
    if rows is not None:
        summary = {m: rows[m].summary for m in METHODS}
        data["table_homogeneity"] = ("approach", [summary[m]["max_homogeneity"] for m in METHODS])
        data["table_hidden_share"] = ("approach", [summary[m]["hidden_share"] for m in METHODS])
        data["table_clusters"] = ("approach", [summary[m]["n_clusters"] for m in METHODS])
        data["paper_homogeneity"] = ("approach", [F.PAPER_TABLE1.get(m, (np.nan, np.nan))[0] for m in METHODS])
        data["paper_hidden_share"] = ("approach", [F.PAPER_TABLE1.get(m, (np.nan, np.nan))[1] for m in METHODS])
        a_labels, a_breaks, a_dir = _approach_arrays(rows, k, n_cl)
        data["approach_cluster"] = (("approach", "basis", "sample"), a_labels)
        data["approach_break_step"] = (("approach", "basis", "cluster_id"), a_breaks)
        coords["approach_direction"] = (("approach", "basis"), a_dir)
        coords["approach"] = list(METHODS)
        attrs["table_top"] = F.to_json({m: summary[m]["top"] for m in METHODS})
    return validate_polca(xr.Dataset(data, coords=coords, attrs=attrs))


def _portable(settings: Settings) -> dict[str, Any]:
    """The settings as shipped: each local checkpoint folder named by its own folder name (``step_0000400``), never
    by the path of the machine that made the study; hub names stay as they are.

    >>> _portable(Settings([{"step": 0, "source": "/tmp/run/step_0000000", "revision": None}], [0]))["checkpoints"]
    [{'step': 0, 'source': 'step_0000000', 'revision': None}]
    """
    out = asdict(settings)
    for ck in out["checkpoints"]:
        src = str(ck["source"])
        if os.path.isabs(src) or os.path.exists(src):
            ck["source"] = Path(src).name
    return out


def _flip_rate(coord: np.ndarray) -> np.ndarray:
    """Per direction: how often <b, theta> reverses between consecutive checkpoint steps (0.5 for a random walk;
    above 0.5 for an oscillation)."""
    d = np.diff(coord, axis=0)
    return (np.sign(d[1:]) != np.sign(d[:-1])).mean(axis=0) if len(d) > 1 else np.full(coord.shape[1], np.nan)


def _net_over_path(coord: np.ndarray) -> np.ndarray:
    """Per direction: net displacement of <b, theta> over its path length (1 for a steady drift)."""
    path = np.abs(np.diff(coord, axis=0)).sum(axis=0)
    return np.abs(coord[-1] - coord[0]) / np.where(path > 0, path, np.nan)


def _target_spans(settings: Settings, samples: xr.Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """Character span of every sample's target token in its text (for highlighting), from the tokenizer's offsets;
    None when the tokenizer gives no offsets."""
    try:
        tok = _tokenizer(Checkpoint(**settings.checkpoints[0]), None)
        texts = [str(t) for t in samples["text"].values]
        start, end = np.full(len(texts), -1, np.int64), np.full(len(texts), -1, np.int64)
        cache: dict[str, list] = {}
        for i, (text, p) in enumerate(zip(texts, samples["pos"].values)):
            if text not in cache:
                cache[text] = tok(text, return_offsets_mapping=True)["offset_mapping"]
            start[i], end[i] = cache[text][int(p) + 1]
        return start, end
    except Exception:  # noqa: BLE001 - a slow or offset-less tokenizer: no highlight, nothing else changes
        return None


@dataclass
class _Row:
    """One Table 1 approach: its summary, cluster labels ``(D, N)`` over its own D directions (one row for the
    exact-loss approaches) and every sample's break step ``(D, N)``."""

    summary: dict[str, Any]
    labels: np.ndarray
    breaks: np.ndarray


def _table(d, coord, curv, loss, steps, keep_idx, sl, keep_v, keep_s, cluster, breaks, exact_cluster, exact_breaks, tau,
           delta, mcs, ms, max_ratio, carry, place, progress) -> dict[str, _Row]:
    """Table 1 rows: every method clustered with the same HDBSCAN sizes, filters and break rule."""
    rows: dict[str, _Row] = {}

    def row(labels: np.ndarray, brk: np.ndarray) -> _Row:
        labels, brk = np.atleast_2d(labels), np.atleast_2d(brk)
        return _Row(F.summarize(F.cluster_stats(labels, brk, tau, carry, place)), labels, brk)

    def direction_method(p: np.ndarray) -> _Row:
        p = p[:, :, keep_idx]
        kv, ks = F.vector_filter(p), F.sample_filter(p)
        labels = F.cluster_vectors(p, mcs, ms, kv, ks, progress=progress)
        return row(labels, np.stack([F.break_steps(p[b], steps, delta) for b in range(p.shape[0])]))

    rows["POLCA"] = row(cluster, breaks)
    rows["exact loss"] = row(exact_cluster, exact_breaks)
    change = np.diff(loss.T, axis=1)  # per-step change in exact loss
    keep = loss.T[:, -1] <= loss.T[:, 0]
    labels = np.full(change.shape[0], F.FILTERED, np.int64)
    labels[keep] = F.hdbscan_labels(change[keep], mcs, ms)
    rows["change in exact loss"] = row(labels, exact_breaks)
    rows["first-order POLCA"] = direction_method(F.projected_loss(F.first_order_terms(d[:, sl["polca"]],
                                                                                      coord[:, sl["polca"]])))
    rows["random orthonormal basis"] = direction_method(F.projected_loss(F.polca_terms(
        d[:, sl["random"]], coord[:, sl["random"]], curv[:, sl["random"]], max_ratio)))
    d_b, c_b = d[:, sl["polca"]], coord[:, sl["polca"]]  # the paper's own approximation of its second-order term
    rows["POLCA, trapezoid second order"] = direction_method(F.projected_loss(  # (not in its Table 1)
        F.first_order_terms(d_b, c_b) + F.trapezoid_terms(d_b, c_b)))
    rows["LCA (largest parameters)"] = direction_method(F.projected_loss(F.first_order_terms(d[:, sl["lca"]],
                                                                                            coord[:, sl["lca"]])))
    fisher = np.transpose(d[keep_idx, sl["polca"]] ** 2, (1, 2, 0))  # (K, N, S): <b, grad l>^2 along training
    labels = np.full(cluster.shape, F.FILTERED, np.int64)
    for b in range(fisher.shape[0]):
        if keep_v[b]:
            idx = np.flatnonzero(keep_s[b])
            labels[b, idx] = F.hdbscan_labels(fisher[b, idx], mcs, ms)
    rows["Fisher <b, grad l>^2"] = row(labels, breaks)
    return rows


def _approach_arrays(rows: Mapping[str, _Row], k: int, n_cl: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every approach's labels on the study's ``basis`` rows: ``approach_cluster`` ``(A, K, N)``, its clusters' mean
    break steps ``(A, K, n_cl)`` and ``approach_direction`` ``(A, K)``, the approach's own direction in each row.

    Direction approaches keep their directions in order (LCA may have fewer than K; ``-1`` marks an unused row, whose
    labels are all filtered); the exact-loss approaches repeat their one row along ``basis``."""
    labels = np.full((len(METHODS), k, rows["POLCA"].labels.shape[1]), F.FILTERED, np.int16)
    brk = np.full((len(METHODS), k, n_cl), np.nan)
    direction = np.full((len(METHODS), k), -1, np.int32)
    for a, m in enumerate(METHODS):
        r = rows[m]
        d = r.labels.shape[0]
        if d > k:
            raise PolcaRunError(f"{m} has {d} directions, more than the {k} rows of 'basis'.")
        chosen = np.zeros(k, np.int64) if d == 1 else np.arange(d)  # one exact-loss clustering: repeated
        labels[a, : len(chosen)] = r.labels[chosen]
        brk[a, : len(chosen)] = F.cluster_break_steps(r.labels[chosen], r.breaks[chosen], n_cl)
        direction[a, : len(chosen)] = chosen
    return labels, brk, direction


# ------------------------------------------------------------------------------------------------------ the pipeline
def polca(checkpoints: Sequence[Any], samples: Sequence[Sample], root: str | os.PathLike, *,
          hessian_samples: Sequence[Sample], basis_every: int, n_vectors: int | None = None, k: int = 1,
          labels: Mapping[str, Sequence[Any]] | None = None, steps: Sequence[int] | None = None,
          tokenizer: Any = None, n_random: int | None = None, n_lca: int = 50, curvature_samples: int = 64,
          curvature_every: int = 1, method: str = "auto", seed: int = 0, store_every: int = 1,
          basis: np.ndarray | None = None, client: Any = None, workers: int = 1, progress: bool = True,
          **findings: Any) -> xr.Dataset:
    """Run POLCA end to end under ``root`` (resumable: finished passes and checkpoints are kept and skipped) and
    return the study's Dataset (also saved as ``root/polca.nc``).

    ``checkpoints``: folders or ``(name, revision)`` pairs of one HF causal LM (``steps=`` when their names carry no
    step). ``samples``: :class:`Sample` ``(text, positions)``; ``labels``: categorical values per target token
    (e.g. ``place``, ``carry``), kept as sample coords. ``hessian_samples``: the fixed training texts of the Hessian.
    A basis vector is added every ``basis_every`` steps (from the first checkpoint, ``k`` each, at most
    ``n_vectors``); or give your own orthonormal ``basis`` ``(K, P)``. ``findings`` go to :func:`assemble`
    (``tau``, ``delta``, ``min_cluster_size``, ``min_samples``).

    >>> ds = polca(folders, samples, "/work/polca/study", hessian_samples=train, basis_every=160,
    ...            labels={"place": place, "carry": carry})                                  # doctest: +SKIP
    """
    cks = checkpoints_from(checkpoints, steps)
    check_shapes(cks)
    if isinstance(basis_every, bool) or not isinstance(basis_every, int) or basis_every < 1:
        raise PolcaInputError(f"basis_every must be a positive number of steps, got {basis_every!r}.")
    step_list = [c.step for c in cks]
    wanted = list(range(step_list[0], step_list[-1] + 1, basis_every))
    basis_steps = sorted({min(step_list, key=lambda s, w=w: abs(s - w)) for w in wanted})
    if n_vectors is not None:
        basis_steps = basis_steps[: max(1, -(-int(n_vectors) // k))]
    n_basis = len(basis_steps) * k if basis is None else int(np.shape(basis)[0])
    settings = Settings([asdict(c) for c in cks], basis_steps, k=k, n_random=n_random or n_basis,
                        n_lca=n_lca, curvature_samples=curvature_samples, curvature_every=curvature_every,
                        method=method, seed=seed)
    root = Path(root)
    prepare(root, cks, samples, hessian_samples, labels, settings, tokenizer)
    make_basis(root, progress=progress, vectors=basis)
    status = decompose(root, client=client, workers=workers, progress=progress)
    _raise_failures(root, status)
    ds = assemble(root, store_every=store_every, progress=progress, **findings)
    save(ds, root / "polca.nc")
    return ds


__all__ = ["Sample", "PolcaSample", "Checkpoint", "PolcaInputError", "PolcaRunError", "checkpoints_from", "check_shapes",
           "load_checkpoint", "encode_samples", "prepare", "make_basis", "decompose_checkpoint", "decompose",
           "rerun", "failed", "gather", "assemble", "polca", "step_path", "METHODS"]
