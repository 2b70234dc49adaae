"""AttentionMap in real JupyterLab + headless Chromium: grid and zoom render (real pixels), hover read-out,
click / keyboard selection reaching the kernel, Python-side selection redrawing, a 2,048-token prompt, and no
request leaving the machine."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

from wb_lab import (
    DOCS,
    SHOTS,
    TIMINGS,
    assert_no_external_requests,
    canvas_pixel,
    kernel_eval,
    open_and_run_all,
    write_notebook,
)

pytestmark = pytest.mark.browser

# Deterministic data, run both in the notebook's kernel and here (to compute the expected read-outs).
DATA = '''
import numpy as np, xarray as xr
TOKENS = ["The", "cat", "sat", "on", "the", "mat", ",", "then", "it", "slept", ".", "<eos>"]
def make_attention(n_layers=2, n_heads=3, tokens=TOKENS, seed=0):
    n = len(tokens)
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n_layers, n_heads, n, n)) * 2
    s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True)); w /= w.sum(-1, keepdims=True)
    if n_layers > 1 and n_heads > 2:
        w[1, 2] = np.eye(n)                               # head (1, 2): attends to itself
        w[1, 0][np.triu(np.ones((n, n), bool), 1)] = np.nan  # head (1, 0): masked future is NaN
    return xr.DataArray(w.astype(np.float32), dims=("layer", "head", "query", "key"),
                        coords={"layer": np.arange(n_layers), "head": np.arange(n_heads),
                                "query_token": ("query", list(tokens)), "key_token": ("key", list(tokens))},
                        attrs={"model": "synthetic"})
'''
NB = "attention_map.ipynb"
N = 12
TOP = [253, 231, 37, 255]  # colour of weight 1.0 (viridis top)
BOTTOM = [68, 1, 84, 255]  # colour of weight 0.0


VIRIDIS = [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
           (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)]


def _viridis(code: int) -> list[int]:
    """The documented colour scale: code 0..254 linearly through 10 viridis stops, opaque."""
    t = code / 254 * 9
    i = min(8, int(t))
    f = t - i
    return [int(np.floor(a + f * (b - a) + 0.5)) for a, b in zip(VIRIDIS[i], VIRIDIS[i + 1])] + [255]


def _expected():
    ns: dict = {}
    exec(DATA, ns)
    return ns["make_attention"]().values, ns["TOKENS"]


def _zoom_attr(page, name: str) -> str | None:
    return page.locator("canvas.wb-am-zoom").get_attribute(name)


def _wait_zoom(page, layer: int, head: int, timeout_ms: float = 30_000) -> None:
    try:
        page.wait_for_function(
            "([l, h]) => { const c = document.querySelector('canvas.wb-am-zoom');"
            " return c && c.dataset.layer === String(l) && c.dataset.head === String(h); }",
            arg=[layer, head], timeout=timeout_ms)
    except Exception as e:
        state = page.evaluate("() => ({grid: {...document.querySelector('canvas.wb-am-grid').dataset},"
                              " zoom: {...document.querySelector('canvas.wb-am-zoom').dataset},"
                              " status: document.querySelector('.wb-am-status').textContent})")
        raise AssertionError(f"zoom never showed ({layer}, {head}): {state}; console: {page.console_errors}") from e


def _cell_center(page, q: int, k: int) -> tuple[float, float]:
    cell = float(_zoom_attr(page, "data-cell-px"))
    return k * cell + cell / 2, q * cell + cell / 2


def _thumb_center(page, layer: int, head: int) -> tuple[float, float]:
    g = page.locator("canvas.wb-am-grid")
    px, gap = float(g.get_attribute("data-thumb-px")), float(g.get_attribute("data-gap"))
    x0, y0 = float(g.get_attribute("data-x0")), float(g.get_attribute("data-y0"))
    return x0 + head * (px + gap) + px / 2, y0 + layer * (px + gap) + px / 2


def _label_ink(page) -> float:
    """Mean grey level of the drawn (opaque) text pixels on the query-label canvas."""
    return page.eval_on_selector("canvas.wb-am-qlabels", """c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let sum = 0, n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200) { sum += (d[i] + d[i + 1] + d[i + 2]) / 3; n++; }
        return n ? sum / n : -1; }""")


def test_attention_map_in_jupyterlab(lab, page):
    from playwright.sync_api import expect

    t_start = time.perf_counter()
    weights, tokens = _expected()
    write_notebook(lab["root"] / NB, [
        DATA + "\nfrom workbench.widgets import AttentionMap\nw = AttentionMap(make_attention())\nw",
    ])
    open_and_run_all(page, lab, NB)

    grid, zoom = page.locator("canvas.wb-am-grid"), page.locator("canvas.wb-am-zoom")
    expect(grid).to_have_attribute("data-selected", "0,0")
    expect(grid).to_have_attribute("data-n-layers", "2")
    expect(grid).to_have_attribute("data-n-heads", "3")
    expect(zoom).to_have_attribute("data-n-query", str(N))
    expect(zoom).to_have_attribute("data-source", "snapshot")
    TIMINGS["small_render_s"] = time.perf_counter() - t_start

    # thumbnails: head (1, 2) is the identity -> its top-left cell is the top colour, the one right of it the bottom
    px = float(grid.get_attribute("data-thumb-px"))
    cx, cy = _thumb_center(page, 1, 2)
    x_first, y_first = cx - px / 2 + px / N / 2, cy - px / 2 + px / N / 2
    assert canvas_pixel(page, "canvas.wb-am-grid", x_first, y_first) == TOP
    assert canvas_pixel(page, "canvas.wb-am-grid", x_first + px / N, y_first) == BOTTOM

    # zoomed head (0, 0): every cell's pixel is the colour of its quantised weight; upper triangle is weight 0
    for q, k in [(0, 0), (5, 2), (11, 7)]:
        x, y = _cell_center(page, q, k)
        code = int(np.floor(weights[0, 0, q, k] * 254 + 0.5))
        got = canvas_pixel(page, "canvas.wb-am-zoom", x, y)
        assert got == _viridis(code), (q, k, code, got)
    x, y = _cell_center(page, 2, 9)
    assert canvas_pixel(page, "canvas.wb-am-zoom", x, y) == BOTTOM

    # hover read-out: query token -> key token: weight (quantised to 1/254, printed with 3 decimals)
    q, k = 5, 2
    x, y = _cell_center(page, q, k)
    zoom.hover(position={"x": x, "y": y})
    tip = page.locator(".wb-am-tooltip")
    value = np.floor(weights[0, 0, q, k] * 254 + 0.5) / 254
    expect(tip).to_be_visible()
    expect(tip).to_have_text(f'"{tokens[q]}" → "{tokens[k]}": {value:.3f}')

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "attention_map.png"
    page.locator(".wb-am").screenshot(path=shot)
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOT") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS / "attention_map.png")

    # keyboard: focus the grid, ArrowDown -> (1, 0); the unpooled thumbnails already hold every head at full
    # resolution (offline mode), so it is drawn from the synced state; NaN cells transparent
    grid.focus()
    page.keyboard.press("ArrowDown")
    _wait_zoom(page, 1, 0)
    expect(zoom).to_have_attribute("data-source", "state")
    x, y = _cell_center(page, 0, 5)  # future position: NaN
    assert canvas_pixel(page, "canvas.wb-am-zoom", x, y)[3] == 0
    x, y = _cell_center(page, 5, 0)
    assert canvas_pixel(page, "canvas.wb-am-zoom", x, y)[3] == 255
    assert kernel_eval(lab, NB, "w.layer, w.head") == "(1, 0)"

    # click thumbnail (1, 2): Python sees it; the zoom shows a bright diagonal on a dark background
    t_click = time.perf_counter()
    cx, cy = _thumb_center(page, 1, 2)
    grid.click(position={"x": cx, "y": cy})
    _wait_zoom(page, 1, 2)
    TIMINGS["click_to_zoom_redraw_s"] = time.perf_counter() - t_click
    expect(grid).to_have_attribute("data-selected", "1,2")
    for i in range(N):
        x, y = _cell_center(page, i, i)
        assert canvas_pixel(page, "canvas.wb-am-zoom", x, y) == TOP, i
        x, y = _cell_center(page, i, (i + 5) % N)
        assert canvas_pixel(page, "canvas.wb-am-zoom", x, y) == BOTTOM, i
    assert kernel_eval(lab, NB, "w.layer, w.head") == "(1, 2)"
    zoom.hover(position=dict(zip("xy", _cell_center(page, 3, 3))))
    expect(page.locator(".wb-am-tooltip")).to_have_text('"on" → "on": 1.000')

    # Python-side selection redraws the front end
    kernel_eval(lab, NB, "w.layer, w.head = 0, 1")
    _wait_zoom(page, 0, 1)
    expect(grid).to_have_attribute("data-selected", "0,1")

    # light -> dark theme: token labels are redrawn in the theme's font colour (light text on dark)
    assert _label_ink(page) < 100
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_function("() => { const c = document.querySelector('canvas.wb-am-qlabels');"
                           " return c && getComputedStyle(c).getPropertyValue('--jp-ui-font-color1').includes('255'); }")
    page.wait_for_timeout(300)  # the MutationObserver redraw runs right after the attribute flip
    assert _label_ink(page) > 150
    page.locator(".wb-am").screenshot(path=SHOTS / "attention_map_dark.png")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")

    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-am" in e or "attention" in e.lower()], page.console_errors
    TIMINGS["lab_test_s"] = time.perf_counter() - t_start


def test_attention_map_2048_tokens(lab, page):
    from playwright.sync_api import expect

    n = 2048
    write_notebook(lab["root"] / "long.ipynb", [
        DATA + f"\nfrom workbench.widgets import AttentionMap\n"
        f"toks = [f't{{i}}' for i in range({n})]\nda = make_attention(1, 2, toks)\n"
        "import time; t0 = time.perf_counter(); w = AttentionMap(da); kernel_s = time.perf_counter() - t0\nw",
    ])
    t0 = time.perf_counter()
    open_and_run_all(page, lab, "long.ipynb")
    zoom = page.locator("canvas.wb-am-zoom")
    expect(zoom).to_have_attribute("data-n-query", str(n))
    expect(zoom).to_have_attribute("data-n-key", str(n))
    TIMINGS["render_2048_s (open notebook to drawn)"] = time.perf_counter() - t0
    TIMINGS["kernel_build_2048_s"] = float(kernel_eval(lab, "long.ipynb", "kernel_s"))
    assert zoom.get_attribute("data-pool") == "5"  # 2,048 tokens max-pooled to <= 480 px on the client
    # second head fetched on demand (4 MiB message) and drawn
    t1 = time.perf_counter()
    kernel_eval(lab, "long.ipynb", "w.head = 1")
    _wait_zoom(page, 0, 1)
    TIMINGS["fetch_and_draw_2048_head_s"] = time.perf_counter() - t1
    expect(zoom).to_have_attribute("data-source", "kernel")
    # the diagonal of a causal softmax is never masked: its pixels are opaque; the far upper corner is weight 0
    assert canvas_pixel(page, "canvas.wb-am-zoom", 2, 2)[3] == 255
    w_px = int(zoom.get_attribute("width"))
    assert canvas_pixel(page, "canvas.wb-am-zoom", w_px - 2, 2) == BOTTOM
    page.locator(".wb-am").screenshot(path=SHOTS / "attention_map_2048.png")
    assert_no_external_requests(page)
