"""In-context graph tracing: do a model's representations of words reorganise to mirror a graph it reads as a walk?

Park, Lee, Lubana, Yang, Okawa, Nishi, Wattenberg & Tanaka (2025), "ICLR: In-Context Learning of Representations",
arXiv 2501.00070. A model reads a uniform random walk over a graph whose nodes are ordinary words (no instruction).
At each context length T we average the residual stream at the occurrences of each word over the last ``window``
positions before T (a node absent from the window is masked, never zero-filled) and ask how well these node means
mirror the graph: PCA, the Dirichlet energy and its scale-free ratio, and the Procrustes R^2 of the top-2 principal
components against the Laplacian eigenvectors 2-3 (:mod:`workbench.analyses.incontext.metrics`). Accuracy at position t
is the next-token probability the model puts on the valid neighbours of the current word.

**One traced pass per walk serves every context length.** Attention is causal, so a prefix's states do not depend on
later tokens. Inside the trace we multiply each chosen layer's states by a (context x node, position) matrix of window
weights, which gives every node mean at every T at once, and we keep each position's probabilities over the graph's
words (the softmax over the whole vocabulary is taken chunk by chunk, then reduced to those words). Only these reduced
values leave the model, never hidden states at every position or full logits, so the same code runs with
``remote=True`` on NDIF. ``benchmarks/incontext.py`` compares this with one forward pass per context length.

**Controls**, in the same Dataset form (a grid in a PCA plot is not evidence on its own; Arditi's ICLR 2026 blog post
shows one round of neighbour mixing of random embeddings already draws a grid):

* a permutation null of the energy ratio (many random relabellings of the same node means): we report where the real
  ratio falls in it (``energy_percentile``) and its quantiles (``energy_null``); its mean is 1 by construction;
* :func:`mixing_toy`: random Gaussian word embeddings, each position mixed with the previous token's;
* the same architecture with random weights (:func:`workbench.backend.random_weights`), run through :func:`study`.

:func:`with_controls` puts the controls' curves beside a study's. Choices the paper leaves open are ours and are
recorded in the Dataset's attrs: node means are averaged over walks (each walk's window mean, then the mean over the
walks where the node occurs) and the metrics are taken on that average; the per-walk metrics are kept as
``*_walk`` variables for their spread. Layer l is the residual stream after block l (0 = embeddings).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from workbench.analyses.incontext import metrics as gm
from workbench.data import SMOOTH, trailing_mean
from workbench.zoo.tasks.graphs import Graph, bos_id, word_token_ids

#: Positions in the window before T over which a node's occurrences are averaged (replications of the final paper).
DEFAULT_WINDOW = 50
#: Principal components kept per (layer, context): enough for PC1-2, PC3-4 (the days of the week) and PC5-6.
N_COMPONENTS = 6
#: Quantiles of the permutation null that are kept.
QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)
#: Component pairs whose Procrustes fit to the Laplacian eigenvectors 2-3 is computed (0-based).
PAIRS = ((0, 1), (2, 3))
#: At most this many logits (positions x vocabulary) are alive at once when the word probabilities are computed.
LOGITS_BUDGET = 1 << 24
LAYER_CONVENTION = "layer 0 = embeddings; layer l = output of block l-1"


class InContextError(ValueError):
    """Bad input to the in-context analysis; the message names the argument, what was expected and what came."""


# ----------------------------------------------------------------------------------------------------- the grid of T
def default_contexts(length: int, n: int = 60, start: int = 16) -> np.ndarray:
    """Log-spaced context lengths from ``start`` up to ``length`` (included), as distinct integers: 60 by default,
    about 8% apart, so the widget's animation moves smoothly and the curves resolve a sudden change.

    >>> default_contexts(1400)[[0, -1]].tolist()
    [16, 1400]
    """
    start = min(start, length)
    return np.unique(np.round(np.geomspace(start, length, n)).astype(np.int64))


def _check_int(value: Any, name: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise InContextError(f"{name} must be an integer >= {lo}, got {value!r}.")
    return int(value)


def _check_contexts(contexts: Sequence[int] | None, length: int, window: int) -> np.ndarray:
    window = _check_int(window, "window")
    if window > length:
        raise InContextError(f"window={window} is longer than the context: the walks are {length} tokens long; "
                             f"choose window <= {length}.")
    if contexts is None:
        return default_contexts(length)
    t = np.asarray(contexts)
    if t.ndim != 1 or t.size == 0 or t.dtype.kind not in "iu":
        raise InContextError(f"contexts must be a non-empty list of integers, got {contexts!r}.")
    if (t < 1).any() or (t > length).any():
        raise InContextError(f"contexts must lie in 1..{length} (the walk length), got {t[(t < 1) | (t > length)].tolist()}.")
    if (np.diff(t) <= 0).any():
        raise InContextError(f"contexts must be strictly increasing, got {t.tolist()}.")
    return t.astype(np.int64)


def window_weights(walk: np.ndarray, n_nodes: int, contexts: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (context, node, position) whose product with per-position states gives each node's mean over its
    occurrences in positions [T - window, T), and the occurrence counts (context, node). Rows of absent nodes are 0;
    callers mask them with the counts.

    >>> w, c = window_weights(np.array([0, 1, 0, 1]), 2, np.array([3, 4]), window=2)
    >>> c.tolist(), w[1, 1].tolist()
    ([[1, 1], [1, 1]], [0.0, 0.0, 0.0, 1.0])
    """
    walk = np.asarray(walk)
    pos = np.arange(len(walk))
    inside = (pos[None, :] < contexts[:, None]) & (pos[None, :] >= contexts[:, None] - window)  # (C, P)
    onehot = walk[None, :] == np.arange(n_nodes)[:, None]  # (n, P)
    hits = inside[:, None, :] & onehot[None, :, :]  # (C, n, P)
    counts = hits.sum(-1)
    weights = hits / np.maximum(counts, 1)[..., None]
    return weights.astype(np.float32), counts.astype(np.int64)


# ------------------------------------------------------------------------------------------------- one traced pass
def _resolve_layers(model: Any, layers: Sequence[int] | None) -> list[int]:
    n = model.n_layers
    if layers is None:
        return list(range(n + 1))
    out = []
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -(n + 1) <= layer <= n:
            raise InContextError(f"layers must be residual layers in 0..{n} (or negative from the end), got {layer!r}.")
        out.append(int(layer) % (n + 1))
    if len(set(out)) != len(out):
        raise InContextError(f"layers must be distinct, got {list(layers)}.")
    return sorted(out)


def trace_walk(model: Any, graph: Graph, walk: Sequence[int], layers: Sequence[int] | None = None,
               contexts: Sequence[int] | None = None, window: int = DEFAULT_WINDOW,
               probs_from: int = 0) -> dict[str, np.ndarray]:
    """One traced forward pass over a walk; returns every node mean at every context length, and the probabilities.

    Returns ``node_mean`` (layer, context, node, hidden; NaN for a node absent from the window), ``counts``
    (context, node), ``word_prob`` (position, node): p(word | the walk up to and including position t), and ``layers``,
    ``contexts``. Runs locally or on NDIF (``load_model(..., remote=True)``) with the same code. Positions before
    ``probs_from`` skip the unembedding and get NaN probabilities (for callers that already have them).

    >>> from workbench import load_model                                      # doctest: +SKIP
    >>> from workbench.zoo.tasks import graphs
    >>> g = graphs.grid()
    >>> out = trace_walk(load_model("gemma3-270m"), g, g.walk(200, seed=0), layers=[16], contexts=[100, 200])  # doctest: +SKIP
    >>> out["node_mean"].shape                                                # doctest: +SKIP
    (1, 2, 16, 640)
    """
    import nnsight
    import torch

    from workbench.analyses.core import _no_cache
    from workbench.backend.model import Batch

    walk = np.asarray([graph.index(int(i)) for i in walk], dtype=np.int64)
    chosen = _resolve_layers(model, layers)
    t = _check_contexts(contexts, len(walk), window)
    word_ids = word_token_ids(graph, model.tokenizer)
    bos = bos_id(model.tokenizer)
    ids = word_ids[walk] if bos is None else np.concatenate([[bos], word_ids[walk]])
    limit = model.context_length
    if limit is not None and len(ids) > limit:
        raise InContextError(f"the walk is {len(ids)} tokens long (with BOS), longer than {model.name!r}'s context of "
                             f"{limit} tokens; use a shorter walk.")
    first = len(ids) - len(walk)
    weights, counts = window_weights(walk, graph.n, t, window)
    w = torch.from_numpy(weights.reshape(len(t) * graph.n, len(walk)))
    input_ids = torch.from_numpy(ids)[None]
    batch = Batch(inputs={"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                          "position_ids": torch.arange(len(ids))[None]},
                  token_ids=[ids], offsets=np.array([0]), single=True, texts=[graph.text(walk)])
    vocab = int(model.config.vocab_size)
    chunk = max(1, LOGITS_BUDGET // vocab)
    cap = model.logit_softcap
    words = torch.from_numpy(word_ids)
    # modules bound before the trace, so the body never references `model` (it would ship with remote requests)
    blocks = list(model.blocks)
    norm = model.final_norm
    unembed = model.unembed
    with torch.no_grad(), model.trace(batch, **_no_cache(model)) as tracer:
        means = nnsight.save([])
        probs = nnsight.save([])
        for layer in chosen:
            h = blocks[0].input if layer == 0 else blocks[layer - 1].output
            means.append(w @ h[0, first:].float())
        last = blocks[-1].output
        for start in range(first + probs_from, len(ids), chunk):
            logits = unembed(norm(last[:, start: start + chunk]) if norm is not None else last[:, start: start + chunk])
            logits = logits.float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            probs.append(torch.log_softmax(logits, dim=-1)[0][:, words].exp())
        tracer.stop()
    node_mean = np.stack([m.detach().cpu().numpy() for m in means]).reshape(len(chosen), len(t), graph.n, -1)
    node_mean[:, counts == 0] = np.nan
    word_prob = np.full((len(walk), graph.n), np.nan, np.float32)
    if len(probs):
        word_prob[probs_from:] = np.concatenate([p.detach().cpu().numpy() for p in probs])
    return {"node_mean": node_mean.astype(np.float32), "counts": counts, "word_prob": word_prob,
            "layers": np.asarray(chosen), "contexts": t}


# ------------------------------------------------------------------------------------------------------ the study
def walks_for(graph: Graph, n_walks: int, length: int, seed: int) -> np.ndarray:
    """The ``n_walks`` seeded walks of a study: walk i uses seed (seed, i), so any one regenerates alone.

    >>> from workbench.zoo.tasks import graphs
    >>> walks_for(graphs.grid(), 2, 5, seed=0).shape
    (2, 5)
    """
    n_walks = _check_int(n_walks, "n_walks")
    length = _check_int(length, "length", lo=2)
    return np.stack([graph.walk(length, seed=[seed, i]) for i in range(n_walks)])


def study(model: Any, graph: Graph, n_walks: int = 8, length: int = 1400, *, seed: int = 0,
          window: int = DEFAULT_WINDOW, contexts: Sequence[int] | None = None, layers: Sequence[int] | None = None,
          n_perm: int = 1000, progress: bool = True) -> xr.Dataset:
    """Run a model on ``n_walks`` seeded walks over ``graph`` (one traced pass each) and measure the reorganisation.

    Returns a Dataset over (layer, context, node, ...) with ``node_mean``, ``pca``, ``energy``, ``energy_ratio``,
    ``energy_null``/``energy_percentile`` (the permutation null), ``procrustes_r2``, ``laplacian_fit`` (the fitted
    Laplacian layout, for ghost points), ``accuracy`` (walk, position) with its mean, sd and moving average,
    ``word_mass`` (the probability on all the graph's words), per-walk ``energy_ratio_walk``/``procrustes_r2_walk``,
    and the graph (``adjacency``, ``layout``, coord ``word``). Interrupting it (Ctrl-C) loses only this call's work.

    >>> import workbench as wb                                                        # doctest: +SKIP
    >>> from workbench.zoo.tasks import graphs
    >>> ds = study(wb.load_model("gemma3-270m"), graphs.grid(), n_walks=8)           # doctest: +SKIP
    >>> float(ds.accuracy_mean[-400:].mean()) > 0.6                                  # doctest: +SKIP
    True
    """
    walks = walks_for(graph, n_walks, length, seed)
    t = _check_contexts(contexts, length, window)
    word_token_ids(graph, model.tokenizer)  # fail on a word that is not one token before any work
    limit = model.context_length
    if limit is not None and length + (bos_id(model.tokenizer) is not None) > limit:
        raise InContextError(f"length={length} is longer than {model.name!r}'s context of {limit} tokens.")
    per_walk = []
    for walk in tqdm(walks, desc=f"walks over {graph.name}", disable=not progress, leave=False):
        per_walk.append(trace_walk(model, graph, walk, layers, t, window))
    attrs = model.provenance("incontext", seed=seed)
    return summarize(per_walk, graph, walks, window, n_perm=n_perm, attrs=attrs)


def mixing_toy(graph: Graph, n_walks: int = 8, length: int = 1400, *, seed: int = 0, hidden: int = 256,
               mix: float = 1.0, window: int = DEFAULT_WINDOW, contexts: Sequence[int] | None = None,
               n_perm: int = 1000) -> xr.Dataset:
    """The previous-token-mixing control: each word gets a random N(0, I) embedding e_w, and the "representation" at
    position t is e_{x_t} + mix * e_{x_{t-1}}. It has no weights and no predictions (``accuracy`` is NaN), yet its node
    means already mirror the graph, since a node's predecessors are its neighbours. Same Dataset form as
    :func:`study`, with one layer (0).

    >>> from workbench.zoo.tasks import graphs
    >>> toy = mixing_toy(graphs.grid(), n_walks=2, length=400, contexts=[200, 400], n_perm=100)
    >>> float(toy.procrustes_r2.sel(layer=0, context=400)) > 0.8
    True
    """
    walks = walks_for(graph, n_walks, length, seed)
    t = _check_contexts(contexts, length, window)
    rng = np.random.default_rng([seed, 1_000_003])
    embed = rng.standard_normal((graph.n, _check_int(hidden, "hidden")))
    per_walk = []
    for walk in walks:
        states = embed[walk].copy()
        states[1:] += mix * embed[walk[:-1]]
        weights, counts = window_weights(walk, graph.n, t, window)
        means = np.einsum("cnp,pd->cnd", weights, states)[None].astype(np.float32)
        means[:, counts == 0] = np.nan
        per_walk.append({"node_mean": means, "counts": counts,
                         "word_prob": np.full((length, graph.n), np.nan, np.float32),
                         "layers": np.array([0]), "contexts": t})
    attrs = {"model": f"previous-token mixing toy (random N(0, I) embeddings, dim {hidden}, mix {mix:g})",
             "task": "incontext", "seed": seed}
    from workbench.data import provenance

    return summarize(per_walk, graph, walks, window, n_perm=n_perm, attrs=provenance(**attrs))


# --------------------------------------------------------------------------------------------- from passes to data
def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nodes absent from every walk stay NaN
        return np.nanmean(a, axis=axis)


def _geometry(x: np.ndarray, graph: Graph, z: np.ndarray, n_perm: int, seed: int) -> dict[str, Any]:
    """All metrics of one set of node means (n, hidden)."""
    coords, share = gm.pca(x, N_COMPONENTS)
    null = gm.permutation_null(x, graph.adjacency, n_perm=n_perm, seed=seed)
    ratio = gm.energy_ratio(x, graph.adjacency)
    out = {"pca": coords, "share": share, "energy": gm.dirichlet_energy(x, graph.adjacency), "ratio": ratio,
           "ratio_pc": gm.energy_ratio(coords[:, :2], graph.adjacency),
           "null": np.nanquantile(null, QUANTILES) if np.isfinite(null).any() else np.full(len(QUANTILES), np.nan),
           "percentile": gm.percentile_in(ratio, null),
           "r2": np.array([gm.procrustes(coords[:, list(p)], z)[0] for p in PAIRS])}
    if graph.prior is not None:
        zp = graph.spectral(prior=True)[1][:, 1:3]
        out["prior_r2"] = np.array([gm.procrustes(coords[:, list(p)], zp)[0] for p in PAIRS])
    return out


def per_walk_metrics(node_mean: np.ndarray, graph: Graph) -> np.ndarray:
    """Energy ratio and Procrustes R^2 (PC1-2 against Laplacian eigenvectors 2-3) of one walk's node means
    (layer, context, node, hidden): an array (2, layer, context).

    >>> from workbench.zoo.tasks import graphs
    >>> g = graphs.grid(); x = np.random.default_rng(0).normal(size=(1, 1, 16, 8))
    >>> per_walk_metrics(x, g).shape
    (2, 1, 1)
    """
    z = graph.spectral()[1][:, 1:3]
    n_l, n_c = node_mean.shape[:2]
    out = np.full((2, n_l, n_c), np.nan)
    for li in range(n_l):
        for ci in range(n_c):
            x = node_mean[li, ci]
            out[0, li, ci] = gm.energy_ratio(x, graph.adjacency)
            out[1, li, ci] = gm.procrustes(gm.pca(x, 2)[0], z)[0]
    return out


def summarize(per_walk: list[dict[str, np.ndarray]], graph: Graph, walks: np.ndarray, window: int, *,
              n_perm: int = 1000, attrs: dict[str, Any] | None = None) -> xr.Dataset:
    """Turn per-walk passes (:func:`trace_walk` outputs, or the toy's) into the study Dataset."""
    n_perm = _check_int(n_perm, "n_perm")
    layers, t = per_walk[0]["layers"], per_walk[0]["contexts"]
    means = np.stack([p["node_mean"] for p in per_walk])  # (walk, layer, context, node, hidden)
    n_w, n_l, n_c, n, _ = means.shape
    node_mean = _nanmean(means, axis=0).astype(np.float32)
    z = graph.spectral()[1][:, 1:3]

    geo = [[_geometry(node_mean[li, ci], graph, z, n_perm, seed=ci) for ci in range(n_c)] for li in range(n_l)]
    get = lambda key: np.array([[g[key] for g in row] for row in geo])  # noqa: E731
    pca = get("pca")
    pca = np.stack([gm.align_signs(pca[li]) for li in range(n_l)])
    # the fitted layouts follow the aligned signs: refit on the aligned coordinates (same R^2)
    fits = np.stack([[np.stack([gm.procrustes(pca[li, ci][:, list(p)], z)[1] for p in PAIRS]) for ci in range(n_c)]
                     for li in range(n_l)])  # (layer, context, pair, node, 2)
    ratio_w, r2_w = np.stack([per_walk_metrics(m, graph) for m in means], axis=1)  # (2, walk, layer, context)

    prob = np.stack([p["word_prob"] for p in per_walk]).astype(np.float64)  # (walk, position, node)
    accuracy = (prob * graph.adjacency[walks]).sum(-1)  # mass on the neighbours of the current word
    acc_mean = accuracy.mean(0)
    counts = np.stack([p["counts"] for p in per_walk])

    pair_names = [f"PC{a + 1}-{b + 1}" for a, b in PAIRS]
    data = {
        "node_mean": (("layer", "context", "node", "hidden"), node_mean),
        "pca": (("layer", "context", "node", "component"), pca.astype(np.float32)),
        "explained_variance": (("layer", "context", "component"), get("share").astype(np.float32)),
        "energy": (("layer", "context"), get("energy")),
        "energy_ratio": (("layer", "context"), get("ratio").astype(np.float32)),
        "energy_ratio_pc": (("layer", "context"), get("ratio_pc").astype(np.float32)),
        "energy_null": (("quantile", "layer", "context"), np.moveaxis(get("null"), -1, 0).astype(np.float32)),
        "energy_percentile": (("layer", "context"), get("percentile").astype(np.float32)),
        "procrustes_r2": (("layer", "context"), get("r2")[..., 0].astype(np.float32)),
        "procrustes_r2_pair": (("pair", "layer", "context"), np.moveaxis(get("r2"), -1, 0).astype(np.float32)),
        "laplacian_fit": (("pair", "layer", "context", "node", "axis"), np.moveaxis(fits, 2, 0).astype(np.float32)),
        "energy_ratio_walk": (("walk", "layer", "context"), ratio_w.astype(np.float32)),
        "procrustes_r2_walk": (("walk", "layer", "context"), r2_w.astype(np.float32)),
        "accuracy": (("walk", "position"), accuracy.astype(np.float32)),
        "accuracy_mean": (("position",), acc_mean.astype(np.float32)),
        "accuracy_sd": (("position",), (accuracy.std(0, ddof=1) if n_w > 1 else np.zeros_like(acc_mean)).astype(np.float32)),
        "accuracy_smooth": (("position",), trailing_mean(acc_mean).astype(np.float32)),
        "word_mass": (("walk", "position"), prob.sum(-1).astype(np.float32)),
        "occurrences": (("walk", "context", "node"), counts.astype(np.int16)),
        "walk_node": (("walk", "position"), walks.astype(np.int16)),
        "adjacency": (("node", "neighbour"), graph.adjacency),
        "layout": (("node", "axis"), graph.layout),
        "laplacian_eigvec": (("node", "eigen"), graph.spectral()[1]),
        "laplacian_eigval": (("eigen",), graph.spectral()[0]),
    }
    if graph.prior is not None:
        data["prior_r2_pair"] = (("pair", "layer", "context"), np.moveaxis(get("prior_r2"), -1, 0))
        data["prior_adjacency"] = (("node", "neighbour"), graph.prior)
    coords: dict[str, Any] = {
        "layer": layers, "context": t, "node": np.arange(n), "neighbour": np.arange(n), "eigen": np.arange(n),
        "word": ("node", np.array(graph.words, dtype=object)),
        "component": np.arange(N_COMPONENTS), "quantile": np.array(QUANTILES), "pair": np.array(pair_names, dtype=object),
        "axis": np.array(["x", "y"], dtype=object), "walk": np.arange(n_w), "position": np.arange(walks.shape[1]),
        "window_start": ("context", np.maximum(t - window, 0)),
    }
    for name, values in graph.groups.items():
        coords[name] = ("node", np.asarray(values))
    meta = dict(attrs or {})
    meta.update(graph=graph.name, window=int(window), n_walks=int(n_w), walk_length=int(walks.shape[1]),
                n_perm=int(n_perm), smooth=SMOOTH, layer_convention=LAYER_CONVENTION, groups=list(graph.groups),
                node_mean="each walk's mean over the word's occurrences in [T - window, T), averaged over the walks "
                          "where the word occurs; NaN when it occurs in none",
                metrics="energy, energy_ratio, pca and procrustes_r2 are computed on node_mean; *_walk on each walk",
                energy="sum over ordered pairs i, j of A_ij ||x_i - x_j||^2",
                energy_ratio="energy / ((sum A / (n (n - 1))) * sum_{i != j} ||x_i - x_j||^2); 1 = no structure",
                procrustes="R^2 of the best similarity fit between PC pair and Laplacian eigenvectors 2-3",
                accuracy="probability on the valid neighbours of the word at position t, for the next word")
    return xr.Dataset(data, coords=coords, attrs=meta)


# ------------------------------------------------------------------------------------------------------ controls
def with_controls(ds: xr.Dataset, **controls: xr.Dataset) -> xr.Dataset:
    """The study ``ds`` with each control's curves beside its own, on a new ``control`` dim:
    ``control_energy_ratio``, ``control_procrustes_r2``, ``control_energy_percentile`` (control, layer, context) and
    ``control_accuracy_smooth`` (control, position). A control with one layer (the mixing toy) is drawn at every layer;
    a control with the same layers (random weights) is matched layer by layer.

    >>> from workbench.zoo.tasks import graphs
    >>> g = graphs.grid(); toy = mixing_toy(g, n_walks=1, length=100, contexts=[50, 100], n_perm=10)
    >>> list(with_controls(toy, toy=toy).control.values)
    ['toy']
    """
    if not controls:
        raise InContextError("with_controls needs at least one control, e.g. with_controls(ds, toy=mixing_toy(...)).")
    rows: dict[str, list[xr.DataArray]] = {k: [] for k in ("energy_ratio", "procrustes_r2", "energy_percentile")}
    acc = []
    for name, c in controls.items():
        if not isinstance(c, xr.Dataset) or "energy_ratio" not in c:
            raise InContextError(f"control {name!r} must be a study Dataset (from study() or mixing_toy()), "
                                 f"got {type(c).__name__}.")
        if not np.array_equal(c.context.values, ds.context.values):
            raise InContextError(f"control {name!r} has context lengths {c.context.values.tolist()}, but the study has "
                                 f"{ds.context.values.tolist()}; run it with the same contexts=.")
        for var in rows:
            v = c[var]
            v = v.isel(layer=0, drop=True).expand_dims(layer=ds.layer.values) if c.sizes["layer"] == 1 \
                else v.reindex(layer=ds.layer.values)
            rows[var].append(v.drop_vars([k for k in v.coords if k not in ("layer", "context")]))
        a = c["accuracy_smooth"].reindex(position=ds.position.values)
        acc.append(a.drop_vars([k for k in a.coords if k != "position"]))
    out = ds.drop_vars([v for v in ds.data_vars if str(v).startswith("control_")] + (["control"] if "control" in ds.coords else []))
    names = xr.DataArray(list(controls), dims="control")
    for var, parts in rows.items():
        out[f"control_{var}"] = xr.concat(parts, dim=names)
    out["control_accuracy_smooth"] = xr.concat(acc, dim=names)
    out = out.assign_coords(control=np.array(list(controls), dtype=object),
                            control_model=("control", np.array([str(c.attrs.get("model", "")) for c in controls.values()],
                                                               dtype=object)))
    return out
