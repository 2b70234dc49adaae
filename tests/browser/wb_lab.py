"""Shared pieces of the browser tests: paths, timings, the no-skip-in-CI rule, npm set-up, and helpers that drive a
notebook in JupyterLab (needs --LabApp.expose_app_in_browser=True) or ask its live kernel directly over ZMQ."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDGETS = ROOT / "widgets"
SHOTS = ROOT / "tests" / "shots"
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIMINGS: dict[str, float] = {}


def unavailable(reason: str) -> None:
    """Skip locally, but fail loudly in CI (CI=true): browser tests must never silently skip there."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


def ensure_npm_packages() -> Path:
    """widgets/node_modules with the html-manager and require.js (devDependencies); runs `npm ci` when missing."""
    nm = WIDGETS / "node_modules"
    need = [nm / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js", nm / "requirejs" / "require.js"]
    if not all(p.exists() for p in need):
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm is missing, so widgets/node_modules (html-manager, requirejs) cannot be installed")
        t0 = time.perf_counter()
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WIDGETS, check=True, capture_output=True,
                       timeout=600)
        TIMINGS["npm_ci_s"] = time.perf_counter() - t0
    return nm


def write_notebook(path: Path, sources: list[str]) -> None:
    """Plain notebook JSON (importing nbformat costs seconds)."""
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
              "source": src} for i, src in enumerate(sources)]
    path.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}))


def open_and_run_all(page, lab: dict, name: str) -> None:
    """Open a notebook, wait for its kernel, run all cells (resolves when they have finished)."""
    t0 = time.perf_counter()
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget")
    page.evaluate("""async () => {
        const w = window.jupyterapp.shell.currentWidget;
        await w.context.ready;
        await w.sessionContext.ready;
    }""")
    TIMINGS[f"open_to_kernel_ready_s[{name}]"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    TIMINGS[f"run_all_s[{name}]"] = time.perf_counter() - t1


def kernel_eval(lab: dict, notebook: str, code: str) -> str:
    """Run `code` in the live kernel of `notebook` (bypassing the browser); return the text of its result."""
    from jupyter_client import BlockingKernelClient

    req = urllib.request.Request(f"{lab['url']}/api/sessions", headers={"Authorization": f"token {lab['token']}"})
    (sess,) = [s for s in json.load(urllib.request.urlopen(req)) if s["path"] == notebook]
    cf = Path(lab["env"]["JUPYTER_RUNTIME_DIR"]) / f"kernel-{sess['kernel']['id']}.json"
    out: list[dict] = []
    kc = BlockingKernelClient(connection_file=str(cf))
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        reply = kc.execute_interactive(code, store_history=False, timeout=60, output_hook=out.append)
    finally:
        kc.stop_channels()
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(m["content"]["data"]["text/plain"] for m in out if m["msg_type"] == "execute_result")


def canvas_pixel(page, selector: str, x: float, y: float) -> list[int]:
    """RGBA of one pixel of a canvas, read from its bitmap (not a screenshot)."""
    return page.eval_on_selector(
        selector, "(c, [x, y]) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data)",
        [int(x), int(y)])


def assert_no_external_requests(page) -> None:
    assert page.external_requests == [], f"requests left the machine: {page.external_requests}"


VIRIDIS_STOPS = [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
                 (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)]


def viridis(code: int) -> list[int]:
    """The documented colour scale: code 0..254 linearly through 10 viridis stops, opaque (RGBA)."""
    t = code / 254 * 9
    i = min(8, int(t))
    f = t - i
    return [int(math.floor(a + f * (b - a) + 0.5)) for a, b in zip(VIRIDIS_STOPS[i], VIRIDIS_STOPS[i + 1])] + [255]


def weight_code(w: float) -> int:
    """uint8 code of a weight in [0, 1] (the transport's quantisation, written independently)."""
    return int(math.floor(min(1.0, max(0.0, float(w))) * 254 + 0.5))


def data_attr(page, selector: str, name: str) -> str | None:
    return page.locator(selector).first.get_attribute(name)
