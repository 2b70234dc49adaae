"""Static Altair charts of workbench results, exportable offline as PNG / SVG (for papers, READMEs, slides).

Rendering uses vl-convert (Vega-Lite compiled and rasterised in-process: no browser, no CDN), so
``chart.save("fig.png")`` and :func:`to_png` / :func:`to_svg` work on a machine without internet. Charts read xarray
only, like the widgets: a population Dataset (:func:`workbench.data.validate_population`) or an attention DataArray
(:func:`workbench.data.validate_attention`).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import xarray as xr

from workbench.data import DataModelError, validate_attention

__all__ = ["population_scatter", "attention_heatmap", "to_png", "to_svg"]


def population_scatter(ds: xr.Dataset, x: str = "max_id_hierarchical", y: str = "ood_accuracy",
                       color: str | None = "n_layers", width: int = 360, height: int = 280) -> alt.Chart:
    """One point per model of a population: ``x`` vs ``y`` (any variable of
    :func:`workbench.widgets.population_explorer.population_table`, e.g. the max ID hierarchical-head score vs OOD
    accuracy, after Li et al., arXiv 2507.06445), coloured by ``color``; hover shows the hyperparameters.

    >>> # chart = population_scatter(wb.load("data/dyck/population.nc")); chart.save("population.png")
    """
    from workbench.widgets.population_explorer import HYPERPARAMETERS, population_table

    cols = population_table(ds)
    for arg, name in (("x", x), ("y", y), ("color", color)):
        if name is not None and name not in cols:
            raise DataModelError(f"{arg}={name!r} is not a variable of this population; choose from {list(cols)}.")
    frame = {"model": [str(v) for v in (ds.coords["model"].values if "model" in ds.coords else range(ds.sizes["model"]))]}
    for name in dict.fromkeys([x, y, *(c for c in [color] if c), *(h for h in HYPERPARAMETERS if h in cols),
                               "id_accuracy", "ood_accuracy"]):
        frame[name] = cols[name]
    df = pd.DataFrame(frame)
    df = df[np.isfinite(df[x]) & np.isfinite(df[y])].reset_index(drop=True)
    tooltip = ["model", *[h for h in HYPERPARAMETERS if h in df], "id_accuracy", "ood_accuracy"]
    enc: dict[str, Any] = {"x": alt.X(f"{x}:Q", title=x), "y": alt.Y(f"{y}:Q", title=y), "tooltip": tooltip}
    if color:
        few = df[color].nunique() <= 10
        enc["color"] = alt.Color(f"{color}:{'O' if few else 'Q'}", title=color)
    return alt.Chart(df).mark_circle(size=60, opacity=0.85).encode(**enc).properties(width=width, height=height)


def attention_heatmap(da: xr.DataArray, layer: int = 0, head: int = 0, prompt: int = 0,
                      cell_px: int = 16) -> alt.Chart:
    """One attention head as a heatmap with token labels on both axes (viridis, weight 0..1); padding positions
    (all-NaN, empty label) are dropped and masked cells are left blank.

    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.eye(3, dtype=np.float32)[None, None], dims=("layer", "head", "query", "key"))
    >>> len(attention_heatmap(da).data)
    9
    """
    da = validate_attention(da)
    if "prompt" in da.dims:
        da = da.isel(prompt=prompt)
    sizes = {"layer": da.sizes["layer"], "head": da.sizes["head"]}
    for name, value in (("layer", layer), ("head", head)):
        if not 0 <= value < sizes[name]:
            raise DataModelError(f"{name}={value} is out of range: attention has {sizes[name]} {name}(s).")
    h = da.isel(layer=layer, head=head).transpose("query", "key")
    w = np.asarray(h.values, np.float64)
    qt = [str(t) for t in h.coords["query_token"].values] if "query_token" in h.coords else [str(i) for i in range(w.shape[0])]
    kt = [str(t) for t in h.coords["key_token"].values] if "key_token" in h.coords else [str(i) for i in range(w.shape[1])]
    q_keep = [i for i in range(w.shape[0]) if not (np.all(np.isnan(w[i])) and qt[i] == "")]
    k_keep = [j for j in range(w.shape[1]) if not (np.all(np.isnan(w[:, j])) and kt[j] == "")]
    qq, kk = np.meshgrid(q_keep, k_keep, indexing="ij")
    vals = w[qq, kk]
    df = pd.DataFrame({"query": qq.ravel(), "key": kk.ravel(), "weight": vals.ravel(),
                       "query_token": [qt[i] for i in qq.ravel()], "key_token": [kt[j] for j in kk.ravel()]})
    qlabel = {i: f"{i}:{qt[i]}" for i in q_keep}
    klabel = {j: f"{j}:{kt[j]}" for j in k_keep}
    df["q"] = df["query"].map(qlabel)
    df["k"] = df["key"].map(klabel)
    df = df[np.isfinite(df["weight"])].reset_index(drop=True)
    title = f"layer {layer} · head {head}" + (f" · {da.attrs['model']}" if da.attrs.get("model") else "")
    return alt.Chart(df, title=title).mark_rect().encode(
        x=alt.X("k:O", sort=[klabel[j] for j in k_keep], title="key"),
        y=alt.Y("q:O", sort=[qlabel[i] for i in q_keep], title="query"),
        color=alt.Color("weight:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1])),
        tooltip=["query_token", "key_token", alt.Tooltip("weight:Q", format=".3f")],
    ).properties(width=cell_px * len(k_keep), height=cell_px * len(q_keep))


def to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """PNG bytes of a chart, rendered offline by vl-convert.

    >>> # open("head.png", "wb").write(to_png(attention_heatmap(attn)))
    """
    import vl_convert as vlc

    return vlc.vegalite_to_png(chart.to_dict(), scale=scale)


def to_svg(chart: alt.TopLevelMixin) -> str:
    """SVG text of a chart, rendered offline by vl-convert.

    >>> # open("head.svg", "w").write(to_svg(attention_heatmap(attn)))
    """
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict())
