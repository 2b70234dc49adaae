"""A synthetic steering Dataset in the contract of :func:`workbench.data.validate_steering`, with known numbers: 7
coefficients (0 and negatives among them), 3 prompts whose generations differ in length, a random-vector band, a
fluency guard that drops at large |coef|, sparsity, frozen-attention and OV tables; ``layers=3`` adds a leading
``layer`` dim (one vector per layer)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from workbench.data import validate_steering

COEFS = [-8.0, -4.0, 0.0, 2.0, 4.0, 8.0, 16.0]
PROMPTS = ["I think the movie was", "The weather today is", "My neighbour said"]
WORDS = [" awful", " bad", " fine", " nice", " good", " great", " wonderful"]


def _generation(c: int, p: int, layer: int) -> list[str]:
    """Tokens of the generation of prompt ``p`` at coefficient index ``c``: length 3 + (c + p + layer) % 4."""
    n = 3 + (c + p + layer) % 4
    return [WORDS[c], f" p{p}", f" L{layer}"] + [f" w{c}{k}" for k in range(n - 3)]


def make_steering(layers: int | None = None, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    C, P, S, Q = len(COEFS), len(PROMPTS), 8, 6
    L = layers or 1
    coefs = np.array(COEFS)
    tok = np.full((L, C, P, S), "", dtype=object)
    logprob = np.full((L, C, P, S), np.nan, np.float32)
    touched = np.zeros((L, C, P, S), bool)
    text = np.empty((L, C, P), dtype=object)
    for li in range(L):
        for c in range(C):
            for p in range(P):
                g = _generation(c, p, li)
                tok[li, c, p, : len(g)] = g
                logprob[li, c, p, : len(g)] = -rng.uniform(0.1, 4.0, len(g))
                touched[li, c, p, : len(g) - 1] = COEFS[c] != 0  # not at the last token
                text[li, c, p] = "".join(g)
    steer = np.tanh(coefs / 6.0)
    score = np.stack([np.stack([steer * (1 + 0.2 * li), 0.05 * coefs / 16, np.full(C, 0.4)]) for li in range(L)])
    low, high = 0.05 * coefs / 16 - 0.1, 0.05 * coefs / 16 + 0.1
    fluency = -2.0 - 0.02 * coefs ** 2
    ptok = np.full((P, Q), "", dtype=object)
    ptouched = np.zeros((P, Q), bool)
    for p, s in enumerate(PROMPTS):
        words = [w if i == 0 else " " + w for i, w in enumerate(s.split(" "))]
        ptok[p, : len(words)] = words
        ptouched[p, 1: len(words)] = True
    lead = ("layer",) if layers else ()
    sq = (lambda a: a) if layers else (lambda a: a[0])
    data = {
        "text": (lead + ("coef", "prompt"), sq(text).astype(str)),
        "token": (lead + ("coef", "prompt", "step"), sq(tok).astype(str)),
        "logprob": (lead + ("coef", "prompt", "step"), sq(logprob)),
        "touched": (lead + ("coef", "prompt", "step"), sq(touched)),
        "score": (lead + ("baseline", "coef"), sq(score).astype(np.float32)),
        "effect": (lead + ("baseline", "coef"), sq(score * 2.5).astype(np.float32)),
        "random_low": (("coef",), low.astype(np.float32)),
        "random_high": (("coef",), high.astype(np.float32)),
        "fluency": (("coef",), fluency.astype(np.float32)),
        "sentiment": (("coef",), np.tanh(coefs / 8.0).astype(np.float32)),
        "prompt_token": (("prompt", "position"), ptok.astype(str)),
        "prompt_touched": (("prompt", "position"), ptouched),
        "frozen_effect": (("coef",), (0.7 * steer).astype(np.float32)),
        "sparsity_effect": (("ranking", "sparsity"), np.stack([1 - np.linspace(0, 0.99, 5) ** 2,
                                                                1 - np.linspace(0, 0.99, 5) ** 4]).astype(np.float32)),
        "ov_token": (("ov", "rank"), np.array([[" good", " great", " nice"], [" happy", " love", " fun"]])),
        "ov_weight": (("ov", "rank"), np.array([[3.0, 2.5, 2.0], [1.5, 1.2, 0.9]])),
    }
    coords = {"coef": coefs, "baseline": ["steer", "random", "prompt"], "prompt_text": ("prompt", PROMPTS),
              "ranking": ["magnitude", "attribution"], "sparsity": np.linspace(0, 0.99, 5),
              "ov_layer": ("ov", [3, 5]), "ov_head": ("ov", [1, 7])}
    if layers:
        coords["layer"] = np.arange(2, 2 + layers)
    else:
        coords["layer"] = np.arange(5)
    data["layer_effect"] = (("layer",), np.linspace(0.1, 1.2, len(coords["layer"])).astype(np.float32) ** 0.5)
    ds = xr.Dataset(data, coords=coords, attrs={"model": "synthetic", "behaviour": "sentiment", "layer": 6,
                                                "where": "all", "vector_norm": 4.5, "frozen_share": 0.7})
    return validate_steering(ds)
