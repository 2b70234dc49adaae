"""One latent's dashboard data, from an SAE evaluation Dataset (the numbers a feature dashboard shows): activation
histogram, top-activating contexts with every token's activation, label scores, causal effect, decoder top tokens and
the best match under another seed.

>>> import workbench as wb                                                    # doctest: +SKIP
>>> d = latent_dashboard(wb.load("data/sae/dyck2.nc"), 0, 5)                  # doctest: +SKIP
>>> sorted(d)[:3]                                                             # doctest: +SKIP
['causal_effect', 'contexts', 'decoder_top_tokens']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from workbench.analyses.sae.architectures import SAEError


def latent_dashboard(ds: xr.Dataset, sae: int, latent: int, top_k: int = 6, bins: int = 20) -> dict[str, Any]:
    """Dashboard data of latent ``latent`` of the ``sae``-th SAE (both positional indices).

    ``contexts``: the ``top_k`` strings with the largest activation of the latent, each with its tokens and their
    activations; ``histogram``: counts of the non-zero activations in ``bins`` equal bins (and the share of zeros).
    """
    n_sae, n_lat = ds.sizes["sae"], ds.sizes["latent"]
    if not (0 <= sae < n_sae and 0 <= latent < n_lat):
        raise SAEError(f"sae must be in 0..{n_sae - 1} and latent in 0..{n_lat - 1}, got sae={sae}, latent={latent}.")
    a = ds["activation"].isel(sae=sae, latent=latent).values.astype(np.float32)
    string = ds["string"].values
    on = a > 0
    counts, edges = np.histogram(a[on], bins=bins) if on.any() else (np.zeros(bins, np.int64),
                                                                     np.linspace(0, 1, bins + 1))
    per_string = np.full(int(string.max()) + 1, -np.inf)
    np.maximum.at(per_string, string, a)
    order = [int(i) for i in np.argsort(-per_string, kind="stable")[:top_k] if per_string[i] > 0]
    tokens = ds["token"].values
    contexts = [{"string": i, "text": str(ds["text"].values[string == i][0]),
                 "tokens": [str(t) for t in tokens[string == i]], "activations": a[string == i].tolist(),
                 "max": float(per_string[i])} for i in order]
    det = ds["detection"].isel(sae=sae, latent=latent)
    out: dict[str, Any] = {
        "sae": str(ds["sae"].values[sae]), "latent": int(latent),
        "frequency": float(ds["frequency"].isel(sae=sae, latent=latent)),
        "zero_share": float(1 - on.mean()), "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
        "contexts": contexts,
        "detection": dict(zip(map(str, ds["label"].values), map(float, det.values))),
        "best_label": str(ds["label"].values[int(np.nanargmax(det.values))]),
        "causal_effect": float(ds["causal_effect"].isel(sae=sae, latent=latent)),
    }
    if "decoder_top_tokens" in ds:
        out["decoder_top_tokens"] = [str(t) for t in ds["decoder_top_tokens"].isel(sae=sae, latent=latent).values]
        out["decoder_top_logits"] = ds["decoder_top_logits"].isel(sae=sae, latent=latent).values.tolist()
    if "match_sae" in ds:
        out["match"] = {"sae": str(ds["match_sae"].values[sae]),
                        "latent": int(ds["match_latent"].isel(sae=sae, latent=latent)),
                        "cosine": float(ds["match_cosine"].isel(sae=sae, latent=latent))}
    return out


__all__ = ["latent_dashboard"]
