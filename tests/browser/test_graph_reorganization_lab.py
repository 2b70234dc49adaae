"""GraphReorganization in real JupyterLab + headless Chromium, and from saved state with no kernel, on the shipped
Gemma-3-270M grid study (data/incontext/gemma3_grid.nc).

Where each node must be drawn is recomputed here from the Dataset (read from the live kernel) with the documented
rule of widgets/graph_reorganization/geometry.js (uniform scale filling the plot area), and the canvas pixel there
must be the node's group colour: moving the slider moves the drawn points to the Dataset's coordinates for that T.
Play advances T, hover names the word and rings its neighbours, a click on a curve sets T as the kernel sees it, and
the static export draws and keeps its slider working from the saved bundle. No request leaves the machine."""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import shutil
import threading
import time
from pathlib import Path

import anywidget
import numpy as np
import pytest
from ipywidgets.embed import embed_data

from wb_lab import (
    DOCS,
    ROOT,
    SHOTS,
    TIMINGS,
    assert_no_external_requests,
    canvas_pixel,
    ensure_npm_packages,
    kernel_eval,
    open_and_run_all,
    write_notebook,
)

pytestmark = pytest.mark.browser

NB = "graph_reorganization.ipynb"
W, H, MARGIN, RADIUS = 440, 420, 40, 6  # geometry.js SCATTER and RADIUS
PANEL = dict(width=290, height=170, left=40, right=10, top=22, bottom=28)  # geometry.js PANEL
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]  # rows 0..3


def rgba(hex_colour: str) -> list[int]:
    return [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)] + [255]


def expected_pixels(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The documented frame rule: the finite points fill the area inside the margin at one uniform scale."""
    ok = np.isfinite(xs) & np.isfinite(ys)
    x0, x1, y0, y1 = xs[ok].min(), xs[ok].max(), ys[ok].min(), ys[ok].max()
    s = min((W - 2 * MARGIN) / max(x1 - x0, 1e-12), (H - 2 * MARGIN) / max(y1 - y0, 1e-12))
    return np.stack([W / 2 + s * (xs - (x0 + x1) / 2), H / 2 - s * (ys - (y0 + y1) / 2)], 1)


def clear_nodes(pos: np.ndarray, min_gap: float = 24.0) -> list[int]:
    """Nodes whose marker centre no other marker or word label can cover (labels sit up-right of each marker)."""
    out = []
    for i, (x, y) in enumerate(pos):
        ok = True
        for j, (u, v) in enumerate(pos):
            if i == j:
                continue
            if math.hypot(x - u, y - v) < min_gap:
                ok = False
            if u - 80 <= x <= u + 80 and v - RADIUS - 14 <= y <= v - RADIUS + 4:  # j label box, either side
                ok = False
        if ok and RADIUS < x < W - RADIUS and RADIUS < y < H - RADIUS:
            out.append(i)
    return out


def check_points(page, pca: np.ndarray, rows: list[int], sel: str = "canvas.wb-gr-scatter") -> np.ndarray:
    pos = expected_pixels(pca[:, 0], pca[:, 1])
    nodes = clear_nodes(pos)
    assert len(nodes) >= 4, f"too few separated nodes to check: {pos}"
    for i in nodes:
        px = canvas_pixel(page, sel, pos[i, 0], pos[i, 1])
        assert px == rgba(PALETTE[rows[i]]), (i, pos[i], px)
    return pos


def _kernel_json(lab, code: str):
    import ast

    return json.loads(ast.literal_eval(kernel_eval(lab, NB, f"json.dumps({code})")))


def _wait_context(page, t: int) -> None:
    page.wait_for_function("t => document.querySelector('.wb-gr')?.dataset.context === String(t)", arg=t,
                           timeout=30_000)


def test_graph_reorganization_in_jupyterlab(lab, page):
    from playwright.sync_api import expect

    t0 = time.perf_counter()
    # offline_budget=0: only the shown layer is in the widget's state, so picking another asks the kernel
    write_notebook(lab["root"] / NB, [
        "import json\nimport workbench as wb\nfrom workbench.studies.incontext import shipped_path\n"
        "ds = wb.load(shipped_path('gemma3_grid'))\nw = wb.GraphReorganization(ds, offline_budget=0)\nw",
    ])
    open_and_run_all(page, lab, NB)
    page.wait_for_selector(".wb-gr[data-ready='1']", timeout=60_000)
    TIMINGS["graph_reorganization_render_s"] = time.perf_counter() - t0
    contexts = _kernel_json(lab, "ds.context.values.tolist()")
    rows = _kernel_json(lab, "ds.row.values.tolist()")
    layer = int(kernel_eval(lab, NB, "w.layer"))
    assert layer == int(kernel_eval(lab, NB, "int(ds.attrs['picked_layer'])"))
    _wait_context(page, contexts[-1])

    def pca(layer: int, t: int) -> np.ndarray:
        return np.array(_kernel_json(lab, f"ds.pca.sel(layer={layer}, context={t}).values[:, :2].tolist()"), float)

    last = check_points(page, pca(layer, contexts[-1]), rows)

    # the slider, from the keyboard: Home then steps right -> the 31st context length
    slider = page.locator("input.wb-gr-slider")
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    _wait_context(page, contexts[30])
    assert kernel_eval(lab, NB, "w.context") == str(contexts[30])
    moved = check_points(page, pca(layer, contexts[30]), rows)
    assert np.nanmax(np.abs(moved - last)) > 10, "the points did not move with T"

    # play advances T by itself; pause stops it
    page.locator("button.wb-gr-play").click()
    _wait_context(page, contexts[33])
    page.locator("button.wb-gr-play").click()
    assert page.locator(".wb-gr").get_attribute("data-playing") == "0"
    shown = int(page.locator(".wb-gr").get_attribute("data-context"))
    assert shown >= contexts[33]
    deadline = time.time() + 10
    while kernel_eval(lab, NB, "w.context") != str(shown) and time.time() < deadline:
        time.sleep(0.2)
    assert kernel_eval(lab, NB, "w.context") == str(shown)

    # hover a node: its word in the tooltip, and a ring in the accent colour around one of its neighbours
    t_now = shown
    pos = expected_pixels(*pca(layer, t_now).T)
    node = clear_nodes(pos)[0]
    scatter = page.locator("canvas.wb-gr-scatter")
    before = scatter.evaluate("c => c.toDataURL()")
    scatter.hover(position={"x": float(pos[node, 0]), "y": float(pos[node, 1])})
    word = _kernel_json(lab, f"str(ds.word.values[{node}])")
    tip = page.locator(".wb-gr-tooltip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(word)
    expect(tip).to_contain_text("neighbours:")
    assert scatter.evaluate("c => c.toDataURL()") != before, "hover drew no highlight"
    nb = _kernel_json(lab, f"[int(j) for j in ds.adjacency.values[{node}].nonzero()[0]]")
    ring = [canvas_pixel(page, "canvas.wb-gr-scatter", pos[j, 0] + RADIUS + 3, pos[j, 1]) for j in nb
            if np.isfinite(pos[j]).all()]
    assert any(p[3] > 0 and p[2] > p[0] for p in ring), ring  # the accent (blue) ring
    page.mouse.move(5, 5)

    # a click on the energy curve at T = contexts[20] sets T, as the kernel sees it
    panel = page.locator("canvas.wb-gr-curve-energy")
    domain = json.loads(panel.get_attribute("data-domain"))
    span = math.log(domain[1]) - math.log(domain[0])
    x = PANEL["left"] + (math.log(contexts[20]) - math.log(domain[0])) / span * (PANEL["width"] - PANEL["left"] - PANEL["right"])
    panel.click(position={"x": x, "y": PANEL["height"] / 2})
    _wait_context(page, contexts[20])
    deadline = time.time() + 10
    while kernel_eval(lab, NB, "w.context") != str(contexts[20]) and time.time() < deadline:
        time.sleep(0.2)
    assert kernel_eval(lab, NB, "w.context") == str(contexts[20])
    cursor = int(panel.get_attribute("data-cursor"))
    assert abs(cursor - x) <= 1.5
    ink = [canvas_pixel(page, "canvas.wb-gr-curve-energy", cursor, PANEL["top"] + dy) for dy in range(1, 9)]
    assert any(p[3] > 0 and p[2] > p[0] for p in ink), f"no cursor drawn at T: {ink}"  # the dashed accent line
    check_points(page, pca(layer, contexts[20]), rows)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "graph_reorganization.png"
    page.locator(".wb-gr").screenshot(path=shot)
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOT") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS / "graph_reorganization.png")

    # another layer from the picker: not in the widget's state, so the kernel sends its sweep; the points are its
    page.select_option("select.wb-gr-layer", "17")
    page.wait_for_function("() => { const r = document.querySelector('.wb-gr');"
                           " return r.dataset.layer === '17' && r.dataset.ready === '1'; }")
    assert kernel_eval(lab, NB, "w.layer, w._sweep_meta['layer']") == "(17, 17)"
    check_points(page, pca(17, contexts[20]), rows)

    page.locator(".wb-gr").screenshot(path=SHOTS / "graph_reorganization_layer17.png")
    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-gr" in e or "graph" in e.lower()], page.console_errors
    TIMINGS["graph_reorganization_test_s"] = time.perf_counter() - t0


# --------------------------------------------------------------------------------------------- no kernel at all
STATIC_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>GraphReorganization static export</title>
<script src="vendor/require.js"></script>
<script>require.config({{paths: {{anywidget: "vendor/anywidget"}}}});</script>
<script src="vendor/html-manager/embed-amd.js" data-jupyter-widgets-cdn="/no-cdn/"></script>
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
</head><body>
{views}
</body></html>"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import workbench as wb
    from workbench.studies.incontext import shipped_path

    nm = ensure_npm_packages()
    ds = wb.load(shipped_path("gemma3_grid"))
    w = wb.GraphReorganization(ds)
    lean = wb.GraphReorganization(ds, offline_budget=0)
    d = tmp_path_factory.mktemp("gr-export")
    vendor = d / "vendor"
    vendor.mkdir()
    shutil.copytree(nm / "@jupyter-widgets" / "html-manager" / "dist", vendor / "html-manager")
    shutil.copy(nm / "requirejs" / "require.js", vendor / "require.js")
    shutil.copy(Path(anywidget.__file__).parent / "nbextension" / "index.js", vendor / "anywidget.js")
    data = embed_data(views=[w, lean], drop_defaults=False)
    views = "\n".join(f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(v)}</script>'
                      for v in data["view_specs"])
    (d / "index.html").write_text(STATIC_PAGE.format(state=json.dumps(data["manager_state"]), views=views))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(d)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", ds
    srv.shutdown()
    srv.server_close()


def test_static_export_draws_and_explores_without_kernel(exported, page):
    from playwright.sync_api import expect

    url, ds = exported
    rows = [int(r) for r in ds.row.values]
    contexts = [int(c) for c in ds.context.values]
    layer = int(ds.attrs["picked_layer"])
    page.goto(f"{url}/index.html")
    page.wait_for_function("() => document.querySelectorAll(\".wb-gr[data-ready='1']\").length === 2", timeout=60_000)
    first = ".wb-gr >> nth=0"
    scatter = "canvas.wb-gr-scatter"  # canvas_pixel reads the first match: the full widget's
    assert page.locator(first).get_attribute("data-context") == str(contexts[-1])
    check_points(page, ds.pca.sel(layer=layer, context=contexts[-1]).values[:, :2].astype(np.float64), rows, scatter)
    # the slider works from the saved state
    page.locator("input.wb-gr-slider").first.focus()
    page.keyboard.press("Home")
    for _ in range(25):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("t => document.querySelector('.wb-gr').dataset.context === String(t)", arg=contexts[25])
    check_points(page, ds.pca.sel(layer=layer, context=contexts[25]).values[:, :2].astype(np.float64), rows, scatter)
    # and so does another layer: every layer is in the saved bundle
    page.locator("select.wb-gr-layer").first.select_option("9")
    page.wait_for_function("() => document.querySelector('.wb-gr').dataset.layer === '9'")
    assert page.locator(first).get_attribute("data-ready") == "1"
    check_points(page, ds.pca.sel(layer=9, context=contexts[25]).values[:, :2].astype(np.float64), rows, scatter)
    page.locator(first).screenshot(path=SHOTS / "graph_reorganization_static.png")
    # the twin saved without its bundle says on the page that another layer needs a live kernel
    twin = page.locator(".wb-gr").nth(1)
    note = twin.locator(".wb-gr-note")
    expect(note).to_be_hidden()
    twin.locator("select.wb-gr-layer").select_option("9")
    expect(note).to_be_visible()
    expect(note).to_contain_text("needs a live kernel")
    assert twin.get_attribute("data-ready") == "0"
    assert_no_external_requests(page)
