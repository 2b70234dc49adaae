"""PatchMap time-to-draw in headless Chromium: a 30-layer x 512-position map (one pair, the resid site, top-10 logit
changes at every cell), from the Dataset in the kernel to the map painted in the browser.

Page: a plain static page on 127.0.0.1 (no JupyterLab), so the numbers are the widget's own and not Lab's start-up.
It imports the committed bundle ``workbench/static/patch_map.js`` and renders it on a small in-page model object
holding exactly the synced state the kernel would send (``get_state()``: JSON traits and every binary buffer, nested
ones included, fetched from the local server). Every request that is not to 127.0.0.1 is aborted and counted (there
must be none). Measured, median of ROUNDS:

* kernel build: ``PatchMap(ds)`` (validation, the packed summary and the pair's payload);
* browser draw: from the page having the state in memory to the map drawn and painted (``render()`` and two
  animation frames), each round on a freshly loaded page.

"data -> drawn" = kernel build + browser draw. The browser draw must stay under 0.2 s.

Run: python benchmarks/patch_map_widget.py    (prints the 30 x 512 figure last)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from workbench.widgets import PatchMap  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAYERS, POSITIONS, K, VOCAB = 30, 512, 10, 2000
ROUNDS = 3
LIMIT_S = 0.2

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="patch_map.css"></head>
<body><div id="out"></div><script type="module">
import widget from "./patch_map.js";
function fakeModel(state) {
  return { get: (k) => state[k], set: (k, v) => (state[k] = v), save_changes() {}, send() {}, on() {}, off() {},
           widget_manager: {} };
}
function revive(v, bufs) {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    if ("__buf" in v) return bufs[v.__buf];
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x, bufs)]));
  }
  return Array.isArray(v) ? v.map((x) => revive(x, bufs)) : v;
}
window.loadData = async () => {
  const raw = await (await fetch("state.json")).json();
  const bufs = [];
  for (let i = 0; i < raw.__n; i++) bufs.push(new DataView(await (await fetch(`b${i}.bin`)).arrayBuffer()));
  return revive(raw.state, bufs);
};
window.drawOnce = async (state) => {
  const el = document.createElement("div");
  document.getElementById("out").replaceChildren(el);
  const t0 = performance.now();
  widget.render({ model: fakeModel(state), el });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const c = el.querySelector("canvas.wb-pm-map");
  return { ms: performance.now() - t0, rows: c.dataset.nRows, cols: c.dataset.nCols, drawn: c.dataset.drawn };
};
window.ready = true;
</script></body></html>"""


def dataset(seed: int = 0) -> xr.Dataset:
    """One pair, resid only, 30 x 512: a smooth band of restoration moving right with depth, noise, top-10 changes."""
    rng = np.random.default_rng(seed)
    lay, pos = np.meshgrid(np.arange(LAYERS), np.arange(POSITIONS), indexing="ij")
    effect = np.exp(-((pos - 12 * lay) / 40.0) ** 2) - 0.4 * np.exp(-((pos - 300) / 25.0) ** 2) * (lay < 10)
    effect = (effect + rng.normal(0, 0.03, effect.shape))[None, None].astype(np.float32)
    toks = np.array([f" t{i}" for i in range(POSITIONS)], object)
    bad = toks.copy()
    bad[[40, 300]] = [" x", " y"]
    ids = rng.integers(0, VOCAB, (1, 1, LAYERS, POSITIONS, K)).astype(np.int32)
    change = np.sort(rng.normal(0, 2, (1, 1, LAYERS, POSITIONS, K)), axis=-1)[..., ::-1].astype(np.float32)
    grid = ("pair", "site", "layer", "position")
    return xr.Dataset(
        {"effect": (grid, effect), "metric": (grid, 2 * effect), "top_token_id": ((*grid, "rank"), ids),
         "top_change": ((*grid, "rank"), change), "clean_metric": ("pair", [3.0]), "corrupted_metric": ("pair", [-1.0])},
        coords={"site": ["resid"], "layer": np.arange(LAYERS), "token": (("pair", "position"), toks[None]),
                "corrupted_token": (("pair", "position"), bad[None]),
                "vocab_id": ("vocab", np.arange(VOCAB)), "vocab_token": ("vocab", [f" v{i}" for i in range(VOCAB)])},
        attrs={"metric": "logit_diff", "method": "exact", "direction": "denoise", "model": "benchmark"},
    )


def write_state(widget: PatchMap, d: Path) -> int:
    """The widget's synced state as the kernel would send it (buffers, nested ones too, as files); bytes sent."""
    bufs: list[bytes] = []

    def strip(v: Any) -> Any:
        if isinstance(v, (bytes, bytearray, memoryview)):
            bufs.append(bytes(v))
            return {"__buf": len(bufs) - 1}
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strip(x) for x in v]
        return v

    state = {k: strip(v) for k, v in widget.get_state().items() if k not in ("_esm", "_css")}
    text = json.dumps({"state": state, "__n": len(bufs)})
    (d / "state.json").write_text(text)
    for i, b in enumerate(bufs):
        (d / f"b{i}.bin").write_bytes(b)
    return len(text.encode()) + sum(map(len, bufs))


from _static_server import serve  # noqa: E402  (benchmarks/ is the script's folder)


def main() -> None:
    from playwright.sync_api import sync_playwright

    ds = dataset()
    builds = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        w = PatchMap(ds)
        builds.append(time.perf_counter() - t0)
    kernel_s = statistics.median(builds)
    d = Path(tempfile.mkdtemp(prefix="wb-bench-pm-"))
    external: list[str] = []
    try:
        for f in ("patch_map.js", "patch_map.css"):
            shutil.copy(ROOT / "workbench" / "static" / f, d)
        (d / "index.html").write_text(PAGE)
        sent = write_state(w, d)
        srv, url = serve(d)
        draws = []
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
                ctx = b.new_context(viewport={"width": 1400, "height": 1000})
                ctx.route(lambda u: not u.startswith(("http://127.0.0.1", "data:", "blob:")),
                          lambda r: (external.append(r.request.url), r.abort()))
                pg = ctx.new_page()
                for _ in range(ROUNDS):
                    pg.goto(f"{url}/index.html")
                    pg.wait_for_function("() => window.ready === true")
                    state = pg.evaluate_handle("() => window.loadData()")
                    r = pg.evaluate("(s) => window.drawOnce(s)", state)
                    assert (r["rows"], r["cols"], r["drawn"]) == (str(LAYERS), str(POSITIONS), "1"), r
                    draws.append(r["ms"] / 1e3)
                b.close()
        finally:
            srv.shutdown()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    draw_s = statistics.median(draws)
    print(f"PatchMap, 1 pair x resid x {LAYERS} layers x {POSITIONS} positions, top-{K} at every cell; headless "
          f"Chromium, static page on 127.0.0.1; median of {ROUNDS}")
    print(f"bytes sent for the first draw: {sent:,}")
    print(f"kernel build runs: {', '.join(f'{x:.3f}' for x in builds)} s; browser draw runs: "
          f"{', '.join(f'{x:.3f}' for x in draws)} s")
    print(f"external requests: {len(external)}")
    verdict = "under" if draw_s < LIMIT_S else "OVER"
    print(f"time from data to a drawn {LAYERS} x {POSITIONS} map: {kernel_s + draw_s:.3f} s (kernel {kernel_s:.3f} s + "
          f"browser {draw_s:.3f} s, {verdict} the {LIMIT_S} s limit)")


if __name__ == "__main__":
    main()
