"""workbench.charts: static Altair charts whose data equal the xarray values, exported offline to real PNG/SVG bytes
(vl-convert, no browser, no CDN), and chart.save("x.png") working too."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from workbench.charts import attention_heatmap, population_scatter, to_png, to_svg
from workbench.data import DataModelError

sys.path.insert(0, str(Path(__file__).parent))
from test_population_explorer import make_population  # noqa: E402


def _png_size(b: bytes) -> tuple[int, int]:
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
    return struct.unpack(">II", b[16:24])


@pytest.fixture(scope="module")
def ds():
    return make_population(n_models=12, n_samples=2)


def test_population_scatter_data_equal_dataset_and_export(ds, tmp_path):
    ch = population_scatter(ds)
    df = ch.data
    hs = ds.head_score.values[:, 0, :, :, 3]
    want_x = [np.nanmax(hs[m]) for m in range(ds.sizes["model"])]
    np.testing.assert_allclose(df["max_id_hierarchical"], want_x)
    np.testing.assert_array_equal(df["ood_accuracy"], ds.ood_accuracy.values)
    np.testing.assert_array_equal(df["n_layers"], ds.n_layers.values)
    spec = ch.to_dict()
    assert spec["encoding"]["x"]["field"] == "max_id_hierarchical" and spec["encoding"]["color"]["type"] == "ordinal"
    assert "url" not in str(spec.get("data", {}))  # data inline: nothing to fetch
    w, h = _png_size(to_png(ch, scale=1))
    assert w > 300 and h > 250
    svg = to_svg(ch)
    assert svg.lstrip().startswith("<svg") and svg.count("<path") >= ds.sizes["model"]
    ch.save(tmp_path / "scatter.png")
    _png_size((tmp_path / "scatter.png").read_bytes())
    ch.save(tmp_path / "scatter.svg")
    assert (tmp_path / "scatter.svg").read_text().lstrip().startswith("<svg")


def test_attention_heatmap_data_equal_head_and_drop_padding(ds):
    ex = ds.example_attention.isel(model=3).rename(sample="prompt")
    ex = ex.assign_coords(query_token=ds.example_token.rename(sample="prompt"),
                          key_token=ds.example_token.rename(sample="prompt", query="key"))
    ch = attention_heatmap(ex, layer=0, head=1, prompt=0)
    df = ch.data
    toks = [t for t in ds.example_token.values[0] if t]
    n = len(toks)
    w = ds.example_attention.values[3, 0, 0, 1, :n, :n]
    ok = ~np.isnan(w)
    assert len(df) == ok.sum()
    got = np.full((n, n), np.nan)
    got[df["query"].to_numpy(), df["key"].to_numpy()] = df["weight"].to_numpy()
    np.testing.assert_array_equal(got[ok], w[ok].astype(np.float64))
    assert list(df.drop_duplicates("query")["query_token"]) == toks
    spec = ch.to_dict()
    assert spec["encoding"]["y"]["sort"][0] == f"0:{toks[0]}"
    assert spec["encoding"]["color"]["scale"]["domain"] == [0, 1]
    w_px, h_px = _png_size(to_png(ch, scale=1))
    assert w_px >= 16 * n and h_px >= 16 * n
    svg = to_svg(ch)
    assert svg.lstrip().startswith("<svg") and toks[1] in svg


def test_bad_input():
    da = xr.DataArray(np.zeros((1, 2, 3, 3), np.float32), dims=("layer", "head", "query", "key"))
    with pytest.raises(DataModelError, match="head=5"):
        attention_heatmap(da, head=5)
    with pytest.raises(DataModelError, match="needs dims"):
        attention_heatmap(da.isel(layer=0))
    with pytest.raises(DataModelError, match="x='nope'"):
        population_scatter(make_population(n_models=4, n_samples=1), x="nope")


def test_graph_reorganization_chart_data_equal_dataset_and_export():
    from incontext_fixtures import make_study
    from workbench.charts import graph_reorganization

    study = make_study()
    ch = graph_reorganization(study, layer=2, context=200, components=(0, 2))
    scatter, curves = ch.hconcat
    points = scatter.layer[1].data
    pca = study.pca.sel(layer=2, context=200).values
    shown = np.isfinite(pca[:, 0]) & np.isfinite(pca[:, 2])
    np.testing.assert_array_equal(points["x"], pca[shown, 0])
    np.testing.assert_array_equal(points["y"], pca[shown, 2])
    assert list(points["word"]) == [str(w) for w in study.word.values[shown]]
    edges = scatter.layer[0].data
    assert edges["edge"].nunique() == int(np.triu(study.adjacency.values[np.ix_(shown, shown)]).sum())
    energy = curves.vconcat[0].layer[1].data
    main = energy[energy.series == study.attrs["model"]]
    np.testing.assert_allclose(main["value"], study.energy_ratio.sel(layer=2).values)
    toy = energy[energy.series == "control: toy"]
    np.testing.assert_allclose(toy["value"], study.control_energy_ratio.sel(layer=2, control="toy").values)
    png = to_png(ch, scale=1)
    w, h = _png_size(png)
    assert w > 600 and h > 300
    with pytest.raises(DataModelError, match="context=7 is not one of"):
        graph_reorganization(study, context=7)
