"""A small synthetic SAE evaluation Dataset that follows the issue-28 contract (dims sae, sample, latent, label, unit;
coords architecture/sparsity/seed on sae and text/token/char/string/position plus the labels on sample), with numbers
a test can recompute by hand:

* six Dyck-2 strings, tokenised as ``[start]`` + one token per character, their samples stored in a shuffled order
  (a widget must not assume a string's tokens are contiguous);
* four SAEs: ``relu`` and ``topk`` at one sparsity, seeds 0 and 1; seed 1 of each is seed 0's latents permuted
  (``match_latent`` is that permutation, ``match_sae`` points at the other seed);
* six latents per SAE: 0 fires on the bracket depth (activation = depth), 1 on opening round brackets (1.5), 2 is
  dead, 3 fires on the ``[start]`` token (0.75), 4 on closing brackets at depth 0 after the token (2.0 * (pos + 1) /
  len), 5 everywhere at 0.1; the ``topk`` SAEs scale every activation by 2;
* ``frequency`` is the share of samples with activation > 0, the other scores are fixed numbers below; the gap's
  thresholds (attrs ``well_correlated``, ``no_effect`` and ``site_effect``) put the no-effect line at 0.05 * 2.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

STRINGS = ["([])", "(()", "[]()[]", "(([]))", "][", "[(])"]
LABELS = ["depth", "top_type=round", "top_type=square", "violation"]
SAES = [("relu", 0.01, 0), ("relu", 0.01, 1), ("topk", 4.0, 0), ("topk", 4.0, 1)]
N_LATENTS = 6
#: seed 1's latent j is seed 0's latent PERM[j]
PERM = np.array([3, 0, 2, 1, 5, 4])


def _labels(text: str) -> list[tuple[str, int, int, int, bool]]:
    """(token, char, depth, top_type, violation) of ``[start]`` and each character."""
    out = [("[start]", -1, 0, 0, False)]
    stack: list[str] = []
    bad = False
    for i, ch in enumerate(text):
        if ch in "([":
            stack.append(ch)
        elif not bad and stack and {"(": ")", "[": "]"}[stack[-1]] == ch:
            stack.pop()
        else:
            bad = True
        top = 0 if not stack else (1 if stack[-1] == "(" else 2)
        out.append((ch, i, len(stack), top, bad))
    return out


def latent_acts(token: str, depth: int, pos: int, length: int) -> np.ndarray:
    """The six latents' activations (seed 0, scale 1) at one token."""
    a = np.zeros(N_LATENTS, np.float32)
    a[0] = depth
    a[1] = 1.5 if token == "(" else 0.0
    a[3] = 0.75 if token == "[start]" else 0.0
    a[4] = 2.0 * (pos + 1) / length if token in ")]" and depth == 0 else 0.0
    a[5] = 0.1
    return a


def make_sae(dtype: str = "float32", shuffle: bool = True) -> xr.Dataset:
    rows = []
    for s, text in enumerate(STRINGS):
        labels = _labels(text)
        for pos, (tok, ch, depth, top, bad) in enumerate(labels):
            rows.append((s, pos, tok, ch, depth, top, bad, text, len(labels)))
    order = np.random.default_rng(3).permutation(len(rows)) if shuffle else np.arange(len(rows))
    rows = [rows[i] for i in order]
    n = len(rows)
    base = np.stack([latent_acts(r[2], r[4], r[1], r[8]) for r in rows])  # (sample, latent)
    act = np.zeros((len(SAES), n, N_LATENTS), np.float32)
    for k, (arch, _, seed) in enumerate(SAES):
        a = base * (2.0 if arch == "topk" else 1.0)
        act[k] = a[:, PERM] if seed == 1 else a
    det0 = np.array([[0.95, 0.5, 0.5, 0.4], [0.6, 0.92, 0.3, 0.5], [np.nan] * 4,
                     [0.3, 0.5, 0.5, 0.55], [0.7, 0.4, 0.45, 0.81], [0.2, 0.5, 0.5, 0.5]], np.float32)
    causal0 = np.array([0.4, 0.02, 0.0, 0.3, 0.15, 0.01], np.float32)
    cos0 = np.array([0.98, 0.91, np.nan, 0.55, 0.62, 0.99], np.float32)
    det = np.zeros((len(SAES), N_LATENTS, len(LABELS)), np.float32)
    causal = np.zeros((len(SAES), N_LATENTS), np.float32)
    cos = np.zeros((len(SAES), N_LATENTS), np.float32)
    match_latent = np.zeros((len(SAES), N_LATENTS), np.int64)
    inv = np.argsort(PERM)
    for k, (arch, _, seed) in enumerate(SAES):
        shift = np.float32(0.01 if arch == "topk" else 0.0)
        d, c, m = det0 + shift, causal0 * (1.5 if arch == "topk" else 1.0), cos0
        if seed == 1:
            det[k], causal[k], cos[k] = d[PERM], c[PERM], m[PERM]
            match_latent[k] = PERM  # seed 1's latent j is seed 0's PERM[j]
        else:
            det[k], causal[k], cos[k] = d, c, m
            match_latent[k] = inv  # seed 0's latent i is seed 1's inv[i]
    tokens = np.array([[f"tok{l}_{r}" for r in range(3)] for l in range(N_LATENTS)])
    dec_tokens = np.stack([tokens[PERM] if seed == 1 else tokens for (_, _, seed) in SAES])
    dec_logits = np.broadcast_to(np.array([3.0, 2.0, 1.0], np.float32), (len(SAES), N_LATENTS, 3)).copy()
    samples = {
        "string": ("sample", np.array([r[0] for r in rows])),
        "position": ("sample", np.array([r[1] for r in rows])),
        "token": ("sample", np.array([r[2] for r in rows])),
        "char": ("sample", np.array([r[3] for r in rows])),
        "depth": ("sample", np.array([r[4] for r in rows])),
        "top_type": ("sample", np.array([r[5] for r in rows])),
        "violation": ("sample", np.array([r[6] for r in rows])),
        "text": ("sample", np.array([r[7] for r in rows])),
    }
    ds = xr.Dataset(
        {
            "activation": (("sae", "sample", "latent"), act.astype(dtype)),
            "detection": (("sae", "latent", "label"), det),
            "causal_effect": (("sae", "latent"), causal),
            "frequency": (("sae", "latent"), (act > 0).mean(1).astype(np.float32)),
            "fvu": ("sae", np.array([0.1, 0.12, 0.2, 0.21], np.float32)),
            "l0": ("sae", np.array([3.0, 3.1, 4.0, 4.0], np.float32)),
            "dead_share": ("sae", np.full(len(SAES), 1 / 6, np.float32)),
            "clean_metric": ((), 0.98),
            "site_effect": ((), 2.0),
            "match_cosine": (("sae", "latent"), cos),
            "match_latent": (("sae", "latent"), match_latent),
            "match_sae": ("sae", np.array([1, 0, 3, 2])),
            "decoder_top_tokens": (("sae", "latent", "rank"), dec_tokens),
            "decoder_top_logits": (("sae", "latent", "rank"), dec_logits),
            "unit_detection": (("unit", "label"), np.array([[0.9, 0.6, 0.6, 0.5], [0.5, 0.7, 0.5, 0.6],
                                                            [0.55, 0.5, 0.5, 0.99]], np.float32)),
            "unit_causal_effect": ("unit", np.array([0.5, 0.05, 0.2], np.float32)),
        },
        coords={
            "architecture": ("sae", [a for a, _, _ in SAES]),
            "sparsity": ("sae", [float(s) for _, s, _ in SAES]),
            "seed": ("sae", [int(s) for _, _, s in SAES]),
            "label": LABELS,
            "unit_kind": ("unit", ["neuron", "neuron", "residual"]),
            **samples,
        },
        attrs={"model": "dyck2-synthetic", "layer": 1, "site": "resid_post", "well_correlated": 0.9,
               "no_effect": 0.05},
    )
    return ds
