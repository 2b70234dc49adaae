"""Judge SAEs against a task's ground truth: reconstruction, detection, causal effect, the neuron baseline and seed
stability, in one Dataset (the contract of ``workbench.data.validate_sae``).

Per SAE (dim ``sae``): ``fvu`` (squared reconstruction error over the activations' total variance), ``l0`` (mean active
latents per token), ``dead_share`` (never active on the evaluation tokens), ``dense_share`` (active on more than
:data:`DENSE` of them), and the task accuracy of the model with the SAE's reconstruction spliced in at the site
(``spliced_metric``) beside the site zero-ablated (``zero_ablation_metric``) and untouched (``clean_metric``).

Per latent: ``frequency``; ``detection`` per ground-truth label, ``max(AUROC, 1 - AUROC)`` for binary labels (and
one-vs-rest top-of-stack types) and ``|Pearson r|`` for depth, so a unit that fires on a label's absence counts as
``|r|`` does; ``causal_effect``, the mean ``|change of the model's output|`` (class logit difference at ``[end]``) when
the latent is ablated inside the model (``x -> x - f_j(x) d_j`` at every position, an nnsight intervention), over
strings where its best label is on at some token; ``causal_effect_share``, that effect over the site's whole effect
(mean ``|output(clean) - output(site zero-ablated)|``). The **neuron baseline** (dim ``unit``) scores the model's own
units the same way, as MIB compares them: the MLP neurons of the block writing the site (zero-ablated) and the
site's own dimensions (mean-ablated). ``match_cosine``/``match_latent``/``match_sae`` come from
:mod:`workbench.analyses.sae.stability`.

>>> import numpy as np
>>> detection_scores(np.array([[0.0], [1.0], [2.0]]), np.array([[0.0], [0.0], [1.0]]), ["violation"]).tolist()
[[1.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from workbench.analyses.sae.activations import activations_of, batch_of, check_site, real_mask, trace_site
from workbench.analyses.sae.architectures import SAEError, SparseAutoencoder
from workbench.analyses.sae.stability import match_decoders
from workbench.analyses.sae.tasks import LABEL_KINDS, Task, label_matrix, label_names
from workbench.backend.model import Model

#: A latent is dense when active on more than this share of tokens.
DENSE = 0.5
#: A well-correlated latent: detection at least this.
WELL_CORRELATED = 0.9
#: No causal effect: ablating it moves the output by less than this share of the whole site's effect.
NO_EFFECT = 0.05
#: Top tokens of a decoder direction through the unembedding.
TOP_TOKENS = 3


# ------------------------------------------------------------------------------------------------ correlational
def _auroc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC of every column of ``scores`` (sample, unit) for a binary label, by ranks (ties averaged)."""
    from scipy.stats import rankdata

    pos = positive.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(scores.shape[1], np.nan)
    ranks = rankdata(scores, axis=0)
    return (ranks[pos].sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _abs_r(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = scores - scores.mean(0)
    yc = y - y.mean()
    den = np.sqrt((s ** 2).sum(0) * (yc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (s * yc[:, None]).sum(0) / den
    return np.where(den > 0, np.abs(r), 0.0)


def detection_scores(scores: np.ndarray, labels: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(unit, label) detection: ``max(AUROC, 1 - AUROC)`` for binary labels, ``|Pearson r|`` for ``depth``.

    ``scores`` is (sample, unit), ``labels`` (sample, label) as from :func:`label_matrix`; a label array whose length
    is not the number of samples is refused.

    >>> scores = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 0.0]])
    >>> detection_scores(scores, np.array([[0, 0], [1, 0], [2, 1], [3, 0]]), ["depth", "violation"]).round(3).tolist()
    [[1.0, 0.667], [0.258, 1.0]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[0] != scores.shape[0]:
        raise SAEError(f"labels must have one row per sample ({scores.shape[0]}), got shape {labels.shape}.")
    if labels.shape[1] != len(names):
        raise SAEError(f"names must name each of the {labels.shape[1]} label columns, got {len(names)} names.")
    out = np.zeros((scores.shape[1], len(names)))
    for j, name in enumerate(names):
        base = name.partition("=")[0]
        if LABEL_KINDS.get(base) == "ordinal":
            out[:, j] = _abs_r(scores, labels[:, j])
        else:
            auc = _auroc(scores, labels[:, j] > 0.5)
            out[:, j] = np.maximum(auc, 1 - auc)
    return out


# ------------------------------------------------------------------------------------------------ interventions
def _read(task: Task, logits: torch.Tensor, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Every output of the task from one pass's logits: the answer (key ``""``) and each extra readout."""
    logits = logits.float()
    out = {"": task.readout(logits, ids).numpy()}
    for name, fn in task.readouts.items():
        out[name] = fn(logits, ids).numpy()
    return out


def _outputs(model: Model, task: Task, ids: np.ndarray, layer: int, site: str, edit: Any = None,
             chunk: int = 512) -> dict[str, np.ndarray]:
    parts: list[dict[str, np.ndarray]] = []
    for i in range(0, len(ids), chunk):
        _, logits = trace_site(model, ids[i: i + chunk], layer, site, edit=edit, logits=True)
        parts.append(_read(task, logits, ids[i: i + chunk]))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _site_effects(clean: dict[str, np.ndarray], zero: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(np.mean(np.abs(clean[k] - zero[k]))) for k in clean}


def _suffix(name: str) -> str:
    return f"_{name}" if name else ""


def _accuracy(output: np.ndarray, label: np.ndarray) -> float:
    return float(((output > 0).astype(np.int64) == np.asarray(label)).mean())


def _strings_where(samples: dict[str, Any], label_col: np.ndarray, name: str, n_strings: int,
                   max_strings: int, rng: np.random.Generator) -> np.ndarray:
    """Strings with at least one token where label ``name`` is on (depth: at least 1), at most ``max_strings``
    (drawn with ``rng``, which callers seed per unit: ``[seed, 5, latent]``, ``[seed, 6, neuron]``,
    ``[seed, 7, dimension]``)."""
    on = label_col > 0.5  # binary: positive; depth: at least 1
    hit = np.zeros(n_strings, dtype=bool)
    hit[np.asarray(samples["string"])[on]] = True
    idx = np.flatnonzero(hit)
    if len(idx) > max_strings:
        idx = np.sort(rng.choice(idx, max_strings, replace=False))
    return idx


def _ablation_effects(task: Task, ids: np.ndarray, clean: dict[str, np.ndarray], strings: list[np.ndarray],
                      run: Any, rows_per_pass: int, desc: str, progress: bool) -> dict[str, np.ndarray]:
    """Mean |output(edited) - output(clean)| per unit and output, over the unit's own strings, in passes of
    ``rows_per_pass`` (unit, string) rows; ``run(units, sub)`` returns the logits of the strings ``sub`` with row r's
    unit ``units[r]`` ablated."""
    rows = [(u, s) for u, ss in enumerate(strings) for s in ss]
    total = {k: np.zeros(len(strings)) for k in clean}
    count = np.zeros(len(strings))
    for i in tqdm(range(0, len(rows), rows_per_pass), desc=desc, disable=not progress, leave=False):
        part = rows[i: i + rows_per_pass]
        units = np.array([u for u, _ in part])
        who = np.array([s for _, s in part])
        sub = ids[who]
        for k, out in _read(task, run(units, sub), sub).items():
            np.add.at(total[k], units, np.abs(out - clean[k][who]))
        np.add.at(count, units, 1)
    return _means(total, count)


def _site_edit(model: Model, layer: int, site: str, make_edit: Any) -> Any:
    """``run`` for :func:`_ablation_effects` from ``make_edit(units)``, an edit of the site's output."""
    return lambda units, sub: trace_site(model, sub, layer, site, edit=make_edit(units), logits=True)[1]


def _means(total: dict[str, np.ndarray], count: np.ndarray) -> dict[str, np.ndarray]:
    has = count > 0
    out = {}
    for k, t in total.items():
        e = np.full(len(count), np.nan)
        e[has] = t[has] / count[has]
        out[k] = e
    return out


def _latent_ablation(sae: SparseAutoencoder):
    def make(units: np.ndarray):
        j = torch.as_tensor(units)

        def edit(x: torch.Tensor) -> torch.Tensor:
            f = sae.encode(x)  # (B, T, d_sae)
            fj = f.gather(-1, j[:, None, None].expand(-1, x.shape[1], 1))  # (B, T, 1)
            return x - fj * sae.W_dec[j][:, None, :]
        return edit
    return make


# --------------------------------------------------------------------------------------------------------- SAEs
@torch.no_grad()
def evaluate_sae(model: Model, task: Task, sae: SparseAutoencoder, samples: dict[str, Any], acts: torch.Tensor,
                 layer: int, site: str, *, clean: dict[str, np.ndarray], zero: dict[str, np.ndarray],
                 max_strings: int = 32,
                 rows_per_pass: int = 2048, seed: int = 0, progress: bool = True) -> dict[str, np.ndarray]:
    """Every per-SAE and per-latent score of one SAE on the evaluation samples (``acts`` are their activations,
    ``clean``/``zero`` the per-string outputs of the untouched and site-zero-ablated model)."""
    if acts.shape[1] != sae.d_in:
        raise SAEError(f"the SAE takes inputs of size d_in={sae.d_in}, but the activations at layer {layer} site "
                       f"{site!r} have size {acts.shape[1]}.")
    names = label_names(task)
    labels = label_matrix(samples, names)
    f = sae.encode(acts)
    xh = sae.decode(f)
    fvu = float(((acts - xh) ** 2).sum() / ((acts - acts.mean(0)) ** 2).sum())
    active = (f > 0).float()
    freq = active.mean(0).numpy()
    ids = np.asarray(samples["ids"])
    string_label = task.string_label(samples)
    spliced = _outputs(model, task, ids, layer, site, edit=lambda x: sae(x))
    det = detection_scores(f.numpy(), labels, names)
    best = det.argmax(1)
    strings = [(_strings_where(samples, labels[:, b], names[b], len(ids), max_strings,
                               np.random.default_rng([int(seed), 5, j])) if freq[j] > 0
                else np.zeros(0, dtype=np.int64)) for j, b in enumerate(best)]
    effects = _ablation_effects(task, ids, clean, strings, _site_edit(model, layer, site, _latent_ablation(sae)),
                                rows_per_pass, "latent ablations", progress)
    whole = _site_effects(clean, zero)
    return {"fvu": fvu, "l0": float(active.sum(1).mean()), "dead_share": float((freq == 0).mean()),
            "dense_share": float((freq > DENSE).mean()), "spliced_metric": _accuracy(spliced[""], string_label),
            "spliced_output_change": float(np.mean(np.abs(spliced[""] - clean[""]))),
            "frequency": freq, "detection": det, "f": f.numpy(),
            **{f"causal_effect{_suffix(k)}": e for k, e in effects.items()},
            **{f"causal_effect_share{_suffix(k)}": e / max(whole[k], 1e-12) for k, e in effects.items()}}


@torch.no_grad()
def latent_scores(model: Model, task: Task, sae: SparseAutoencoder, latent: int, layer: int, site: str, *,
                  n_strings: int = 300, seed: int = 1234, max_strings: int = 32) -> dict[str, Any]:
    """One latent's scores by the rules of :func:`evaluate`, without scoring the others: the same evaluation samples
    (``task.samples(n_strings, seed)``) and the same strings for the ablation (drawn with ``[seed, 5, latent]``), so
    ``detection``, ``frequency`` and ``causal_effect`` equal the Dataset's for that latent.

    Returns ``activation`` (every evaluation token), ``frequency``, ``detection`` (per label of
    ``label_names(task)``), ``best_label``, ``strings`` (the ablated strings), ``causal_effect`` (per task output:
    ``""`` for the answer, then each extra readout's name) and the ``samples``.

    >>> import workbench as wb                                                                     # doctest: +SKIP
    >>> r = latent_scores(wb.load_model("dyck2"), get_task("dyck2"), sae, 5, 2, "resid")          # doctest: +SKIP
    >>> sorted(r)[:3]                                                                              # doctest: +SKIP
    ['activation', 'best_label', 'causal_effect']
    """
    layer, site = check_site(model, layer, site)
    if isinstance(latent, bool) or not isinstance(latent, (int, np.integer)) or not 0 <= latent < sae.d_sae:
        raise SAEError(f"latent must be an index in 0..{sae.d_sae - 1}, got {latent!r}.")
    latent = int(latent)
    samples = task.samples(int(n_strings), int(seed))
    acts = activations_of(model, samples, layer, site)
    if acts.shape[1] != sae.d_in:
        raise SAEError(f"the SAE takes inputs of size d_in={sae.d_in}, but the activations at layer {layer} site "
                       f"{site!r} have size {acts.shape[1]}.")
    names = label_names(task)
    labels = label_matrix(samples, names)
    f = sae.encode(acts)[:, latent].numpy()
    det = detection_scores(f[:, None], labels, names)[0]
    best = int(det.argmax())
    ids = np.asarray(samples["ids"])
    strings = (_strings_where(samples, labels[:, best], names[best], len(ids), max_strings,
                              np.random.default_rng([int(seed), 5, latent])) if (f > 0).any()
               else np.zeros(0, dtype=np.int64))
    sub = ids[strings]
    if len(sub):
        clean = _outputs(model, task, sub, layer, site)
        ablate = _latent_ablation(sae)
        run = _site_edit(model, layer, site, lambda units: ablate(np.full(len(units), latent)))
        effects = _ablation_effects(task, sub, clean, [np.arange(len(sub))], run, 2048, "latent ablation", False)
        effect = {k: float(v[0]) for k, v in effects.items()}
    else:
        effect = {k: float("nan") for k in ("", *task.readouts)}
    return {"activation": f, "frequency": float((f > 0).mean()), "detection": det, "best_label": names[best],
            "strings": strings, "causal_effect": effect, "samples": samples}


def decoder_tokens(model: Model, sae: SparseAutoencoder, top: int = TOP_TOKENS) -> tuple[np.ndarray, np.ndarray]:
    """(latent, rank) top tokens and logits of each unit decoder direction through the unembedding (no final norm:
    the direct path)."""
    w_u = model.unembed._module.weight.detach().float()  # (vocab, d)
    logits = (sae.decoder_directions.detach() @ w_u.T).numpy()
    top = min(top, logits.shape[1])
    order = np.argsort(-logits, axis=1)[:, :top]
    strings = model.token_strings(order)
    return np.asarray(strings, dtype=object), np.take_along_axis(logits, order, axis=1)


# -------------------------------------------------------------------------------------------------------- units
def _neuron_module(model: Model, block: int) -> Any:
    mlp = model.mlp_module(block)
    for name in ("c_proj", "down_proj", "fc2", "dense_4h_to_h"):
        if hasattr(mlp._module, name):
            return getattr(mlp, name)
    raise SAEError(f"cannot find the MLP output projection of {model.name!r} block {block} to read its neurons.")


def neuron_block(layer: int, site: str) -> int | None:
    """The block whose MLP neurons form the baseline for a site: the block writing resid layer l (l - 1), or the
    site's own block for mlp/attn; None for resid layer 0.

    >>> neuron_block(2, "resid"), neuron_block(0, "resid"), neuron_block(1, "mlp")
    (1, None, 1)
    """
    if site == "resid":
        return layer - 1 if layer > 0 else None
    return layer


@torch.no_grad()
def unit_baseline(model: Model, task: Task, samples: dict[str, Any], acts: torch.Tensor, layer: int, site: str,
                  clean: dict[str, np.ndarray], zero: dict[str, np.ndarray], max_strings: int = 32,
                  rows_per_pass: int = 2048,
                  seed: int = 0, progress: bool = True) -> xr.Dataset:
    """Detection and causal effect of the model's own units: MLP neurons (zero-ablated) and the site's dimensions
    (mean-ablated), on the same samples and strings rule as the SAE latents."""
    names = label_names(task)
    labels = label_matrix(samples, names)
    ids = np.asarray(samples["ids"])
    mask = torch.as_tensor(real_mask(samples))
    kinds, index, det_all = [], [], []
    eff_all: dict[str, list[np.ndarray]] = {k: [] for k in clean}
    block = neuron_block(layer, site)
    if block is not None:
        proj = _neuron_module(model, block)
        neurons = []
        for i in range(0, len(ids), 256):
            with torch.no_grad(), model.trace(batch_of(ids[i: i + 256])) as tracer:
                h = proj.input.save()
                tracer.stop()
            neurons.append(h.float()[mask[i: i + 256]])
        neu = torch.cat(neurons)
        det = detection_scores(neu.numpy(), labels, names)
        strings = [_strings_where(samples, labels[:, b], names[b], len(ids), max_strings,
                                  np.random.default_rng([int(seed), 6, u])) for u, b in enumerate(det.argmax(1))]

        eff = _ablation_effects(task, ids, clean, strings, _neuron_ablation(model, proj), rows_per_pass,
                                "neuron ablations", progress)
        kinds += ["neuron"] * neu.shape[1]
        index += list(range(neu.shape[1]))
        det_all.append(det)
        for k in clean:
            eff_all[k].append(eff[k])
    det = detection_scores(acts.numpy(), labels, names)
    strings = [_strings_where(samples, labels[:, b], names[b], len(ids), max_strings,
                              np.random.default_rng([int(seed), 7, u])) for u, b in enumerate(det.argmax(1))]
    mean = acts.mean(0)

    def make_dim(units: np.ndarray):
        j = torch.as_tensor(units)

        def edit(x: torch.Tensor) -> torch.Tensor:
            hot = torch.nn.functional.one_hot(j, x.shape[-1]).to(x.dtype)[:, None, :]
            return x * (1 - hot) + mean.to(x.dtype) * hot
        return edit

    eff = _ablation_effects(task, ids, clean, strings, _site_edit(model, layer, site, make_dim), rows_per_pass,
                            "dimension ablations", progress)
    kinds += ["residual" if site == "resid" else site] * acts.shape[1]
    index += list(range(acts.shape[1]))
    det_all.append(det)
    for k in clean:
        eff_all[k].append(eff[k])
    whole = _site_effects(clean, zero)
    variables: dict[str, Any] = {"unit_detection": (("unit", "label"), np.concatenate(det_all).astype(np.float32))}
    for k in clean:
        effect = np.concatenate(eff_all[k])
        variables[f"unit_causal_effect{_suffix(k)}"] = ("unit", effect.astype(np.float32))
        share = effect / max(whole[k], 1e-12)
        variables[f"unit_causal_effect_share{_suffix(k)}"] = ("unit", share.astype(np.float32))
    return xr.Dataset(
        variables,
        coords={"unit_kind": ("unit", np.array(kinds, dtype=object)), "unit_index": ("unit", np.array(index)),
                "label": np.array(names, dtype=object)})


def _neuron_ablation(model: Model, proj: Any) -> Any:
    """``run`` for :func:`_ablation_effects`: zero-ablate neuron ``units[r]`` (the input of the MLP's output
    projection ``proj``) at every position of row r."""
    def run(units: np.ndarray, sub: np.ndarray) -> torch.Tensor:
        j = torch.as_tensor(units)
        with torch.no_grad(), model.trace(batch_of(sub)):
            h = proj.input
            keep = 1 - torch.nn.functional.one_hot(j, h.shape[-1]).to(h.dtype)[:, None, :]
            proj.input = h * keep
            logits = model.envoy.output.logits.save()
        return logits
    return run


# ------------------------------------------------------------------------------------------------------ the grid
def evaluate(model: Model, task: Task, saes: Mapping[str, SparseAutoencoder], layer: int, site: str, *,
             n_strings: int = 300, seed: int = 1234, n_show_strings: int = 40, max_strings: int = 32,
             units: bool = True, progress: bool = True, float16: bool = True) -> xr.Dataset:
    """The SAE Dataset of ``validate_sae`` for the SAEs ``{key: sae}`` (each with ``architecture``, and ``sparsity``
    and ``seed`` in ``sae.metadata["workbench"]`` when trained by :func:`train_grid`), evaluated on
    ``task.samples(n_strings, seed)``. ``activation`` is kept for the tokens of the first ``n_show_strings`` strings
    (the ``sample`` dim); every score uses all evaluation tokens.

    >>> import workbench as wb                                                                     # doctest: +SKIP
    >>> ds = evaluate(wb.load_model("dyck2"), get_task("dyck2"), {"a": sae}, 2, "resid")          # doctest: +SKIP
    """
    layer, site = check_site(model, layer, site)
    if not saes:
        raise SAEError("saes is empty; give at least one {key: SparseAutoencoder}.")
    samples = task.samples(int(n_strings), int(seed))
    acts = activations_of(model, samples, layer, site)
    for key, sae in saes.items():
        if sae.d_in != acts.shape[1]:
            raise SAEError(f"SAE {key!r} takes inputs of size d_in={sae.d_in}, but the activations at layer {layer} "
                           f"site {site!r} of {model.name!r} have size {acts.shape[1]}.")
    ids = np.asarray(samples["ids"])
    clean = _outputs(model, task, ids, layer, site)
    zero = _outputs(model, task, ids, layer, site, edit=lambda x: torch.zeros_like(x))
    string_label = task.string_label(samples)
    names = label_names(task)
    keys = list(saes)
    n_latent = max(s.d_sae for s in saes.values())
    show = np.asarray(samples["string"]) < n_show_strings
    per: list[dict[str, Any]] = []
    for key in tqdm(keys, desc="evaluating SAEs", disable=not progress):
        per.append(evaluate_sae(model, task, saes[key], samples, acts, layer, site, clean=clean, zero=zero,
                                max_strings=max_strings, seed=seed, progress=False))
    S, L, R = len(keys), n_latent, TOP_TOKENS

    def stack(name: str, shape: tuple[int, ...], fill: float = np.nan) -> np.ndarray:
        out = np.full((S, *shape), fill, dtype=np.float64)
        for i, p in enumerate(per):
            v = np.asarray(p[name])
            out[(i, *[slice(0, n) for n in v.shape])] = v
        return out

    act = np.zeros((S, int(show.sum()), L), dtype=np.float16 if float16 else np.float32)
    top_tok = np.full((S, L, R), "", dtype=object)
    top_logit = np.full((S, L, R), np.nan, dtype=np.float32)
    for i, (key, p) in enumerate(zip(keys, per)):
        act[i, :, : p["f"].shape[1]] = p["f"][show]
        t, lg = decoder_tokens(model, saes[key], R)
        top_tok[i, : t.shape[0], : t.shape[1]] = t
        top_logit[i, : lg.shape[0], : lg.shape[1]] = lg
    arch = [saes[k].architecture for k in keys]
    meta = [getattr(saes[k], "metadata", {}).get("workbench", {}) for k in keys]
    sparsity = [float(m.get("sparsity", saes[k].k if saes[k].architecture != "relu_l1" else saes[k].l1))
                for k, m in zip(keys, meta)]
    seeds = [int(m.get("seed", -1)) for m in meta]
    match_cos = np.full((S, L), np.nan)
    match_lat = np.full((S, L), -1, dtype=np.int64)
    match_sae = np.full(S, "", dtype=object)
    for i, k in enumerate(keys):
        group = [j for j in range(S) if arch[j] == arch[i] and sparsity[j] == sparsity[i]]
        if len(group) < 2:
            continue
        other = group[(group.index(i) + 1) % len(group)]
        c, m = match_decoders(saes[k].W_dec.detach().numpy(), saes[keys[other]].W_dec.detach().numpy())
        match_cos[i, : len(c)] = c
        match_lat[i, : len(m)] = m
        match_sae[i] = keys[other]
    sel = {k: np.asarray(v)[show] for k, v in samples.items()
           if k in ("string", "position", "token", "char", "depth", "top_type", "violation")}
    texts = np.asarray(samples["text"], dtype=object)
    ds = xr.Dataset(
        {"activation": (("sae", "sample", "latent"), act),
         "detection": (("sae", "latent", "label"), stack("detection", (L, len(names))).astype(np.float32)),
         **{f"{v}{_suffix(k)}": (("sae", "latent"), stack(f"{v}{_suffix(k)}", (L,)).astype(np.float32))
            for k in clean for v in ("causal_effect", "causal_effect_share")},
         "frequency": (("sae", "latent"), stack("frequency", (L,)).astype(np.float32)),
         "match_cosine": (("sae", "latent"), match_cos.astype(np.float32)),
         "match_latent": (("sae", "latent"), match_lat),
         "match_sae": ("sae", match_sae),
         "decoder_top_tokens": (("sae", "latent", "rank"), top_tok),
         "decoder_top_logits": (("sae", "latent", "rank"), top_logit),
         **{name: ("sae", np.array([p[name] for p in per], dtype=np.float64))
            for name in ("fvu", "l0", "dead_share", "dense_share", "spliced_metric", "spliced_output_change")},
         "zero_ablation_metric": ((), _accuracy(zero[""], string_label)),
         "clean_metric": ((), _accuracy(clean[""], string_label)),
         **{f"site_effect{_suffix(k)}": ((), v) for k, v in _site_effects(clean, zero).items()}},
        coords={"sae": np.array(keys, dtype=object), "architecture": ("sae", np.array(arch, dtype=object)),
                "sparsity": ("sae", np.array(sparsity)), "seed": ("sae", np.array(seeds)),
                "latent": np.arange(L), "label": np.array(names, dtype=object), "rank": np.arange(R),
                "text": ("sample", texts[sel["string"]]), "token": ("sample", sel["token"].astype(object)),
                "char": ("sample", sel["char"]), "string": ("sample", sel["string"]),
                "position": ("sample", sel["position"]), "depth": ("sample", sel["depth"]),
                "top_type": ("sample", sel["top_type"]), "violation": ("sample", sel["violation"].astype(bool))},
        attrs=model.provenance(f"sae:{task.name}", layer=int(layer), site=site, task_name=task.name,
                               n_eval_strings=int(n_strings), n_eval_samples=int(len(samples["string"])),
                               eval_seed=int(seed), n_show_strings=int(n_show_strings), max_strings=int(max_strings),
                               dense=DENSE, well_correlated=WELL_CORRELATED, no_effect=NO_EFFECT,
                               metric="accuracy of sign(class logit difference at [end]) against the string's class",
                               detection="max(AUROC, 1 - AUROC) for binary labels, |Pearson r| for depth",
                               causal="mean |output change| when the latent is ablated at every position, over "
                                      "strings where its best label is on",
                               extra_outputs="; ".join(f"{k}: " + " ".join((fn.__doc__ or k).split("\n\n")[0].split())
                                                       for k, fn in task.readouts.items())))
    if units:
        base = unit_baseline(model, task, samples, acts, layer, site, clean, zero, max_strings=max_strings,
                             seed=seed, progress=progress)
        ds = ds.merge(base)
    return ds


def correlational_causal_gap(ds: xr.Dataset, well: float = WELL_CORRELATED, no_effect: float = NO_EFFECT
                             ) -> xr.Dataset:
    """Per SAE: how many latents detect some label at least ``well``, and the share of those whose causal effect is
    below ``no_effect`` of the site's; with ``unit`` in the Dataset, the same for neurons and site dimensions.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"detection": (("sae", "latent", "label"), [[[0.95], [0.99], [0.5]]]),
    ...                  "causal_effect_share": (("sae", "latent"), [[0.01, 0.4, 0.0]])})
    >>> correlational_causal_gap(ds).no_effect_share.values.tolist()
    [0.5]
    """
    best = ds["detection"].max("label")
    good = best >= well
    none = good & (ds["causal_effect_share"] < no_effect)
    out = xr.Dataset({"well_correlated": good.sum("latent"), "no_effect": none.sum("latent")})
    out["no_effect_share"] = out["no_effect"] / out["well_correlated"].where(out["well_correlated"] > 0)
    if "unit_detection" in ds:
        ub = ds["unit_detection"].max("label")
        ug = ub >= well
        un = ug & (ds["unit_causal_effect_share"] < no_effect)
        for kind in np.unique(ds["unit_kind"].values):
            m = ds["unit_kind"] == kind
            n_good = int((ug & m).sum())
            out[f"{kind}_well_correlated"] = n_good
            out[f"{kind}_no_effect_share"] = float((un & m).sum()) / n_good if n_good else np.nan
    return out


__all__ = ["evaluate", "evaluate_sae", "latent_scores", "unit_baseline", "detection_scores", "decoder_tokens",
           "correlational_causal_gap", "neuron_block", "DENSE", "WELL_CORRELATED", "NO_EFFECT"]
