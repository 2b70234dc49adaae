"""AttentionMap from saved widget state with no kernel: embed_data(drop_defaults=False) + local require.js,
@jupyter-widgets/html-manager and anywidget's AMD build, served from 127.0.0.1. The snapshot head must draw
(real pixels), the grid must draw, and nothing may be fetched from outside the machine."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import anywidget
import numpy as np
import pytest
import xarray as xr
from ipywidgets.embed import embed_data

from wb_lab import SHOTS, assert_no_external_requests, canvas_pixel, ensure_npm_packages

pytestmark = pytest.mark.browser

N = 10
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>AttentionMap static export</title>
<script src="vendor/require.js"></script>
<script>require.config({{paths: {{anywidget: "vendor/anywidget"}}}});</script>
<script src="vendor/html-manager/embed-amd.js" data-jupyter-widgets-cdn="/no-cdn/"></script>
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
</head><body>
{views}
</body></html>"""


def _widget():
    from workbench.widgets import AttentionMap

    w = np.full((2, 2, N, N), 0.0, np.float32)
    w[1, 1] = np.eye(N)  # snapshot head: identity
    w[0, 0] = 1.0 / N
    toks = [f"w{i}" for i in range(N)]
    da = xr.DataArray(w, dims=("layer", "head", "query", "key"),
                      coords={"query_token": ("query", toks), "key_token": ("key", toks)})
    return AttentionMap(da, layer=1, head=1)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    nm = ensure_npm_packages()
    d = tmp_path_factory.mktemp("export")
    vendor = d / "vendor"
    vendor.mkdir()
    shutil.copytree(nm / "@jupyter-widgets" / "html-manager" / "dist", vendor / "html-manager")
    shutil.copy(nm / "requirejs" / "require.js", vendor / "require.js")
    shutil.copy(Path(anywidget.__file__).parent / "nbextension" / "index.js", vendor / "anywidget.js")
    data = embed_data(views=[_widget()], drop_defaults=False)  # the default drops `_esm` and nothing renders
    views = "\n".join(f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(v)}</script>'
                      for v in data["view_specs"])
    (d / "index.html").write_text(PAGE.format(state=json.dumps(data["manager_state"]), views=views))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(d)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_static_export_renders_without_kernel(site, page):
    from playwright.sync_api import expect

    page.goto(f"{site}/index.html")
    zoom, grid = page.locator("canvas.wb-am-zoom"), page.locator("canvas.wb-am-grid")
    expect(zoom).to_have_attribute("data-source", "snapshot")
    expect(zoom).to_have_attribute("data-layer", "1")
    expect(zoom).to_have_attribute("data-head", "1")
    expect(zoom).to_have_attribute("data-n-query", str(N))
    expect(grid).to_have_attribute("data-selected", "1,1")
    cell = float(zoom.get_attribute("data-cell-px"))
    for i in range(N):
        on = canvas_pixel(page, "canvas.wb-am-zoom", i * cell + cell / 2, i * cell + cell / 2)
        off = canvas_pixel(page, "canvas.wb-am-zoom", ((i + 3) % N) * cell + cell / 2, i * cell + cell / 2)
        assert on == [253, 231, 37, 255] and off == [68, 1, 84, 255], (i, on, off)
    # grid thumbnail (0, 0) is uniform 0.1 -> code 25 everywhere; (1, 1) has its diagonal
    px, x0, y0 = (float(grid.get_attribute(a)) for a in ("data-thumb-px", "data-x0", "data-y0"))
    c00 = canvas_pixel(page, "canvas.wb-am-grid", x0 + px / 2, y0 + px / 2)
    assert c00[3] == 255 and c00 != [68, 1, 84, 255]
    # hover works without a kernel
    zoom.hover(position={"x": 2 * cell + cell / 2, "y": 2 * cell + cell / 2})
    expect(page.locator(".wb-am-tooltip")).to_have_text('"w2" → "w2": 1.000')
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "attention_map_static.png")
    assert_no_external_requests(page)
