"""Teaching pages from `workbench.to_html`, opened from file:// in headless Chromium with every request but the page
file aborted and recorded: each widget draws, a selection that would have needed a kernel (another head, model,
problem, layer, vector) redraws from the saved state with the right pixels (read from the canvases), a widget over
its offline budget says on the page what needs a live kernel while the rest stays interactive, and nothing leaves
the page."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import xarray as xr

from wb_lab import ROOT, SHOTS, TIMINGS, canvas_pixel, viridis, weight_code
from wb_pages import assert_offline, file_page, open_page, widget  # noqa: F401 - file_page is a fixture

pytestmark = pytest.mark.browser
sys.path.insert(0, str(ROOT / "tests"))


# ------------------------------------------------------------------------------------------------------ helpers
def thumb_center(page, k: int | str, layer: int, head: int, scope: str = "") -> tuple[float, float]:
    g = page.locator(widget(k, f"{scope}canvas.wb-am-grid"))
    px, gap = float(g.get_attribute("data-thumb-px")), float(g.get_attribute("data-gap"))
    x0, y0 = float(g.get_attribute("data-x0")), float(g.get_attribute("data-y0"))
    return x0 + head * (px + gap) + px / 2, y0 + layer * (px + gap) + px / 2


def click_head(page, k: int | str, layer: int, head: int, scope: str = "") -> None:
    x, y = thumb_center(page, k, layer, head, scope)
    page.locator(widget(k, f"{scope}canvas.wb-am-grid")).click(position={"x": x, "y": y})


def wait_zoom(page, k: int | str, layer: int, head: int, source: str, scope: str = "") -> None:
    """Wait until widget k's zoom shows (layer, head) drawn from `source` or from the view's cache (a click sets layer
    and head, and the second redraw finds the head the first took; the cache only ever holds what came from
    `source` here, as no kernel is connected)."""
    zoom = page.locator(widget(k, f"{scope}canvas.wb-am-zoom"))
    ok = [source, "cache"]
    try:
        page.wait_for_function("([c, l, h, ok]) => c && c.dataset.layer === String(l) && c.dataset.head === String(h)"
                               " && ok.includes(c.dataset.source)", arg=[zoom.element_handle(), layer, head, ok],
                               timeout=20_000)
    except Exception as e:
        raise AssertionError(f"zoom of widget {k} never showed ({layer}, {head}) from {source}: "
                             f"{zoom.evaluate('c => ({...c.dataset})')}; {page.console_errors}") from e


def check_head(page, k: int | str, weights: np.ndarray, cells, scope: str = "") -> None:
    """Each listed (query, key) cell of the zoomed head is the viridis colour of its quantised weight."""
    sel = widget(k, f"{scope}canvas.wb-am-zoom")
    cell = float(page.locator(sel).get_attribute("data-cell-px"))
    for q, kk in cells:
        got = canvas_pixel(page, sel, kk * cell + cell / 2, q * cell + cell / 2)
        assert got == viridis(weight_code(weights[q, kk])), (k, q, kk, got)


def attention(n_layers: int, n_heads: int, n: int, seed: int) -> xr.DataArray:
    """Every head a different random pattern, so a head drawn in another's place is seen."""
    w = np.random.default_rng(seed).random((n_layers, n_heads, n, n)).astype(np.float32)
    toks = [f"t{i}" for i in range(n)]
    return xr.DataArray(w, dims=("layer", "head", "query", "key"),
                        coords={"query_token": ("query", toks), "key_token": ("key", toks)})


CELLS = [(0, 0), (3, 7), (17, 41), (59, 2), (31, 31), (44, 58)]


# ------------------------------------------------------------------------------------------------- AttentionMap
def test_attention_map_page(file_page, tmp_path):
    """Three maps on one page: 60 tokens (pooled thumbnails, every head saved), 10 tokens (the thumbnails are the
    heads), and 60 tokens over a zero budget (only the head on show is saved)."""
    from playwright.sync_api import expect

    from workbench.widgets import AttentionMap
    from workbench.widgets.export import to_html

    page = file_page
    long, short, lean = attention(2, 3, 60, 0), attention(2, 2, 10, 1), attention(2, 3, 60, 2)
    ws = [AttentionMap(long, layer=1, head=1), AttentionMap(short), AttentionMap(lean, offline_budget=0)]
    assert ws[0]._offline["heads"] == "state" and ws[1]._offline["heads"] == "thumbnails"
    assert ws[2]._offline["heads"] == "kernel"
    path = to_html(ws, tmp_path / "attention.html", title="Attention")
    open_page(page, path, 3)

    wait_zoom(page, 0, 1, 1, "snapshot")
    check_head(page, 0, long.values[1, 1], CELLS)
    for layer, head in [(0, 2), (1, 0), (0, 0)]:  # each needed a get_head message before
        click_head(page, 0, layer, head)
        wait_zoom(page, 0, layer, head, "state")
        check_head(page, 0, long.values[layer, head], CELLS)
    expect(page.locator(widget(0, "canvas.wb-am-grid"))).to_have_attribute("data-selected", "0,0")

    click_head(page, 1, 1, 1)
    wait_zoom(page, 1, 1, 1, "state")
    check_head(page, 1, short.values[1, 1], [(q, k) for q in range(10) for k in range(10)])
    zoom = page.locator(widget(1, "canvas.wb-am-zoom"))
    cell = float(zoom.get_attribute("data-cell-px"))
    zoom.hover(position={"x": 4 * cell + cell / 2, "y": 7 * cell + cell / 2})
    value = weight_code(short.values[1, 1, 7, 4]) / 254
    expect(page.locator(widget(1, ".wb-am-tooltip"))).to_have_text(f'"t7" → "t4": {value:.3f}')

    # over budget: the saved head draws; another head needs a kernel and the page says so; the grid still moves
    note = page.locator(widget(2, ".wb-am-note"))
    wait_zoom(page, 2, 0, 0, "snapshot")
    check_head(page, 2, lean.values[0, 0], CELLS)
    expect(note).to_be_hidden()
    click_head(page, 2, 1, 2)
    expect(note).to_be_visible()
    expect(note).to_contain_text("Layer 1 · head 2 needs a live kernel")
    expect(note).to_contain_text("over the 0-byte offline budget")
    expect(page.locator(widget(2, "canvas.wb-am-grid"))).to_have_attribute("data-selected", "1,2")
    click_head(page, 2, 0, 0)  # back to the saved head: drawn again, the note gone
    wait_zoom(page, 2, 0, 0, "snapshot")
    check_head(page, 2, lean.values[0, 0], CELLS)
    expect(note).to_be_hidden()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "page_attention_map.png", full_page=True)
    assert_offline(page)


def test_long_input_page_says_what_needs_a_kernel(file_page, tmp_path):
    """3,000 tokens: one head is 9 MB, over the budget, so the page holds the kernel-pooled overview of the head on
    show; zooming in (full-resolution tiles) and another head need a kernel, and the page says both."""
    from playwright.sync_api import expect

    from workbench.widgets import AttentionMap
    from workbench.widgets.export import to_html

    page = file_page
    n = 3000
    w = AttentionMap(attention(1, 2, n, 4))
    assert w._offline["heads"] == "kernel" and w._head_meta["pool"] == [2, 2]
    open_page(page, to_html(w, tmp_path / "long.html"), 1)
    zoom = page.locator(widget(0, "canvas.wb-am-zoom"))
    wait_zoom(page, 0, 0, 0, "snapshot")
    expect(zoom).to_have_attribute("data-n-query", str(n))
    note = page.locator(widget(0, ".wb-am-note"))
    expect(note).to_be_hidden()
    zoom.focus()
    page.keyboard.press("+")
    expect(zoom).to_have_attribute("data-view", "750,2250,750,2250")  # the zoom itself works on the overview
    expect(note).to_be_visible()
    expect(note).to_contain_text("zooming into this long input at full resolution needs a live kernel")
    expect(note).to_contain_text("every head at full resolution is 18,000,000 bytes, over the 8,000,000-byte")
    click_head(page, 0, 0, 1)
    expect(note).to_contain_text("Layer 0 · head 1 needs a live kernel")
    assert_offline(page)


# ------------------------------------------------------------------------------------------- PopulationExplorer
def test_population_explorer_page(file_page, tmp_path):
    from playwright.sync_api import expect

    from test_population_explorer import make_population
    from test_population_explorer_lab import _isolated
    from workbench.widgets import PopulationExplorer
    from workbench.widgets.export import to_html

    page = file_page
    ds = make_population()
    ws = [PopulationExplorer(ds), PopulationExplorer(ds, offline_budget=0)]
    assert ws[0]._offline["maps"] == "state" and ws[1]._offline["maps"] == "kernel"
    path = to_html(ws, tmp_path / "population.html")
    open_page(page, path, 2)
    sc = page.locator(widget(0, "canvas.wb-pe-scatter"))
    expect(sc).to_have_attribute("data-points", str(ds.sizes["model"]))
    pos = {int(k): tuple(v) for k, v in json.loads(sc.get_attribute("data-pos")).items()}
    picks = _isolated(pos)[:2]
    assert len(picks) == 2, pos
    att = ds.example_attention.values
    right = page.locator(widget(0, ".wb-pe-right"))
    shown = (0, 0)  # the map's selected head; a model with fewer layers or heads clamps it, as the kernel does
    for m in picks:  # each click needed the kernel before
        sc.click(position=dict(zip("xy", pos[m])))
        expect(right).to_have_attribute("data-model", str(m))
        expect(right).to_have_attribute("data-map-from", "state")
        n_l, n_h = int(ds.n_layers[m]), int(ds.n_heads[m])
        n = len([t for t in ds.example_token.values[0] if t])
        layer, head = min(shown[0], n_l - 1), min(shown[1], n_h - 1)
        wait_zoom(page, 0, layer, head, "state", ".wb-pe-map ")
        cells = [(0, 0), (n - 1, 0), (n - 1, n - 1), (n // 2, 1)]
        check_head(page, 0, att[m, 0, layer, head], cells, ".wb-pe-map ")
        shown = (n_l - 1, 0) if shown[0] else (n_l - 1, n_h - 1)
        click_head(page, 0, *shown, ".wb-pe-map ")
        wait_zoom(page, 0, *shown, "state", ".wb-pe-map ")
        check_head(page, 0, att[m, 0, shown[0], shown[1]], cells, ".wb-pe-map ")
    # another example string: the map redraws with its tokens and weights
    page.locator(widget(0, "select.wb-pe-sample")).select_option("2")
    m = picks[-1]
    toks = [t for t in ds.example_token.values[2] if t]
    zoom = page.locator(widget(0, ".wb-pe-map canvas.wb-am-zoom"))
    expect(zoom).to_have_attribute("data-n-query", str(len(toks)))
    layer, head = (int(v) for v in zoom.evaluate("c => [c.dataset.layer, c.dataset.head]"))
    check_head(page, 0, att[m, 2, layer, head], [(0, 0), (len(toks) - 1, 0), (len(toks) - 1, len(toks) - 1)],
               ".wb-pe-map ")
    assert page.locator(widget(0, ".wb-pe-note")).is_hidden()

    # over budget: clicking a model says the map needs a kernel; filters still redraw the scatter
    twin = page.locator(widget(1, "canvas.wb-pe-scatter"))
    twin.click(position=dict(zip("xy", pos[picks[0]])))
    note = page.locator(widget(1, ".wb-pe-note"))
    expect(note).to_be_visible()
    expect(note).to_contain_text(f"model {ws[1].model_labels[picks[0]]} on example 0 needs a live kernel")
    expect(note).to_contain_text("over the 0-byte offline budget")
    assert page.locator(widget(1, ".wb-pe-map")).is_hidden()
    page.locator(widget(1, ".wb-pe-filter[data-name='n_layers'] input[value='1']")).uncheck()
    want = int(((ds.n_layers.values != 1)).sum())
    expect(twin).to_have_attribute("data-points", str(want))
    page.screenshot(path=SHOTS / "page_population_explorer.png", full_page=True)
    assert_offline(page)


# ------------------------------------------------------------------------------------------------ LatentDecoder
def _ld_cell(page, k: int, layer: int, col: int) -> list[int]:
    from test_latent_decoder_lab import _center

    geo = page.eval_on_selector(widget(k, ".wb-ld-stage"), "s => ({...s.dataset})")
    return canvas_pixel(page, widget(k, "canvas.wb-ld-cells"), *_center(geo, layer, col))


def _wait_problem(page, k: int, problem: int) -> None:
    stage = page.locator(widget(k, ".wb-ld-stage"))
    page.wait_for_function("([s, p]) => s.dataset.problem === String(p) && s.dataset.from === 'state'",
                           arg=[stage.element_handle(), problem], timeout=20_000)


def test_latent_decoder_page(file_page, tmp_path):
    from playwright.sync_api import expect

    from test_latent_decoder import make_latent
    from test_latent_decoder_lab import _viridis
    from workbench.widgets import LatentDecoder
    from workbench.widgets.export import to_html

    page = file_page
    ds = make_latent(8)
    ws = [LatentDecoder(ds), LatentDecoder(ds, offline_budget=0)]
    assert ws[0]._offline["problems"] == "state" and ws[1]._offline["problems"] == "kernel"
    path = to_html(ws, tmp_path / "latent.html")
    open_page(page, path, 2)
    top1 = ds.prob.isel(rank=0).transpose("problem", "layer", "latent").values
    for problem in (0, 5, 2):  # each needed the kernel before
        if problem:
            page.locator(widget(0, "select.wb-ld-problem")).select_option(str(problem))
        _wait_problem(page, 0, problem)
        for layer, col in [(0, 0), (3, 1), (2, 4), (1, 5)]:
            assert _ld_cell(page, 0, layer, col) == _viridis(float(top1[problem, layer, col])), (problem, layer, col)
    # a filter runs in the page, as the kernel would run it, and moves off a problem it hides
    page.locator(widget(0, "select.wb-ld-filter-correct")).select_option("incorrect")
    vis = ws[0].visible("incorrect")
    picker = page.locator(widget(0, ".wb-ld-picker"))
    expect(picker).to_have_attribute("data-visible", ",".join(map(str, vis)))
    if 2 not in vis:
        _wait_problem(page, 0, vis[0])

    # over budget: the saved problem draws; another one says it needs a kernel
    twin = page.locator(widget(1, ".wb-ld-stage"))
    expect(twin).to_have_attribute("data-problem", "0")
    page.locator(widget(1, "select.wb-ld-problem")).select_option("3")
    note = page.locator(widget(1, ".wb-ld-kernelnote"))
    expect(note).to_be_visible()
    expect(note).to_contain_text("Problem 3 needs a live kernel")
    page.locator(widget(1, "select.wb-ld-problem")).select_option("0")
    expect(note).to_be_hidden()
    page.screenshot(path=SHOTS / "page_latent_decoder.png", full_page=True)
    assert_offline(page)


# ------------------------------------------------------------------------------ GraphReorganization, LossClusters
def test_graph_reorganization_page(file_page, tmp_path):
    from playwright.sync_api import expect

    import workbench as wb
    from test_graph_reorganization_lab import check_points
    from workbench.studies.incontext import shipped_path
    from workbench.widgets.export import to_html

    page = file_page
    ds = wb.load(shipped_path("gemma3_grid"))
    rows = [int(r) for r in ds.row.values]
    T = int(ds.context.values[-1])
    path = to_html([wb.GraphReorganization(ds), wb.GraphReorganization(ds, offline_budget=0)], tmp_path / "gr.html")
    open_page(page, path, 2)
    page.wait_for_function("() => document.querySelectorAll(\".wb-gr[data-ready='1']\").length === 2")
    scatter = widget(0, "canvas.wb-gr-scatter")
    check_points(page, ds.pca.sel(layer=int(ds.attrs["picked_layer"]), context=T).values[:, :2].astype(float), rows,
                 scatter)
    for layer in (9, 3):  # another layer needed the kernel before
        page.locator(widget(0, "select.wb-gr-layer")).select_option(str(layer))
        expect(page.locator(widget(0, ".wb-gr"))).to_have_attribute("data-layer", str(layer))
        check_points(page, ds.pca.sel(layer=layer, context=T).values[:, :2].astype(float), rows, scatter)
    page.locator(widget(1, "select.wb-gr-layer")).select_option("9")
    expect(page.locator(widget(1, ".wb-gr-note"))).to_contain_text("needs a live kernel")
    assert_offline(page)


def test_loss_clusters_page(file_page, tmp_path):
    from playwright.sync_api import expect

    from polca_data import make_polca
    from test_loss_clusters_lab import check_band
    from workbench.widgets import LossClusters
    from workbench.widgets.export import to_html

    page = file_page
    ds = make_polca()
    ws = [LossClusters(ds), LossClusters(ds, offline_budget=0)]
    assert ws[0]._offline["vectors"] == "state" and ws[1]._offline["vectors"] == "kernel"
    path = to_html(ws, tmp_path / "lc.html")
    open_page(page, path, 2)
    late = [int(np.searchsorted(ds.step.values, s)) for s in (800, 960)]
    for b in (0, 1):  # another vector needed the kernel when over budget
        if b:
            page.locator(widget(0, ".wb-lc-row[data-basis='1']")).click()
        expect(page.locator(widget(0, ".wb-lc-stage"))).to_have_attribute("data-basis", str(b))
        for c in range(int(ds.cluster.values[b].max()) + 1):
            check_band(page, ds, b, c, late)
    # over budget: the saved vector draws, another one says it needs a kernel
    note = page.locator(widget(1, ".wb-lc-kernelnote"))
    expect(page.locator(widget(1, ".wb-lc-stage"))).to_have_attribute("data-basis", "0")
    expect(note).to_be_hidden()
    page.locator(widget(1, ".wb-lc-row[data-basis='1']")).click()
    expect(note).to_be_visible()
    expect(note).to_contain_text("Vector #1 needs a live kernel")
    expect(note).to_contain_text("over the 0-byte offline budget")
    assert_offline(page)
