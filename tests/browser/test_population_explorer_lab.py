"""PopulationExplorer in real JupyterLab + headless Chromium on a synthetic population that follows the data model
(tests/test_population_explorer.py::make_population, built identically here and in the kernel): points drawn (pixel
colours), a click on a point reaches the kernel's `selected` and opens that model's attention map (its thumbnails,
head pixels = that model's example_attention, depth strip, score badges), a filter checkbox changes the drawn point
count to what PopulationExplorer.visible() says, and the example dropdown switches the map's string."""

from __future__ import annotations

import os
import shutil
import sys
import time

import numpy as np
import pytest

from wb_lab import (
    DOCS,
    ROOT,
    SHOTS,
    TIMINGS,
    assert_no_external_requests,
    canvas_pixel,
    kernel_eval,
    open_and_run_all,
    viridis,
    weight_code,
    write_notebook,
)

pytestmark = pytest.mark.browser

NB = "population.ipynb"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c"]  # first colours of the categorical palette (n_layers 1, 2, 3)


def _population():
    sys.path.insert(0, str(ROOT / "tests"))
    from test_population_explorer import make_population

    return make_population()


def _rgb(hex_: str) -> list[int]:
    return [int(hex_[i:i + 2], 16) for i in (1, 3, 5)]


def _positions(page) -> dict[int, tuple[float, float]]:
    import json

    pos = json.loads(page.locator("canvas.wb-pe-scatter").get_attribute("data-pos"))
    return {int(k): tuple(v) for k, v in pos.items()}


def _isolated(pos: dict, min_gap: float = 12.0) -> list[int]:
    """Models whose point no other point overlaps."""
    out = []
    for i, (x, y) in pos.items():
        if all((x - a) ** 2 + (y - b) ** 2 > min_gap ** 2 for j, (a, b) in pos.items() if j != i):
            out.append(i)
    return out


def test_population_explorer_in_jupyterlab(lab, page):
    from playwright.sync_api import expect

    t0 = time.perf_counter()
    page.set_viewport_size({"width": 1500, "height": 1500})  # the whole explorer on screen (for the screenshot)
    ds = _population()
    n_models = ds.sizes["model"]
    write_notebook(lab["root"] / NB, [
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from test_population_explorer import make_population\n"
        "from workbench.widgets import PopulationExplorer\n"
        "ds = make_population()\nw = PopulationExplorer(ds)\nw",
    ])
    open_and_run_all(page, lab, NB)
    sc = page.locator("canvas.wb-pe-scatter")
    expect(sc).to_have_attribute("data-points", str(n_models))
    TIMINGS["explorer_render_s"] = time.perf_counter() - t0

    # every isolated point is drawn in its n_layers colour (alpha 0.85 over a transparent canvas)
    pos = _positions(page)
    iso = _isolated(pos)
    assert len(iso) >= 3, pos
    for i in iso:
        x, y = pos[i]
        r, g, b, a = canvas_pixel(page, "canvas.wb-pe-scatter", x, y)
        want = _rgb(PALETTE[int(ds.n_layers[i]) - 1])
        assert 200 <= a <= 230 and max(abs(r - want[0]), abs(g - want[1]), abs(b - want[2])) <= 3, (i, [r, g, b, a])
    # an empty spot of the plot area stays transparent
    assert canvas_pixel(page, "canvas.wb-pe-scatter", 2, 2)[3] == 0

    # click an isolated 2-layer model: the kernel's `selected` follows and the map shows that model's attention
    m = next(i for i in iso if int(ds.n_layers[i]) == 2)
    t_click = time.perf_counter()
    sc.click(position=dict(zip("xy", pos[m])))
    page.wait_for_function(f"() => document.querySelector('.wb-pe-right').dataset.model === '{m}'")
    assert kernel_eval(lab, NB, "w.selected") == str(m)
    zoom = page.locator(".wb-pe canvas.wb-am-zoom")
    toks = [t for t in ds.example_token.values[0] if t]
    n = len(toks)
    expect(zoom).to_have_attribute("data-n-query", str(n))
    TIMINGS["explorer_click_to_map_s"] = time.perf_counter() - t_click
    grid = page.locator(".wb-pe canvas.wb-am-grid")
    n_h = int(ds.n_heads[m])
    expect(grid).to_have_attribute("data-n-layers", "2")
    expect(grid).to_have_attribute("data-n-heads", str(n_h))
    att = ds.example_attention.values[m, 0]
    cell = float(zoom.get_attribute("data-cell-px"))
    for q, k in [(0, 0), (3, 1), (n - 1, 2), (n - 1, n - 1)]:
        got = canvas_pixel(page, ".wb-pe canvas.wb-am-zoom", k * cell + cell / 2, q * cell + cell / 2)
        assert got == viridis(weight_code(att[0, 0, q, k])), (q, k, got)
    # another head of this model (from the saved maps: offline mode; test_offline_budget_lab.py checks the kernel path)
    gx = float(grid.get_attribute("data-x0")) + (n_h - 1) * (float(grid.get_attribute("data-thumb-px")) + 3) + 10
    gy = float(grid.get_attribute("data-y0")) + float(grid.get_attribute("data-thumb-px")) + 3 + 10
    grid.click(position={"x": gx, "y": gy})
    page.wait_for_function(f"() => {{ const c = document.querySelector('.wb-pe canvas.wb-am-zoom');"
                           f" return c.dataset.layer === '1' && c.dataset.head === '{n_h - 1}'; }}")
    assert kernel_eval(lab, NB, "w.map_layer, w.map_head") == f"(1, {n_h - 1})"
    q, k = n - 2, 1
    got = canvas_pixel(page, ".wb-pe canvas.wb-am-zoom", k * cell + cell / 2, q * cell + cell / 2)
    assert got == viridis(weight_code(att[1, n_h - 1, q, k]))

    # depth strip: one strip; a token with depth != 0 has an opaque bar, the [start] token (depth 0) none
    strip = page.locator(".wb-pe canvas.wb-am-strip")
    expect(strip).to_have_attribute("data-rows", "1")
    depth = ds.example_depth.values[0, :n]
    scell = float(strip.get_attribute("data-cell-px"))
    k_pos = int(np.argmax(depth))  # deepest token: bar from the zero line to the top
    assert canvas_pixel(page, ".wb-pe canvas.wb-am-strip", k_pos * scell + scell / 2, 4)[3] == 255
    assert canvas_pixel(page, ".wb-pe canvas.wb-am-strip", 0 * scell + scell / 2, 4)[3] == 0
    expect(page.locator(".wb-pe .wb-am-striplabel")).to_have_text("depth")
    # score badges: one on each thumbnail (white corner), and the zoom title lists the head's four scores
    expect(grid).to_have_attribute("data-badges", str(2 * n_h))
    px = float(grid.get_attribute("data-thumb-px"))
    bx = float(grid.get_attribute("data-x0")) + px - 1
    by = float(grid.get_attribute("data-y0")) + px - 1
    assert canvas_pixel(page, ".wb-pe canvas.wb-am-grid", bx, by) == [255, 255, 255, 255]
    expect(page.locator(".wb-pe .wb-am-badge")).to_have_count(4)
    best = float(np.nanmax(ds.head_score.values[m, 0, 1, n_h - 1]))
    assert f"{best:.2f}" in page.locator(".wb-pe .wb-am-zoomtitle").text_content()

    # hover on a point: its hyperparameters, accuracies and top head
    x, y = pos[m]
    sc.hover(position={"x": x, "y": y})
    tip = page.locator(".wb-pe-tooltip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(f"n_layers=2 n_heads={n_h}")
    expect(tip).to_contain_text(f"ood_accuracy {float(ds.ood_accuracy[m]):.3f}")
    expect(tip).to_contain_text(kernel_eval(lab, NB, f"w.top_heads[{m}]").strip("'"))

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "population_explorer.png"
    page.mouse.move(0, 0)
    page.locator(".wb-pe").screenshot(path=shot)
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOT") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS / "population_explorer.png")

    # filtering: untick n_layers = 1 -> fewer points, exactly PopulationExplorer.visible()
    page.locator(".wb-pe-filter[data-name='n_layers'] input[value='1']").uncheck()
    want = int((ds.n_layers.values != 1).sum())
    expect(sc).to_have_attribute("data-points", str(want))
    assert kernel_eval(lab, NB, "int(w.visible().sum()), w.filters") == f"({want}, {{'n_layers': [2, 3]}})"
    # "has head type": hierarchical >= 0.9, set in the browser; the count matches the kernel's mask
    page.locator("select.wb-pe-hashead").select_option("hierarchical")
    page.locator("input.wb-pe-threshold").fill("0.9")
    page.locator("input.wb-pe-threshold").dispatch_event("change")
    page.wait_for_function("() => document.querySelector('.wb-pe-left').textContent.length > 0")
    expect(page.locator(".wb-pe-status")).to_contain_text("models shown")
    page.wait_for_timeout(300)
    n_kernel = int(kernel_eval(lab, NB, "w.has_head == 'hierarchical' and w.threshold == 0.9 and int(w.visible().sum())"))
    hs = ds.head_score.values[:, 0, :, :, 3]
    want2 = sum(int(ds.n_layers[i]) != 1 and np.nanmax(hs[i]) >= 0.9 for i in range(n_models))
    assert n_kernel == want2 < want
    expect(sc).to_have_attribute("data-points", str(want2))

    # the example dropdown switches the map to another string of the same model
    page.locator("select.wb-pe-sample").select_option("2")
    toks2 = [t for t in ds.example_token.values[2] if t]
    expect(zoom).to_have_attribute("data-n-query", str(len(toks2)))
    assert kernel_eval(lab, NB, "w.sample, w.map_query_tokens == " + repr(toks2)) == "(2, True)"

    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-" in e or "explorer" in e.lower()], page.console_errors
    TIMINGS["explorer_test_s"] = time.perf_counter() - t0
