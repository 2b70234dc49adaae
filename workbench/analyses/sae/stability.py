"""Seed stability: match the latents of two SAEs by the cosine of their decoder directions (Hungarian matching).

Paulo & Belrose (2025) and the vision-language SAE stability paper retrain SAEs with other seeds and find the
commonly activating latents come back while rare ones do not; :func:`stability_curve` draws that: the share of
latents whose best one-to-one match under another seed has cosine >= ``threshold``, per activation-frequency bin.

>>> import numpy as np
>>> a = np.eye(3); cos, idx = match_decoders(a, a[[2, 0, 1]]); cos.tolist(), idx.tolist()
([1.0, 1.0, 1.0], [1, 2, 0])
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from workbench.analyses.sae.architectures import SAEError

#: A latent counts as found again under another seed when its matched decoder cosine is at least this.
MATCH_THRESHOLD = 0.7


def _unit_rows(w: np.ndarray, name: str) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise SAEError(f"{name} must be a (latent, d_in) decoder matrix, got shape {w.shape}.")
    return w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)


def match_decoders(w_a: np.ndarray, w_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row (latent) of ``w_a``, the cosine to its Hungarian-matched row of ``w_b`` and that row's index
    (maximising the summed cosine of a one-to-one matching; -1 and NaN where ``w_b`` has fewer rows).

    >>> cos, idx = match_decoders(np.eye(3), np.eye(3)[[2, 0, 1]])
    >>> cos.tolist(), idx.tolist()
    ([1.0, 1.0, 1.0], [1, 2, 0])
    """
    a, b = _unit_rows(w_a, "w_a"), _unit_rows(w_b, "w_b")
    if a.shape[1] != b.shape[1]:
        raise SAEError(f"w_a and w_b must have the same d_in, got {a.shape[1]} and {b.shape[1]}.")
    from scipy.optimize import linear_sum_assignment

    cos = a @ b.T
    rows, cols = linear_sum_assignment(-cos)
    idx = np.full(a.shape[0], -1, dtype=np.int64)
    out = np.full(a.shape[0], np.nan)
    idx[rows] = cols
    out[rows] = cos[rows, cols]
    return out, idx


def stability_curve(ds: xr.Dataset, bins: np.ndarray | None = None, threshold: float = MATCH_THRESHOLD,
                    architecture: str | None = None) -> xr.Dataset:
    """Share of latents matched under another seed (``match_cosine >= threshold``), and their count, per
    activation-frequency bin (log-spaced by default), over every SAE of the Dataset (or one architecture's).
    Dead latents (frequency 0) are left out.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"frequency": (("sae", "latent"), [[0.5, 0.001]]),
    ...                  "match_cosine": (("sae", "latent"), [[0.9, 0.2]])},
    ...                 coords={"architecture": ("sae", ["topk"])})
    >>> stability_curve(ds, bins=np.array([1e-4, 1e-2, 1.0])).matched_share.values.tolist()
    [0.0, 1.0]
    """
    sel = ds if architecture is None else ds.isel(sae=np.flatnonzero(ds["architecture"].values == architecture))
    freq = sel["frequency"].values.ravel()
    cos = sel["match_cosine"].values.ravel()
    keep = (freq > 0) & np.isfinite(cos)
    freq, cos = freq[keep], cos[keep]
    if bins is None:
        lo = max(freq.min() if freq.size else 1e-4, 1e-5)
        bins = np.logspace(np.log10(lo), 0, 9)
    which = np.clip(np.digitize(freq, bins) - 1, 0, len(bins) - 2)
    share = np.full(len(bins) - 1, np.nan)
    count = np.zeros(len(bins) - 1, dtype=np.int64)
    for i in range(len(bins) - 1):
        m = which == i
        count[i] = int(m.sum())
        if count[i]:
            share[i] = float((cos[m] >= threshold).mean())
    centre = np.sqrt(bins[:-1] * bins[1:])
    return xr.Dataset({"matched_share": ("bin", share), "count": ("bin", count)},
                      coords={"bin": np.arange(len(bins) - 1), "frequency_low": ("bin", bins[:-1]),
                              "frequency_high": ("bin", bins[1:]), "frequency_centre": ("bin", centre)},
                      attrs={"threshold": float(threshold)})


__all__ = ["match_decoders", "stability_curve", "MATCH_THRESHOLD"]
