"""The grown AttentionMap in real JupyterLab + headless Chromium at 4,096 tokens: the pooled overview renders,
drag-select / + button / keys zoom in, a get_tile request reaches the kernel and the tile's pixels equal the data at
token resolution, hover reads token-level values, the depth strip and the head-score badges are drawn."""

from __future__ import annotations

import time

import numpy as np
import pytest

from wb_lab import (
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

N = 4096
NB = "long4096.ipynb"
# Deterministic data, built in the kernel and here: a diagonal, a patterned block near (1000, 1000), depth = a
# bracket walk, and a score per head.
DATA = f'''
import numpy as np, xarray as xr
N = {N}
def make_long():
    w = np.zeros((1, 2, N, N), np.float32)
    idx = np.arange(N)
    w[0, :, idx, idx] = 1.0
    q, k = np.meshgrid(np.arange(1000, 1064), np.arange(1000, 1064), indexing="ij")
    w[0, 0, 1000:1064, 1000:1064] = ((q * 7 + k * 3) % 11) / 10.0
    steps = np.where(np.sin(idx / 37.0) > 0, 1, -1)
    depth = np.cumsum(steps)
    toks = [("(" if s > 0 else ")") + str(i) for i, s in enumerate(steps)]
    da = xr.DataArray(w, dims=("layer", "head", "query", "key"),
                      coords={{"query_token": ("query", toks), "key_token": ("key", toks), "depth": ("query", depth)}})
    scores = xr.DataArray(np.array([[0.93, 0.12]]), dims=("layer", "head"), name="hierarchical")
    return da, scores
'''


def _expected():
    ns: dict = {}
    exec(DATA, ns)
    return ns["make_long"]()


def _view(page) -> list[int]:
    return [int(v) for v in page.locator("canvas.wb-am-zoom").get_attribute("data-view").split(",")]


def _pixel_of_token(page, q: int, k: int) -> list[int]:
    q0, _, k0, _ = _view(page)
    z = page.locator("canvas.wb-am-zoom")
    ck, cq = float(z.get_attribute("data-cell-px")), float(z.get_attribute("data-cell-px-q"))
    return canvas_pixel(page, "canvas.wb-am-zoom", (k - k0) * ck + ck / 2, (q - q0) * cq + cq / 2)


def test_attention_map_4096_tokens_zoom_tiles_strip_badges(lab, page):
    from playwright.sync_api import expect

    da, scores = _expected()
    w = da.values[0, 0]
    write_notebook(lab["root"] / NB, [DATA + "\nfrom workbench.widgets import AttentionMap\nda, scores = make_long()\n"
                                      "m = AttentionMap(da, head_scores=scores)\nm"])
    t0 = time.perf_counter()
    open_and_run_all(page, lab, NB)
    zoom = page.locator("canvas.wb-am-zoom")
    expect(zoom).to_have_attribute("data-n-query", str(N))
    expect(zoom).to_have_attribute("data-data-source", "overview")
    TIMINGS["render_4096_s (open notebook to drawn)"] = time.perf_counter() - t0
    assert int(zoom.get_attribute("data-pool")) >= 2  # overview: kernel-pooled, then fitted to the canvas
    assert _view(page) == [0, N, 0, N]
    # the pooled diagonal is drawn (top colour), the far corner is weight 0
    assert canvas_pixel(page, "canvas.wb-am-zoom", 1, 1) == viridis(254)
    wpx = int(zoom.get_attribute("width"))
    assert canvas_pixel(page, "canvas.wb-am-zoom", wpx - 2, 2) == viridis(0)

    # badges: on both thumbnails, and the zoom title shows the selected head's score
    grid = page.locator("canvas.wb-am-grid")
    expect(grid).to_have_attribute("data-badges", "2")
    expect(page.locator(".wb-am-zoomtitle .wb-am-badge")).to_have_text("hierarchical 0.93")
    # depth strip: one strip spanning the key axis; a deep token has a bar above the zero line
    strip = page.locator("canvas.wb-am-strip")
    expect(strip).to_have_attribute("data-rows", "1")
    expect(page.locator(".wb-am-striplabel")).to_have_text("depth")
    assert page.eval_on_selector("canvas.wb-am-strip", """c => { const d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
        return n; }""") > 100

    # drag-select a rectangle around the patterned block -> a tile is requested and drawn at full resolution
    cell = float(zoom.get_attribute("data-cell-px"))
    box = zoom.bounding_box()
    x0, y0 = box["x"] + 1 + 990 * cell, box["y"] + 1 + 990 * cell
    x1, y1 = box["x"] + 1 + 1080 * cell, box["y"] + 1 + 1080 * cell
    t1 = time.perf_counter()
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
    page.mouse.move(x1, y1)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('canvas.wb-am-zoom').dataset.dataSource === 'tile'")
    TIMINGS["zoom_to_tile_drawn_4096_s"] = time.perf_counter() - t1
    q0, q1, k0, k1 = _view(page)
    assert q0 <= 1000 and q1 >= 1064 and k0 <= 1000 and k1 >= 1064 and q1 - q0 < 200, (q0, q1, k0, k1)
    assert zoom.get_attribute("data-tile-pool") == "1" and int(zoom.get_attribute("data-tile-requests")) >= 1
    for q, k in [(1000, 1000), (1003, 1010), (1063, 1001), (1030, 1030), (q0 + 2, k1 - 3)]:
        assert _pixel_of_token(page, q, k) == viridis(weight_code(w[q, k])), (q, k)
    # hover reads the token-level value (no "max of" note)
    q, k = 1005, 1012
    ck, cq = float(zoom.get_attribute("data-cell-px")), float(zoom.get_attribute("data-cell-px-q"))
    zoom.hover(position={"x": (k - k0) * ck + ck / 2, "y": (q - q0) * cq + cq / 2})
    tok = da.coords["query_token"].values
    value = weight_code(w[q, k]) / 254
    expect(page.locator(".wb-am-tooltip")).to_have_text(f'"{tok[q]}" → "{tok[k]}": {value:.3f}')

    # keys: 0 = whole head (overview again); + twice zooms around the centre and fetches a new tile
    zoom.focus()
    page.keyboard.press("0")
    expect(zoom).to_have_attribute("data-view", f"0,{N},0,{N}")
    expect(zoom).to_have_attribute("data-data-source", "overview")
    page.locator(".wb-am-zoomin").click()  # the button, then the keys (focus back on the head)
    expect(zoom).to_have_attribute("data-view", "1024,3072,1024,3072")
    zoom.focus()
    page.keyboard.press("+")
    page.keyboard.press("+")
    expect(zoom).to_have_attribute("data-view", "1792,2304,1792,2304")  # each step halves the span about the centre
    expect(zoom).to_have_attribute("data-data-source", "tile")
    q0, q1, k0, k1 = _view(page)
    for t in (q0 + 1, (q0 + q1) // 2, q1 - 2):  # the diagonal, drawn from the tile
        assert _pixel_of_token(page, t, t) == viridis(254), t
    page.keyboard.press("ArrowRight")  # pan: a quarter of the view, then a new tile
    expect(zoom).to_have_attribute("data-view", f"{q0},{q1},{k0 + N // 32},{k1 + N // 32}")
    expect(zoom).to_have_attribute("data-data-source", "tile")
    assert int(kernel_eval(lab, NB, "m.layer")) == 0  # keys on the head never moved the grid selection
    page.locator(".wb-am").screenshot(path=SHOTS / "attention_map_4096_zoom.png")
    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-am" in e or "attention" in e.lower()], page.console_errors
