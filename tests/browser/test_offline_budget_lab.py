"""Widgets over their offline budget in real JupyterLab: with a kernel connected, another head, model or problem comes
from the kernel (nothing of it was saved), is drawn with the right pixels, and no 'needs a live kernel' note appears
(the front end sees the kernel); the same widgets on a page without a kernel show the note (test_pages_widgets.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import xarray as xr

from test_pages_widgets import check_head, click_head, wait_zoom
from wb_lab import ROOT, canvas_pixel, kernel_eval, open_and_run_all, write_notebook
from wb_pages import widget

pytestmark = pytest.mark.browser
NB = "offline_budget.ipynb"
CELL = ".jp-Notebook .jp-Cell >> nth={}"
sys.path.insert(0, str(ROOT / "tests"))


def _attention() -> xr.DataArray:
    w = np.random.default_rng(7).random((2, 3, 60, 60)).astype(np.float32)
    return xr.DataArray(w, dims=("layer", "head", "query", "key"))


def test_over_budget_widgets_use_the_kernel(lab, page):
    from playwright.sync_api import expect

    from test_latent_decoder import make_latent
    from test_latent_decoder_lab import _center, _viridis
    from test_population_explorer import make_population
    from test_population_explorer_lab import _isolated

    prelude = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\nimport numpy as np, xarray as xr\n"
    write_notebook(lab["root"] / NB, [
        prelude + "from workbench.widgets import AttentionMap\n"
        "am = AttentionMap(xr.DataArray(np.random.default_rng(7).random((2, 3, 60, 60)).astype(np.float32),"
        " dims=('layer', 'head', 'query', 'key')), offline_budget=0)\nam",
        prelude + "from test_population_explorer import make_population\n"
        "from workbench.widgets import PopulationExplorer\npe = PopulationExplorer(make_population(), offline_budget=0)\npe",
        prelude + "from test_latent_decoder import make_latent\nfrom workbench.widgets import LatentDecoder\n"
        "ld = LatentDecoder(make_latent(8), offline_budget=0)\nld",
    ])
    open_and_run_all(page, lab, NB)
    am, pe, ld = CELL.format(0), CELL.format(1), CELL.format(2)

    # AttentionMap: another head from the kernel, right pixels, no note
    wait_zoom(page, am, 0, 0, "snapshot")
    click_head(page, am, 1, 2)
    wait_zoom(page, am, 1, 2, "kernel")
    check_head(page, am, _attention().values[1, 2], [(0, 0), (17, 41), (59, 59), (30, 2)])
    assert kernel_eval(lab, NB, "am.layer, am.head, am._heads") == "(1, 2, b'')"
    expect(page.locator(widget(am, ".wb-am-note"))).to_be_hidden()

    # PopulationExplorer: a model's map from the kernel
    ds = make_population()
    sc = page.locator(widget(pe, "canvas.wb-pe-scatter"))
    import json

    pos = {int(k): tuple(v) for k, v in json.loads(sc.get_attribute("data-pos")).items()}
    m = next(i for i in _isolated(pos) if int(ds.n_layers[i]) == 2)
    sc.click(position=dict(zip("xy", pos[m])))
    expect(page.locator(widget(pe, ".wb-pe-right"))).to_have_attribute("data-map-from", "kernel")
    assert kernel_eval(lab, NB, "pe.selected, pe._maps") == f"({m}, {{}})"
    n = len([t for t in ds.example_token.values[0] if t])
    att = ds.example_attention.values[m, 0]
    wait_zoom(page, pe, 0, 0, "snapshot", ".wb-pe-map ")
    check_head(page, pe, att[0, 0], [(0, 0), (n - 1, 0), (n - 1, n - 1)], ".wb-pe-map ")
    click_head(page, pe, 1, 0, ".wb-pe-map ")  # the kernel sent this model's unpooled thumbnails: they are its heads
    wait_zoom(page, pe, 1, 0, "state", ".wb-pe-map ")
    check_head(page, pe, att[1, 0], [(0, 0), (n - 1, 0), (n - 1, n - 1)], ".wb-pe-map ")
    expect(page.locator(widget(pe, ".wb-pe-note"))).to_be_hidden()

    # LatentDecoder: another problem from the kernel
    top1 = make_latent(8).prob.isel(rank=0).transpose("problem", "layer", "latent").values
    page.locator(widget(ld, "select.wb-ld-problem")).select_option("5")
    stage = page.locator(widget(ld, ".wb-ld-stage"))
    expect(stage).to_have_attribute("data-problem", "5")
    expect(stage).to_have_attribute("data-from", "kernel")
    geo = stage.evaluate("s => ({...s.dataset})")
    for layer, col in [(0, 0), (3, 1), (2, 4)]:
        got = canvas_pixel(page, widget(ld, "canvas.wb-ld-cells"), *_center(geo, layer, col))
        assert got == _viridis(float(top1[5, layer, col])), (layer, col, got)
    expect(page.locator(widget(ld, ".wb-ld-kernelnote"))).to_be_hidden()
    assert kernel_eval(lab, NB, "ld.problem, ld._all") == "(5, {})"
