"""A 32,768-token AttentionMap in real JupyterLab + headless Chromium: a float16 map (2 GiB, the dtype that makes 32k
fit in memory; float32 would be 4 GiB a head) opens as a kernel-pooled overview and thumbnail, and zooming fetches
tiles from the kernel whose pixels equal the data: pooled 8x for half the head, full resolution for a dragged
rectangle, token-level values on hover."""

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

N = 32768
B0 = 20000  # the patterned block covers queries and keys B0 .. B0 + 63
NB = "long32k.ipynb"
# Built in the kernel; the test computes every value it checks from `value()` below, never from a 2 GiB copy.
DATA = f'''
import time
import numpy as np, xarray as xr
N, B0 = {N}, {B0}
def make_32k():
    w = np.zeros((1, 1, N, N), np.float16)
    idx = np.arange(N)
    w[0, 0, idx, idx] = 1.0                                     # every token attends to itself ...
    w[0, 0, idx[1:], idx[:-1]] = 0.25                           # ... and a little to the previous one
    q, k = np.meshgrid(np.arange(B0, B0 + 64), np.arange(B0, B0 + 64), indexing="ij")
    w[0, 0, B0:B0 + 64, B0:B0 + 64] = ((q * 7 + k * 3) % 11) / 10.0
    toks = [f"w{{i}}" for i in range(N)]
    return xr.DataArray(w, dims=("layer", "head", "query", "key"),
                        coords={{"query_token": ("query", toks), "key_token": ("key", toks)}})
'''


def value(q: int, k: int) -> float:
    """The weight the kernel stored at (q, k), as float16 like the map."""
    if B0 <= q < B0 + 64 and B0 <= k < B0 + 64:
        v = ((q * 7 + k * 3) % 11) / 10.0
    elif q == k:
        v = 1.0
    elif k == q - 1:
        v = 0.25
    else:
        v = 0.0
    return float(np.float16(v))


def _view(page) -> list[int]:
    return [int(v) for v in page.locator("canvas.wb-am-zoom").get_attribute("data-view").split(",")]


def _pixel_of_token(page, q: int, k: int) -> list[int]:
    q0, _, k0, _ = _view(page)
    z = page.locator("canvas.wb-am-zoom")
    ck, cq = float(z.get_attribute("data-cell-px")), float(z.get_attribute("data-cell-px-q"))
    return canvas_pixel(page, "canvas.wb-am-zoom", (k - k0) * ck + ck / 2, (q - q0) * cq + cq / 2)


def _drag(page, a: float, b: float) -> None:
    """Drag-select on the zoomed head from canvas pixel (a, a) to (b, b): a square of the diagonal."""
    box = page.locator("canvas.wb-am-zoom").bounding_box()
    x, y = box["x"] + 1, box["y"] + 1  # inside the canvas's 1-px border
    page.mouse.move(x + a, y + a)
    page.mouse.down()
    page.mouse.move(x + (a + b) / 2, y + (a + b) / 2)
    page.mouse.move(x + b, y + b)
    page.mouse.up()


def test_attention_map_32768_tokens_opens_and_zooms_through_tiles(lab, page):
    from playwright.sync_api import expect

    write_notebook(lab["root"] / NB, [DATA + "\nfrom workbench.widgets import AttentionMap\nda = make_32k()\n"
                                      "t0 = time.perf_counter()\nm = AttentionMap(da)\n"
                                      "kernel_s = time.perf_counter() - t0\nm"])
    t0 = time.perf_counter()
    open_and_run_all(page, lab, NB)
    zoom = page.locator("canvas.wb-am-zoom")
    expect(zoom).to_have_attribute("data-n-query", str(N), timeout=300_000)  # building 2 GiB takes a while
    TIMINGS["render_32k_s (open notebook to drawn)"] = time.perf_counter() - t0
    TIMINGS["kernel_build_32k_s"] = float(kernel_eval(lab, NB, "kernel_s"))
    assert kernel_eval(lab, NB, "str(da.dtype), da.nbytes") == "('float16', 2147483648)"
    expect(zoom).to_have_attribute("data-data-source", "overview")
    assert int(zoom.get_attribute("data-pool")) >= 12 and _view(page) == [0, N, 0, N]
    # the pooled diagonal is drawn in the top colour, the far corner is weight 0
    wpx = int(zoom.get_attribute("width"))
    assert wpx == 480
    for x in (1, wpx // 3, wpx - 2):
        assert canvas_pixel(page, "canvas.wb-am-zoom", x, x) == viridis(254), x
    assert canvas_pixel(page, "canvas.wb-am-zoom", wpx - 2, 2) == viridis(0)
    # thumbnail (pooled from the kernel's overview): diagonal cells top colour, off-diagonal cells weight 0
    grid = page.locator("canvas.wb-am-grid")
    px, cells = float(grid.get_attribute("data-thumb-px")), grid.get_attribute("data-thumb-cells")
    assert cells == "48x48"
    x0, y0 = float(grid.get_attribute("data-x0")), float(grid.get_attribute("data-y0"))
    cell = px / 48
    for i in (5, 20, 40):
        assert canvas_pixel(page, "canvas.wb-am-grid", x0 + (i + 0.5) * cell, y0 + (i + 0.5) * cell) == viridis(254)
        assert canvas_pixel(page, "canvas.wb-am-grid", x0 + (i + 0.5) * cell, y0 + (i - 3.5) * cell) == viridis(0)

    # + button: the centre half of the head; 16,384 tokens a side is 256 MiB as codes, so the kernel sends a
    # tile pooled 8x (2,048 x 2,048, 4 MiB), finer than the overview, and the view is drawn from it
    t1 = time.perf_counter()
    page.locator(".wb-am-zoomin").click()
    expect(zoom).to_have_attribute("data-view", f"{N // 4},{3 * N // 4},{N // 4},{3 * N // 4}")
    expect(zoom).to_have_attribute("data-data-source", "tile", timeout=120_000)
    TIMINGS["zoom_to_pooled_tile_drawn_32k_s"] = time.perf_counter() - t1
    assert zoom.get_attribute("data-tile-pool") == "8"
    assert canvas_pixel(page, "canvas.wb-am-zoom", 240, 240) == viridis(254)  # the diagonal, from the tile
    assert canvas_pixel(page, "canvas.wb-am-zoom", 400, 40) == viridis(0)

    # back to the whole head, then drag a 6-px rectangle around the block (about 400 tokens): a full-resolution
    # tile; a second drag inside it zooms to a few pixels per token, drawn from that tile (no new request)
    zoom.focus()
    page.keyboard.press("0")
    expect(zoom).to_have_attribute("data-data-source", "overview")
    t2 = time.perf_counter()
    _drag(page, (B0 + 32) / N * wpx - 3, (B0 + 32) / N * wpx + 3)
    page.wait_for_function("() => document.querySelector('canvas.wb-am-zoom').dataset.tilePool === '1'",
                           timeout=120_000)
    TIMINGS["zoom_to_tile_drawn_32k_s"] = time.perf_counter() - t2
    q0, q1, k0, k1 = _view(page)
    assert q0 <= B0 and q1 >= B0 + 64 and k0 <= B0 and k1 >= B0 + 64 and q1 - q0 < 1000, (q0, q1, k0, k1)
    requests = int(zoom.get_attribute("data-tile-requests"))
    ck = float(zoom.get_attribute("data-cell-px"))
    _drag(page, (B0 - 10 - k0) * ck + ck / 2, (B0 + 74 - k0) * ck + ck / 2)
    q0, q1, k0, k1 = _view(page)
    assert B0 - 12 <= q0 <= B0 - 8 and B0 + 73 <= q1 <= B0 + 77 and (k0, k1) == (q0, q1), (q0, q1, k0, k1)
    expect(zoom).to_have_attribute("data-data-source", "tile")
    assert float(zoom.get_attribute("data-cell-px")) >= 4  # a few pixels per token
    for q, k in [(q0 + 1, q0 + 1), (q0 + 2, q0 + 1), (q0 + 1, q0 + 5), (B0, B0), (B0 + 3, B0 + 10),
                 (B0 + 20, B0 + 5), (B0 + 63, B0 + 1), (B0 + 66, B0 + 65), (B0 + 66, B0 + 66), (B0 + 70, B0 + 3)]:
        assert _pixel_of_token(page, q, k) == viridis(weight_code(value(q, k))), (q, k)
    assert int(zoom.get_attribute("data-tile-requests")) == requests  # drawn from the tile already at hand
    # hover reads the token-level value (no "max of" note)
    q, k = B0 + 7, B0 + 12
    ck, cq = float(zoom.get_attribute("data-cell-px")), float(zoom.get_attribute("data-cell-px-q"))
    zoom.hover(position={"x": (k - k0) * ck + ck / 2, "y": (q - q0) * cq + cq / 2})
    expect(page.locator(".wb-am-tooltip")).to_have_text(f'"w{q}" → "w{k}": {weight_code(value(q, k)) / 254:.3f}')
    page.locator(".wb-am").screenshot(path=SHOTS / "attention_map_32k_zoom.png")
    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-am" in e or "attention" in e.lower()], page.console_errors
