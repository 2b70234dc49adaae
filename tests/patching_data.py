"""A synthetic activation-patching Dataset in the contract of :func:`workbench.data.validate_patching`, with a known
pattern (for the PatchMap widget, chart and browser tests), and the matching attribution-patching Dataset.

IOI-like prompts ``" When" IO " and" S " went" "," S " gave"``: the corrupted prompt swaps the names at positions 1
and 6 (pair 1: only at 6); pair 2 is one token shorter (position 7 is NaN with an empty token). Per pair p, with
``scale = SCALES[p]``, the resid map restores the answer at the IO name in early layers (+0.9 scale at layers 0-1,
position 1) and at the last position late (+1.0 scale, layers 3-4, position 7), and hurts it at the second S
(-0.6 scale, layers 1-2, position 6); attn is +0.7 scale at (layer 2, position 7) and -0.4 scale at (layer 1,
position 3); mlp +0.3 scale at (layer 0, position 1). attn and mlp have one layer fewer than resid (their last
layer row is NaN). Heads: +0.8 scale at (layer 2, head 1), -0.5 scale at (layer 3, head 2). Elsewhere small noise.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from workbench.data import validate_patching

SCALES = (1.0, 0.8, 1.2)
NAMES = (" Mary", " John", " Anna", " Paul", " Lena", " Omar")
VOCAB = (" Mary", " John", " Anna", " Paul", " Lena", " Omar", " the", " a", " drink", " book", ",", " to",
         " and", " store", " gave", " went")
VOCAB_IDS = tuple(100 + 7 * i for i in range(len(VOCAB)))
SITES = ("resid", "attn", "mlp")


def _tokens(n_pairs: int, n_positions: int) -> tuple[np.ndarray, np.ndarray]:
    clean = np.full((n_pairs, n_positions), "", object)
    corrupted = np.full((n_pairs, n_positions), "", object)
    for p in range(n_pairs):
        io, s = NAMES[(2 * p) % len(NAMES)], NAMES[(2 * p + 1) % len(NAMES)]
        c_io, c_s = NAMES[(2 * p + 2) % len(NAMES)], NAMES[(2 * p + 3) % len(NAMES)]
        row = [" When", io, " and", s, " went", ",", s, " gave"]
        bad = [" When", io if p == 1 else c_io, " and", s, " went", ",", c_s, " gave"]
        n = n_positions - 1 if p == 2 else n_positions
        clean[p, :n] = (row * 2)[:n]
        corrupted[p, :n] = (bad * 2)[:n]
    return clean, corrupted


def _pattern(n_pairs: int, n_layers: int, n_positions: int, rng: np.random.Generator) -> np.ndarray:
    e = rng.uniform(-0.02, 0.02, (n_pairs, 3, n_layers + 1, n_positions))
    last = n_positions - 1
    for p in range(n_pairs):
        s = SCALES[p % len(SCALES)]
        e[p, 0, 0:2, 1] = 0.9 * s
        e[p, 0, 3:5, last] = 1.0 * s
        e[p, 0, 1:3, 6] = -0.6 * s
        e[p, 1, 2, last] = 0.7 * s
        e[p, 1, 1, 3] = -0.4 * s
        e[p, 2, 0, 1] = 0.3 * s
    e[:, 1:, n_layers, :] = np.nan  # attn and mlp have L layers; resid has L + 1 (0 = embeddings)
    return e


def _top_k(shape: tuple[int, ...], k: int, nan: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (distinct within a cell) and signed changes ranked by size; -1 / NaN where the cell is NaN."""
    ids = np.empty((*shape, k), np.int32)
    change = np.empty((*shape, k), np.float32)
    for idx in np.ndindex(*shape):
        ids[idx] = rng.choice(VOCAB_IDS, size=k, replace=False)
        v = rng.normal(0, 2, k)
        change[idx] = v[np.argsort(-np.abs(v))]
    ids[nan] = -1
    change[nan] = np.nan
    return ids, change


def make_patching(n_pairs: int = 3, n_layers: int = 4, n_positions: int = 8, n_heads: int = 4, k: int = 5,
                  seed: int = 0) -> xr.Dataset:
    """The exact (activation patching) Dataset: effect/metric (pair, site, layer, position), heads, top-k, metrics."""
    rng = np.random.default_rng(seed)
    clean_tok, bad_tok = _tokens(n_pairs, n_positions)
    effect = _pattern(n_pairs, n_layers, n_positions, rng)
    effect[np.broadcast_to((clean_tok == "")[:, None, None, :], effect.shape)] = np.nan  # past a pair's end
    clean_m = np.array([3.0 + 0.1 * p for p in range(n_pairs)])
    bad_m = np.array([-2.0 - 0.1 * p for p in range(n_pairs)])
    metric = bad_m[:, None, None, None] + effect * (clean_m - bad_m)[:, None, None, None]
    heads = rng.uniform(-0.02, 0.02, (n_pairs, n_layers + 1, n_heads))
    for p in range(n_pairs):
        s = SCALES[p % len(SCALES)]
        heads[p, 2, 1] = 0.8 * s
        heads[p, 3, 2] = -0.5 * s
    heads[:, n_layers, :] = np.nan
    head_metric = bad_m[:, None, None] + heads * (clean_m - bad_m)[:, None, None]
    top_id, top_change = _top_k(effect.shape, k, np.isnan(effect), rng)
    head_id, head_change = _top_k(heads.shape, k, np.isnan(heads), rng)
    grid = ("pair", "site", "layer", "position")
    hgrid = ("pair", "layer", "head")
    ds = xr.Dataset(
        {"effect": (grid, effect.astype(np.float32)), "metric": (grid, metric.astype(np.float32)),
         "clean_metric": ("pair", clean_m), "corrupted_metric": ("pair", bad_m),
         "head_effect": (hgrid, heads.astype(np.float32)), "head_metric": (hgrid, head_metric.astype(np.float32)),
         "top_token_id": ((*grid, "rank"), top_id), "top_change": ((*grid, "rank"), top_change),
         "head_top_token_id": ((*hgrid, "rank"), head_id), "head_top_change": ((*hgrid, "rank"), head_change)},
        coords={"pair": np.arange(n_pairs), "site": list(SITES), "layer": np.arange(n_layers + 1),
                "position": np.arange(n_positions), "head": np.arange(n_heads), "rank": np.arange(k),
                "token": (("pair", "position"), clean_tok), "corrupted_token": (("pair", "position"), bad_tok),
                "clean": ("pair", ["".join(r) for r in clean_tok]), "corrupted": ("pair", ["".join(r) for r in bad_tok]),
                "answer": ("pair", list(clean_tok[:, 1])), "wrong": ("pair", list(clean_tok[:, 3])),
                "vocab_id": ("vocab", np.array(VOCAB_IDS)), "vocab_token": ("vocab", np.array(VOCAB, object))},
        attrs={"metric": "logit_diff(IO, S)", "method": "exact", "direction": "denoise", "model": "synthetic-ioi",
               "task": "patching", "seed": seed},
    )
    return validate_patching(ds)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def make_attribution(exact: xr.Dataset, seed: int = 1) -> xr.Dataset:
    """Attribution patching of the same cells: 0.9 x the exact effect plus noise (NaN where exact is NaN), no top-k,
    Pearson r per site and for the heads against the exact maps."""
    rng = np.random.default_rng(seed)
    eff = exact.effect.values * 0.9 + rng.normal(0, 0.05, exact.effect.shape)
    heads = exact.head_effect.values * 0.85 + rng.normal(0, 0.05, exact.head_effect.shape)
    clean_m, bad_m = exact.clean_metric.values, exact.corrupted_metric.values
    metric = bad_m[:, None, None, None] + eff * (clean_m - bad_m)[:, None, None, None]
    head_metric = bad_m[:, None, None] + heads * (clean_m - bad_m)[:, None, None]
    r = [pearson(eff[:, s], exact.effect.values[:, s]) for s in range(exact.sizes["site"])]
    ds = xr.Dataset(
        {"effect": (exact.effect.dims, eff.astype(np.float32)), "metric": (exact.effect.dims, metric.astype(np.float32)),
         "clean_metric": exact.clean_metric, "corrupted_metric": exact.corrupted_metric,
         "head_effect": (exact.head_effect.dims, heads.astype(np.float32)),
         "head_metric": (exact.head_effect.dims, head_metric.astype(np.float32)),
         "pearson_r": ("site", np.array(r, np.float32)),
         "head_pearson_r": ((), np.float32(pearson(heads, exact.head_effect.values)))},
        coords={c: exact.coords[c] for c in ("pair", "site", "layer", "position", "head", "token", "corrupted_token")},
        attrs={**exact.attrs, "method": "attribution"},
    )
    return validate_patching(ds)


def make_spans(n_pairs: int = 2, n_layers: int = 3, seed: int = 2) -> xr.Dataset:
    """Span patching: effect/metric on (pair, site, layer, span) with span labels, heads on (pair, layer, head, span)."""
    rng = np.random.default_rng(seed)
    labels = ["IO", "S1", "S2", "END"]
    eff = rng.uniform(-0.05, 0.05, (n_pairs, 3, n_layers + 1, len(labels)))
    eff[:, 0, :2, 0] = 0.8
    eff[:, 0, 1:, 2] = -0.5
    eff[:, 1:, n_layers, :] = np.nan
    heads = rng.uniform(-0.05, 0.05, (n_pairs, n_layers + 1, 2, len(labels)))
    heads[:, 1, 0, 3] = 0.9
    heads[:, 2, 1, 0] = -0.7
    grid = ("pair", "site", "layer", "span")
    ds = xr.Dataset(
        {"effect": (grid, eff.astype(np.float32)), "metric": (grid, (2 * eff).astype(np.float32)),
         "head_effect": (("pair", "layer", "head", "span"), heads.astype(np.float32)),
         "head_metric": (("pair", "layer", "head", "span"), (2 * heads).astype(np.float32))},
        coords={"site": list(SITES), "layer": np.arange(n_layers + 1), "span_label": ("span", labels),
                "span_positions": ("span", ["[1]", "[3]", "[6]", "[7]"])},
        attrs={"metric": "logit_diff", "method": "exact", "direction": "noise", "model": "synthetic-spans"},
    )
    return validate_patching(ds)
