"""LossClusters in real JupyterLab + headless Chromium, and from saved state with no kernel, on a synthetic POLCA
Dataset whose clusters are known (tests/polca_data.py).

The interquartile band is read back from the bands canvas, column by column, and must span the Dataset's quartiles
(recomputed here with numpy) at the documented scale (the stage's data-x0/y0/w/h and data domain); clicking a cluster
lists its samples with the answer digit highlighted and sets ``cluster``/``selected_samples`` as the kernel sees
them; switching the label redraws the composition bars in each category's colour at the Dataset's shares; the
keyboard moves through the basis list (the kernel sends the newly selected vector); the dark theme redraws the
axes; the static export draws and explores from the saved bundle. No request leaves the machine."""

from __future__ import annotations

import ast
import functools
import http.server
import json
import shutil
import threading
import time
from pathlib import Path

import anywidget
import numpy as np
import pytest
from ipywidgets.embed import embed_data

from wb_lab import (
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

NB = "loss_clusters.ipynb"
PRELUDE = f"import sys, json; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
CLUSTER_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f"]  # palette.js
CATEGORY_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
                   "#a6cee3", "#1f78b4"]
BAR_LEFT, BAR_RIGHT, BAR_TOP, BAR_ROW, BAR_H = 70, 12, 22, 22, 14  # bars.js BAR


def rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]


@pytest.fixture(scope="module")
def ds():
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from polca_data import make_polca

    return make_polca()


def _geo(page, sel: str = ".wb-lc-stage") -> dict:
    g = page.eval_on_selector(sel, "s => ({...s.dataset})")
    return {k: float(v) for k, v in g.items() if k in ("x0", "y0", "w", "h", "xmin", "xmax", "ymin", "ymax")}


def _px(g: dict, step: float, value: float) -> tuple[float, float]:
    x = g["x0"] + (step - g["xmin"]) / (g["xmax"] - g["xmin"]) * g["w"]
    y = g["y0"] + g["h"] - (value - g["ymin"]) / (g["ymax"] - g["ymin"]) * g["h"]
    return float(x), float(y)


def _column(page, canvas: str, x: float) -> list[list[int]]:
    return page.eval_on_selector(canvas, "(c, x) => { const d = c.getContext('2d').getImageData(x, 0, 1, c.height).data;"
                                 " const out = []; for (let i = 0; i < d.length; i += 4) out.push([d[i], d[i+1], d[i+2], d[i+3]]);"
                                 " return out; }", int(x))


def check_band(page, ds, basis: int, cluster: int, steps_idx, canvas: str = "canvas.wb-lc-bands") -> None:
    """The band of `cluster` read from the canvas spans [q1, q3] of its samples' projected loss at those steps."""
    g = _geo(page)
    traj = ds.projected_loss.values[basis][ds.cluster.values[basis] == cluster].astype(np.float64)
    colour = rgb(CLUSTER_COLORS[cluster])
    for j in steps_idx:
        step = float(ds.step.values[j])
        q1, q3 = np.percentile(traj[:, j], [25, 75])
        x, y_top = _px(g, step, q3)
        _, y_bot = _px(g, step, q1)
        col = _column(page, canvas, x)
        ink = [i for i, p in enumerate(col) if p[3] > 20 and max(abs(p[k] - colour[k]) for k in range(3)) < 30
               and y_top - 6 <= i <= y_bot + 6]
        assert ink, f"no band of cluster {cluster} at step {step} (expected rows {y_top:.1f}..{y_bot:.1f})"
        assert abs(min(ink) - y_top) <= 1.5 and abs(max(ink) + 1 - y_bot) <= 1.5, (step, min(ink), max(ink), y_top, y_bot)


def check_bars(page, ds, basis: int | None, label: str, canvas: str = "canvas.wb-lc-bars") -> None:
    """Every cluster's bar holds each category's colour in proportion to the Dataset's composition (``basis`` None:
    the exact-loss clusters' bars)."""
    cats = sorted({str(v) for v in ds[label].values}, key=lambda s: (float(s.rstrip("s")), s))
    c = ds.exact_cluster.values if basis is None else ds.cluster.values[basis]
    values = np.asarray(ds[label].values).astype(str)
    width = int(page.eval_on_selector(canvas, "c => c.width"))
    w = width - BAR_LEFT - BAR_RIGHT
    for k in range(int(c.max()) + 1):
        shares = [float(np.mean(values[c == k] == cat)) for cat in cats]
        y = BAR_TOP + k * BAR_ROW + BAR_H / 2
        acc = 0.0
        for i, share in enumerate(shares):
            if share * w >= 4:
                px = canvas_pixel(page, canvas, BAR_LEFT + (acc + share / 2) * w, y)
                assert px[:3] == rgb(CATEGORY_COLORS[i]) and px[3] == 255, (label, k, cats[i], px)
            acc += share


def _kernel_json(lab, code: str):
    return json.loads(ast.literal_eval(kernel_eval(lab, NB, f"json.dumps({code})")))


def _wait_drawn(page, basis: int, cluster: int | None = None) -> None:
    cond = "s && s.dataset.basis === String(b)" + ("" if cluster is None else " && s.dataset.cluster === String(c)")
    page.wait_for_function(f"([b, c]) => {{ const s = document.querySelector('.wb-lc-stage'); return {cond}; }}",
                           arg=[basis, cluster if cluster is not None else -1], timeout=30_000)


def test_loss_clusters_in_jupyterlab(lab, page, ds):
    from playwright.sync_api import expect

    t0 = time.perf_counter()
    # state_budget=0: only the selected vector travels, so another vector is sent by the kernel when picked
    write_notebook(lab["root"] / NB, [
        PRELUDE + "import workbench as wb\nfrom polca_data import make_polca\nds = make_polca()\n"
        "w = wb.LossClusters(ds, state_budget=0)\nw",
    ])
    open_and_run_all(page, lab, NB)
    _wait_drawn(page, 0)
    TIMINGS["loss_clusters_render_s"] = time.perf_counter() - t0
    assert kernel_eval(lab, NB, "w._info['all_in_state']") == "False"
    late = [int(np.searchsorted(ds.step.values, s)) for s in (760, 900, 960)]
    for c in (0, 1):
        check_band(page, ds, 0, c, late)
    check_bars(page, ds, 0, "place")

    # click cluster 1's band: the kernel sees the cluster and its samples; the list shows them, digit highlighted
    g = _geo(page)
    q = np.percentile(ds.projected_loss.values[0][ds.cluster.values[0] == 1][:, late[1]], 50)
    page.locator("canvas.wb-lc-lines").click(position=dict(zip("xy", _px(g, float(ds.step.values[late[1]]), q))))
    _wait_drawn(page, 0, 1)
    assert kernel_eval(lab, NB, "w.cluster") == "1"
    expected = np.flatnonzero(ds.cluster.values[0] == 1).tolist()
    assert _kernel_json(lab, "w.selected_samples") == expected
    samples = page.locator(".wb-lc-samples")
    expect(samples).to_have_attribute("data-count", str(len(expected)))
    first = samples.locator("li.wb-lc-sample").first
    i = int(first.get_attribute("data-sample"))
    assert i == expected[0]
    expect(first.locator("mark.wb-lc-hl")).to_have_text(ds.text.values[i][int(ds.target_start.values[i])])
    expect(first).to_contain_text(f"place {ds.place.values[i]}")
    assert int(page.locator(".wb-lc-stage").get_attribute("data-overlaid")) == len(expected)

    # switching the label redraws the bars in the new categories' colours and shares
    before = page.eval_on_selector("canvas.wb-lc-bars", "c => c.toDataURL()")
    page.select_option("select.wb-lc-label", "carry")
    page.wait_for_function("() => document.querySelector('canvas.wb-lc-bars').dataset.label === 'carry'")
    assert kernel_eval(lab, NB, "w.label") == "'carry'"
    assert page.eval_on_selector("canvas.wb-lc-bars", "c => c.toDataURL()") != before
    check_bars(page, ds, 0, "carry")
    check_bars(page, ds, None, "carry", "canvas.wb-lc-ebars")

    # keyboard: the basis list moves to vector 1; the kernel sends its payload and the bands are vector 1's
    page.locator(".wb-lc-basis").focus()
    page.keyboard.press("ArrowDown")
    _wait_drawn(page, 1)
    assert kernel_eval(lab, NB, "w.basis, sorted(w._vectors)") == "(1, ['1'])"
    for c in range(int(ds.cluster.values[1].max()) + 1):
        check_band(page, ds, 1, c, late)
    check_bars(page, ds, 1, "carry")
    # and the chart's keyboard selects clusters
    assert kernel_eval(lab, NB, "w.cluster") == "1"  # still a cluster of vector 1
    page.locator("canvas.wb-lc-lines").focus()
    page.keyboard.press("Escape")
    _wait_drawn(page, 1, -1)
    page.keyboard.press("ArrowRight")
    _wait_drawn(page, 1, 0)
    assert kernel_eval(lab, NB, "w.cluster") == "0"

    # dark theme: the axes are redrawn in the theme's (light) colours
    g = _geo(page)
    frame = (g["x0"] + g["w"] - 1, g["y0"] + g["h"] / 2)  # the right edge of the frame (muted text colour)
    light = canvas_pixel(page, "canvas.wb-lc-lines", *frame)
    drawn = int(page.locator(".wb-lc-stage").get_attribute("data-drawn"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("n => Number(document.querySelector('.wb-lc-stage').dataset.drawn) > n", arg=drawn,
                           timeout=30_000)
    time.sleep(0.5)
    dark = canvas_pixel(page, "canvas.wb-lc-lines", *frame)
    luma = lambda p: 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]  # noqa: E731
    assert light[3] > 0 and dark[3] > 0 and luma(dark) > luma(light) + 60, (light, dark)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".wb-lc").screenshot(path=SHOTS / "loss_clusters_dark.png")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")

    # hover: the tooltip names the cluster and its quartiles
    g = _geo(page)
    q = np.percentile(ds.projected_loss.values[1][ds.cluster.values[1] == 0][:, late[1]], 50)
    page.locator("canvas.wb-lc-lines").hover(position=dict(zip("xy", _px(g, float(ds.step.values[late[1]]), q))))
    expect(page.locator(".wb-lc-tooltip")).to_contain_text("cluster 0")
    expect(page.locator(".wb-lc-tooltip")).to_contain_text("IQR")
    page.locator(".wb-lc").screenshot(path=SHOTS / "loss_clusters.png")
    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-lc" in e or "loss_clusters" in e], page.console_errors
    TIMINGS["loss_clusters_test_s"] = time.perf_counter() - t0


# --------------------------------------------------------------------------------------------- no kernel at all
STATIC_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>LossClusters static export</title>
<script src="vendor/require.js"></script>
<script>require.config({{paths: {{anywidget: "vendor/anywidget"}}}});</script>
<script src="vendor/html-manager/embed-amd.js" data-jupyter-widgets-cdn="/no-cdn/"></script>
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
</head><body>
{views}
</body></html>"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory, ds):
    from workbench.widgets import LossClusters

    nm = ensure_npm_packages()
    w = LossClusters(ds, basis=0, label="place")
    assert w._info["all_in_state"]
    d = tmp_path_factory.mktemp("lc-export")
    vendor = d / "vendor"
    vendor.mkdir()
    shutil.copytree(nm / "@jupyter-widgets" / "html-manager" / "dist", vendor / "html-manager")
    shutil.copy(nm / "requirejs" / "require.js", vendor / "require.js")
    shutil.copy(Path(anywidget.__file__).parent / "nbextension" / "index.js", vendor / "anywidget.js")
    data = embed_data(views=[w], drop_defaults=False)
    views = "\n".join(f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(v)}</script>'
                      for v in data["view_specs"])
    (d / "index.html").write_text(STATIC_PAGE.format(state=json.dumps(data["manager_state"]), views=views))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(d)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_static_export_draws_and_explores_without_kernel(exported, page, ds):
    from playwright.sync_api import expect

    page.goto(f"{exported}/index.html")
    _wait_drawn(page, 0)
    late = [int(np.searchsorted(ds.step.values, s)) for s in (800, 960)]
    for c in (0, 1):
        check_band(page, ds, 0, c, late)
    check_bars(page, ds, 0, "place")
    # another vector from the list: its payload is in the saved bundle
    page.locator(".wb-lc-row[data-basis='1']").click()
    _wait_drawn(page, 1)
    for c in range(int(ds.cluster.values[1].max()) + 1):
        check_band(page, ds, 1, c, late)
    # a cluster button lists its samples from the saved state
    page.locator("button.wb-lc-cl[data-cluster='1']").click()
    _wait_drawn(page, 1, 1)
    n = int((ds.cluster.values[1] == 1).sum())
    expect(page.locator(".wb-lc-samples")).to_have_attribute("data-count", str(n))
    expect(page.locator("li.wb-lc-sample mark.wb-lc-hl").first).to_be_visible()
    page.select_option("select.wb-lc-label", "carry")
    page.wait_for_function("() => document.querySelector('canvas.wb-lc-bars').dataset.label === 'carry'")
    check_bars(page, ds, 1, "carry")
    # the dropped vector says so
    page.locator(".wb-lc-row[data-basis='2']").click()
    _wait_drawn(page, 2)
    expect(page.locator(".wb-lc-status")).to_contain_text("dropped by the vector filter")
    page.locator(".wb-lc").screenshot(path=SHOTS / "loss_clusters_static.png")
    assert_no_external_requests(page)
