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

__all__ = ["population_scatter", "attention_heatmap", "graph_reorganization", "loss_clusters", "patch_map",
           "steering_curve", "feature_explorer", "to_png", "to_svg"]


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


def graph_reorganization(ds: xr.Dataset, layer: int | None = None, context: int | None = None,
                         components: tuple[int, int] = (0, 1), color: str | None = None,
                         size: int = 320) -> alt.HConcatChart:
    """The GraphReorganization widget's figure, static: node means at context length ``context`` in two principal
    components (edges as lines, words as labels, coloured by a node group), beside the energy ratio and Procrustes
    R^2 against T (log axis) with the permutation-null band, the controls in grey and a rule at T. After Park et al.
    2025 (arXiv 2501.00070), Figure 1 and 4.

    >>> # chart = graph_reorganization(wb.load("data/incontext/gemma3_grid.nc"), context=200); chart.save("grid.svg")
    """
    from workbench.data import validate_incontext
    from workbench.widgets.graph_reorganization import COLOR_GROUPS, default_layer

    ds = validate_incontext(ds)
    layer = default_layer(ds) if layer is None else layer
    context = int(ds.context.values[-1]) if context is None else context
    if layer not in ds.layer.values:
        raise DataModelError(f"layer={layer} is not one of the Dataset's layers {ds.layer.values.tolist()}.")
    if context not in ds.context.values:
        raise DataModelError(f"context={context} is not one of the Dataset's context lengths {ds.context.values.tolist()}.")
    a, b = components
    k = ds.sizes["component"]
    if not (0 <= a < k and 0 <= b < k and a != b):
        raise DataModelError(f"components must be two different indices in 0..{k - 1}, got {components!r}.")
    color = color or next((g for g in COLOR_GROUPS if g in ds.coords), None)
    frame = ds.sel(layer=layer, context=context)
    pts = pd.DataFrame({"word": [str(w) for w in ds.word.values], "x": frame.pca.values[:, a],
                        "y": frame.pca.values[:, b]})
    if color:
        pts[color] = ds.coords[color].values
    pts = pts[np.isfinite(pts.x) & np.isfinite(pts.y)]
    adj = ds.adjacency.values
    edges = [{"edge": f"{i}-{j}", "x": pts.x[n], "y": pts.y[n]} for i in range(len(adj)) for j in range(i + 1, len(adj))
             if adj[i, j] and i in pts.index and j in pts.index for n in (i, j)]
    x_enc, y_enc = alt.X("x:Q", title=f"PC{a + 1}", axis=alt.Axis(labels=False)), alt.Y("y:Q", title=f"PC{b + 1}",
                                                                                           axis=alt.Axis(labels=False))
    lines = alt.Chart(pd.DataFrame(edges)).mark_line(color="#999", strokeWidth=1.2).encode(
        x=x_enc, y=y_enc, detail="edge:N")
    dots = alt.Chart(pts).mark_circle(size=90, opacity=1).encode(
        x=x_enc, y=y_enc, tooltip=["word"] + ([color] if color else []),
        **({"color": alt.Color(f"{color}:N", title=color)} if color else {}))
    words = alt.Chart(pts).mark_text(align="left", dx=7, dy=-7, fontSize=11).encode(x=x_enc, y=y_enc, text="word")
    title = f"{ds.attrs.get('model', '')} · layer {layer} · T = {context}".strip(" ·")
    scatter = (lines + dots + words).properties(width=size, height=size, title=title)

    def curve(var: str, name: str, null: bool) -> alt.LayerChart:
        rows = [{"T": int(t), "value": float(v), "series": str(ds.attrs.get("model", "study"))}
                for t, v in zip(ds.context.values, ds[var].sel(layer=layer).values)]
        if f"control_{var}" in ds:
            for c in ds.control.values:
                rows += [{"T": int(t), "value": float(v), "series": f"control: {c}"}
                         for t, v in zip(ds.context.values, ds[f"control_{var}"].sel(layer=layer, control=c).values)]
        df = pd.DataFrame(rows)
        df = df[np.isfinite(df.value)]
        series = list(dict.fromkeys(r["series"] for r in rows))  # the study first, then the controls
        x = alt.X("T:Q", scale=alt.Scale(type="log", domain=[int(ds.context.values[0]), int(ds.context.values[-1])],
                                         nice=False), title="context length T")
        chart = alt.Chart(df).mark_line().encode(x=x, y=alt.Y("value:Q", title=name), color=alt.Color(
            "series:N", scale=alt.Scale(domain=series, range=["#1f77b4"] + ["#aaaaaa", "#777777", "#cccccc"][:len(series) - 1]),
            title=None))
        layers = [chart, alt.Chart(pd.DataFrame({"T": [context]})).mark_rule(strokeDash=[3, 3]).encode(x="T:Q")]
        if null and "energy_null" in ds:
            q = ds.energy_null.sel(layer=layer)
            band = pd.DataFrame({"T": ds.context.values, "lo": q.sel(quantile=0.01).values,
                                 "hi": q.sel(quantile=0.99).values})
            layers.insert(0, alt.Chart(band).mark_area(opacity=0.25, color="#999").encode(x=x, y="lo:Q", y2="hi:Q"))
        return alt.layer(*layers).properties(width=size * 0.8, height=size * 0.55)

    curves = alt.vconcat(curve("energy_ratio", "energy ratio", True), curve("procrustes_r2", "Procrustes R²", False))
    return alt.hconcat(scatter, curves).resolve_scale(color="independent")


def loss_clusters(ds: xr.Dataset, basis: int = 0, label: str = "place", width: int = 360,
                  height: int = 220, by: str = "cluster") -> alt.TopLevelMixin:
    """The static LossClusters view of one POLCA vector (Kangaslahti, Rosenfeld & Saphra, arXiv 2506.15872, Fig. 4):
    each cluster's median projected loss with its interquartile band, the same clusters' median exact loss (dashed),
    the tau line and the steps where vectors were found, and composition bars by ``label``. ``by=<label>`` groups
    the samples by a categorical label instead of by cluster (every sample; no composition bars), which shows how
    a vector separates, say, digit places when HDBSCAN finds no clusters.

    >>> # chart = loss_clusters(wb.load("data/polca/addition_polca.nc"), basis=3, label="carry")
    """
    from workbench.data import validate_polca
    from workbench.widgets.loss_clusters import categorical_labels, cluster_curves

    ds = validate_polca(ds)
    k = ds.sizes["basis"]
    if not 0 <= basis < k:
        raise DataModelError(f"basis={basis} is out of range: the Dataset has {k} vector(s).")
    labels = categorical_labels(ds)
    if label not in labels:
        raise DataModelError(f"label={label!r} is not a categorical sample coordinate; expected one of {sorted(labels)}.")
    steps = np.asarray(ds.step.values)
    if by == "cluster":
        c = np.asarray(ds.cluster.values[basis], np.int64)
        names = [f"cluster {i}" for i in range(int(c.max()) + 1 if c.size and c.max() >= 0 else 0)]
    elif by in labels:
        values = np.asarray(ds.coords[by].values).astype(str)
        c = np.array([labels[by].index(v) for v in values], np.int64)
        names = [f"{by} {v}" for v in labels[by]]
    else:
        raise DataModelError(f"by={by!r} must be 'cluster' or a categorical sample coordinate of {sorted(labels)}.")
    q = cluster_curves(np.asarray(ds.projected_loss.values[basis], np.float64), c)
    ex = cluster_curves(np.asarray(ds.exact_loss.values, np.float64), c)["median"]
    rows = [{"step": int(s), "cluster": names[i], "median": float(q["median"][i, j]),
             "q1": float(q["q1"][i, j]), "q3": float(q["q3"][i, j]), "exact": float(ex[i, j])}
            for i in range(q["median"].shape[0]) for j, s in enumerate(steps)]
    df = pd.DataFrame(rows, columns=["step", "cluster", "median", "q1", "q3", "exact"])
    color = alt.Color("cluster:N", scale=alt.Scale(scheme="tableau10"))
    x = alt.X("step:Q", title="training step")
    tau = float(ds.attrs.get("tau", np.nan))
    rules = pd.DataFrame({"step": np.asarray(ds.found_at.values, float), "what": "vector found"})
    if np.isfinite(tau):
        rules = pd.concat([rules, pd.DataFrame({"step": [tau], "what": ["tau (exact loss flat)"]})])
    rule = alt.Chart(rules).mark_rule(strokeDash=[4, 3], opacity=0.6).encode(
        x="step:Q", color=alt.Color("what:N", scale=alt.Scale(range=["#999999", "#333333"]), title=""))
    base = alt.Chart(df).encode(x=x, color=color)
    band = base.mark_area(opacity=0.3).encode(y=alt.Y("q1:Q", title=f"projected loss, vector #{basis}"), y2="q3:Q",
                                              color=alt.Color("cluster:N", scale=alt.Scale(scheme="tableau10"),
                                                              legend=None))
    line = base.mark_line().encode(y="median:Q", tooltip=["cluster:N", "step:Q", "median:Q", "q1:Q", "q3:Q"])
    what = "POLCA clusters" if by == "cluster" else f"samples by {by}"
    if by == "cluster" and not names:
        what = "no POLCA clusters (HDBSCAN: all outliers or filtered)"
    left = alt.layer(band, line, rule).resolve_scale(color="independent").properties(
        width=width, height=height, title=f"{what} of vector #{basis}")
    right = alt.layer(base.mark_line(strokeDash=[6, 4]).encode(y=alt.Y("exact:Q", title="exact loss (median)")),
                      rule).resolve_scale(color="independent").properties(width=int(width * 0.7), height=height,
                                                                         title="their exact loss")
    top = alt.hconcat(left, right)
    if by != "cluster":
        return top.resolve_scale(color="independent")
    values = np.asarray(ds.coords[label].values).astype(str)
    comp = [{"cluster": f"cluster {i}", label: v, "share": float(np.mean(values[c == i] == v))}
            for i in range(q["median"].shape[0]) for v in labels[label]]
    bars = alt.Chart(pd.DataFrame(comp, columns=["cluster", label, "share"])).mark_bar().encode(
        y=alt.Y("cluster:N", title=None), x=alt.X("share:Q", stack="normalize", title=f"composition by {label}"),
        color=alt.Color(f"{label}:N", sort=labels[label], scale=alt.Scale(scheme="dark2")),
        order=alt.Order("share:Q")).properties(width=width + int(width * 0.7) + 60)
    return alt.vconcat(top, bars).resolve_scale(color="independent")


#: The PatchMap widget's diverging ramp at -1, 0 and +1 (widgets/patch_map/scale.js), for the static twin.
PATCH_RANGE = ["#2166ac", "#f7f7f7", "#b2182b"]


def patch_map(ds: xr.Dataset, site: str = "resid", pair: int | None = None, cell_px: int = 22) -> alt.Chart:
    """The PatchMap widget's heat map, static: a patching effect per layer (rows) and position or span (columns) at
    one ``site`` (``"head"``: layer x head, the first span), for one ``pair`` or the NaN-ignoring mean over pairs
    (``None``), on a diverging scale symmetric about 0 (blue negative, white 0, red positive). Columns are labelled
    ``"i:token"`` with the clean prompt's tokens; a ``*`` marks a token that differs in the corrupted prompt (in any
    pair, for the mean). NaN cells are left blank.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({v: (("site", "layer", "position"), np.array([[[0.5, -1.0], [np.nan, 2.0]]])) for v in
    ...                  ("effect", "metric")}, coords={"site": ["resid"], "token": ("position", [" a", " b"]),
    ...                  "corrupted_token": ("position", [" a", " c"])}, attrs={"metric": "m", "method": "exact"})
    >>> chart = patch_map(ds)
    >>> len(chart.data), chart.to_dict()["encoding"]["color"]["scale"]["domain"]
    (3, [-2.0, 0.0, 2.0])
    """
    from workbench.data import validate_patching
    from workbench.widgets._patching import cells_dim, differs, mean_labels, pair_mean, per_pair, token_rows

    ds = validate_patching(ds)
    dim = cells_dim(ds)
    n_pairs = int(ds.sizes.get("pair", 1))
    if pair is not None and (isinstance(pair, bool) or not isinstance(pair, (int, np.integer))
                             or not 0 <= pair < n_pairs):
        raise DataModelError(f"pair={pair!r} is out of range: the Dataset has {n_pairs} pair(s); pass None for the "
                             f"mean over pairs.")
    sites = [str(s) for s in ds["site"].values]
    layers = [int(v) for v in ds["layer"].values] if "layer" in ds.coords else list(range(ds.sizes["layer"]))
    if site == "head":
        if "head_effect" not in ds.data_vars:
            raise DataModelError("site='head' needs data variable 'head_effect' on (pair, layer, head); the Dataset "
                                 "has none.")
        arr = per_pair(ds["head_effect"], ("span", "layer", "head"))[:, 0]
        labels = [f"h{h}" for h in range(arr.shape[-1])]
        marks = [False] * len(labels)
    elif site in sites:
        arr = per_pair(ds["effect"], ("site", "layer", dim))[:, sites.index(site)]
        if dim == "span":
            labels = ([str(s) for s in ds["span_label"].values] if "span_label" in ds.coords
                      else [f"span {i}" for i in range(arr.shape[-1])])
            marks = [False] * len(labels)
        else:
            clean = token_rows(ds, "token", n_pairs, arr.shape[-1])
            flags = differs(clean, token_rows(ds, "corrupted_token", n_pairs, arr.shape[-1]))
            labels = mean_labels(clean) if pair is None else clean[pair]
            marks = list(flags.any(0) if pair is None else flags[pair].astype(bool))
    else:
        raise DataModelError(f"site must be one of {sites + (['head'] if 'head_effect' in ds.data_vars else [])}, "
                             f"got {site!r}.")
    values = pair_mean(arr) if pair is None else np.asarray(arr[pair], np.float32)
    names = (labels if site == "head" else
             [f"{j}:{t}{' *' if mark else ''}" for j, (t, mark) in enumerate(zip(labels, marks))])
    rows, cols = np.nonzero(np.isfinite(values))
    df = pd.DataFrame({"layer": [layers[r] for r in rows], "x": [names[c] for c in cols],
                       "effect": values[rows, cols].astype(float), "label": [labels[c] for c in cols]})
    finite = np.abs(values[np.isfinite(values)])
    m = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    which = f"mean over {n_pairs} pairs" if pair is None else f"pair {pair}"
    title = alt.TitleParams(f"{site} · {ds.attrs['metric']} · {which}",
                            subtitle=["effect: 1 = restores the clean answer, 0 = no change"]
                            + (["* token differs from the corrupted prompt"] if any(marks) else []))
    return alt.Chart(df, title=title).mark_rect().encode(
        x=alt.X("x:O", sort=names, title="head" if site == "head" else dim),
        y=alt.Y("layer:O", sort=layers, title="layer"),
        color=alt.Color("effect:Q", scale=alt.Scale(domain=[-m, 0.0, m], range=PATCH_RANGE), title="effect"),
        tooltip=["layer:O", "label:N", alt.Tooltip("effect:Q", format=".3f")],
    ).properties(width=cell_px * len(names), height=max(8, cell_px * 0.8) * len(layers))


#: The SteeringExplorer widget's mark colours (widgets/steering_explorer/draw.js), for the static twin.
STEERING_COLORS = {"steer": "#1c7ed6", "random": "#868e96", "prompt": "#2f9e44"}


def steering_curve(ds: xr.Dataset, layer: int | None = None, width: int = 360, height: int = 220) -> alt.Chart:
    """The SteeringExplorer widget's evaluation curve, static: ``score`` against coef for the steering vector, the
    random-vector baseline (with its ``random_low``..``random_high`` band when given) and the prompt baseline as a
    horizontal line. ``layer`` picks a vector of a Dataset with a ``layer`` dim (default: the first).

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"text": (("coef", "prompt"), [["a"], ["b"]]),
    ...                  "touched": (("coef", "prompt", "step"), np.ones((2, 1, 3), bool)),
    ...                  "score": (("baseline", "coef"), [[0.0, 1.0], [0.0, 0.1], [0.5, 0.5]])},
    ...                 coords={"coef": [0.0, 4.0], "baseline": ["steer", "random", "prompt"]})
    >>> chart = steering_curve(ds)
    >>> sorted(set(chart.layer[0].data["baseline"]))
    ['prompt', 'random', 'steer']
    """
    from workbench.data import validate_steering

    ds = validate_steering(ds)
    score = ds["score"]
    where = ""
    if "layer" in score.dims:
        layers = [int(v) for v in ds["layer"].values] if "layer" in ds.coords else list(range(ds.sizes["layer"]))
        pick = layers[0] if layer is None else layer
        if isinstance(pick, bool) or pick not in layers:
            raise DataModelError(f"layer={layer!r} is not one of the Dataset's layers {layers}.")
        score = score.isel(layer=layers.index(pick))
        where = f" · layer {pick}"
    elif layer is not None:
        raise DataModelError(f"layer={layer!r} needs a Dataset with a 'layer' dim (one vector per layer); this one "
                             f"has one vector (attr layer={ds.attrs.get('layer')!r}).")
    else:
        where = f" · layer {ds.attrs['layer']}" if "layer" in ds.attrs else ""
    coefs = [float(c) for c in ds["coef"].values]
    rows = []
    for b in (str(v) for v in score["baseline"].values):
        for c, v in zip(coefs, np.asarray(score.sel(baseline=b).transpose("coef").values, float)):
            if np.isfinite(v):
                rows.append({"baseline": b, "coef": c, "score": float(v)})
    df = pd.DataFrame(rows, columns=["baseline", "coef", "score"])
    names = [b for b in STEERING_COLORS if b in set(df["baseline"])]
    color = alt.Color("baseline:N", scale=alt.Scale(domain=names, range=[STEERING_COLORS[b] for b in names]),
                      title="baseline")
    title = alt.TitleParams(f"Steering · {ds.attrs.get('behaviour', 'behaviour')}{where}",
                            subtitle=["score: mean log-prob of behaviour completions minus non-behaviour ones"])
    lines = alt.Chart(df[df["baseline"] != "prompt"]).mark_line(point=True).encode(
        x=alt.X("coef:Q", title="coef"), y=alt.Y("score:Q", title="score"), color=color,
        tooltip=["baseline:N", "coef:Q", alt.Tooltip("score:Q", format=".3f")])
    layers_ = [alt.Chart(df).mark_point(opacity=0).encode(x="coef:Q", y="score:Q", color=color), lines]
    prompt = df[df["baseline"] == "prompt"]
    if len(prompt):
        layers_.append(alt.Chart(pd.DataFrame({"score": [float(prompt["score"].mean())], "baseline": ["prompt"]}))
                       .mark_rule(strokeDash=[6, 4]).encode(y="score:Q", color=color))
    if "random_low" in ds.data_vars and "random_high" in ds.data_vars:
        band = pd.DataFrame({"coef": coefs, "low": np.asarray(ds["random_low"].values, float).reshape(-1)[: len(coefs)],
                             "high": np.asarray(ds["random_high"].values, float).reshape(-1)[: len(coefs)]})
        layers_.insert(1, alt.Chart(band).mark_area(opacity=0.25, color=STEERING_COLORS["random"]).encode(
            x="coef:Q", y="low:Q", y2="high:Q"))
    return alt.layer(*layers_, title=title).properties(width=width, height=height)


#: The FeatureExplorer widget's mark colours (widgets/feature_explorer/draw.js), for the static twin.
FEATURE_COLORS = {"latent": "#1c7ed6", "unit": "#868e96", "selected": "#e8590c"}


def feature_explorer(ds: xr.Dataset, sae: int = 0, latent: int | None = None, width: int = 320,
                     height: int = 260) -> alt.HConcatChart:
    """The FeatureExplorer widget, static: the scatter of correlational (best label score) against causal score over
    SAE ``sae``'s latents, the model's neurons as grey rings and latent ``latent`` (default: the best label score)
    in orange, beside that latent's label score bars.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"activation": (("sae", "sample", "latent"), np.ones((1, 2, 2), np.float32)),
    ...     "detection": (("sae", "latent", "label"), [[[0.9, 0.6], [0.7, 0.5]]]),
    ...     "causal_effect": (("sae", "latent"), [[0.2, 0.0]]), "frequency": (("sae", "latent"), [[1.0, 1.0]]),
    ...     "match_cosine": (("sae", "latent"), [[0.9, 0.8]]), "fvu": ("sae", [0.1]), "l0": ("sae", [2.0])},
    ...     coords={"architecture": ("sae", ["topk"]), "sparsity": ("sae", [2.0]), "seed": ("sae", [0]),
    ...             "label": ["depth", "violation"], "text": ("sample", ["()", "()"]),
    ...             "token": ("sample", ["(", ")"]), "char": ("sample", [0, 1])})
    >>> chart = feature_explorer(ds)
    >>> chart.hconcat[1].data["score"].tolist()
    [0.9, 0.6]
    """
    from workbench.widgets.feature_explorer import best_label, check_sae_dataset, sae_names

    ds = check_sae_dataset(ds)
    names = sae_names(ds)
    if isinstance(sae, bool) or not isinstance(sae, (int, np.integer)) or not 0 <= sae < ds.sizes["sae"]:
        raise DataModelError(f"sae must be an index in 0..{ds.sizes['sae'] - 1} (one of {names}), got {sae!r}.")
    labels = [str(v) for v in ds["label"].values] if "label" in ds.coords else [
        f"label {k}" for k in range(ds.sizes["label"])]
    det = np.asarray(ds["detection"].isel(sae=sae).transpose("latent", "label").values, float)
    best, which = best_label(det)
    causal = np.asarray(ds["causal_effect"].isel(sae=sae).values, float)
    n = ds.sizes["latent"]
    if latent is None:
        latent = int(np.argmax(np.nan_to_num(best, nan=-np.inf))) if np.isfinite(best).any() else 0
    if isinstance(latent, bool) or not isinstance(latent, (int, np.integer)) or not 0 <= latent < n:
        raise DataModelError(f"latent must be an index in 0..{n - 1}, got {latent!r}.")
    keep = np.isfinite(best) & np.isfinite(causal)
    pts = pd.DataFrame({"latent": np.arange(n)[keep], "best": best[keep], "causal": causal[keep],
                        "label": [labels[w] if w >= 0 else "" for w in which[keep]],
                        "kind": ["selected" if i == latent else "latent" for i in np.arange(n)[keep]]})
    if "unit_detection" in ds.variables and "unit_causal_effect" in ds.variables:
        ub, uw = best_label(np.asarray(ds["unit_detection"].transpose("unit", "label").values, float))
        uc = np.asarray(ds["unit_causal_effect"].values, float)
        ok = np.isfinite(ub) & np.isfinite(uc)
        pts = pd.concat([pd.DataFrame({"latent": -1, "best": ub[ok], "causal": uc[ok],
                                       "label": [labels[w] if w >= 0 else "" for w in uw[ok]], "kind": "unit"}),
                         pts], ignore_index=True)
    kinds = [k for k in ("unit", "latent", "selected") if k in set(pts["kind"])]
    color = alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=[FEATURE_COLORS[k] for k in kinds]),
                      title="", legend=alt.Legend(labelExpr="datum.label == 'unit' ? 'neurons' : datum.label"))
    base = alt.Chart(pts).encode(x=alt.X("best:Q", title="correlational: best label score",
                                         scale=alt.Scale(zero=False)),
                                 y=alt.Y("causal:Q", title="causal effect", scale=alt.Scale(zero=False)),
                                 color=color, tooltip=["latent:Q", "label:N", alt.Tooltip("best:Q", format=".3f"),
                                                       alt.Tooltip("causal:Q", format=".3f")])
    scatter = alt.layer(base.transform_filter("datum.kind == 'unit'").mark_point(size=30, filled=False),
                        base.transform_filter("datum.kind == 'latent'").mark_circle(size=40, opacity=1),
                        base.transform_filter("datum.kind == 'selected'").mark_circle(size=110, opacity=1)
                        ).properties(width=width, height=height, title=f"{names[sae]}: correlational vs causal")
    bars_df = pd.DataFrame({"label": labels, "score": det[latent], "best": [k == which[latent]
                                                                              for k in range(len(labels))]})
    bars = alt.Chart(bars_df).mark_bar().encode(
        x=alt.X("score:Q", scale=alt.Scale(domain=[0, 1]), title="label score (AUROC; |r| for numeric labels)"),
        y=alt.Y("label:N", sort=labels, title=None),
        color=alt.condition("datum.best", alt.value(FEATURE_COLORS["selected"]), alt.value(FEATURE_COLORS["latent"])),
        tooltip=["label:N", alt.Tooltip("score:Q", format=".3f")],
    ).properties(width=220, height=18 * len(labels),
                 title=f"latent {latent} · causal effect {causal[latent]:.3f}")
    return alt.hconcat(scatter, bars)


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
