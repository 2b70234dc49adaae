"""FeatureExplorer on the shipped Dyck-2 SAE study (data/sae/dyck2.nc: 18 SAEs x 128 latents x 442 token samples),
from the Dataset in the kernel to the widget drawn in headless Chromium, and the size of what travels.

Page: a plain static page on 127.0.0.1 (no JupyterLab), so the numbers are the widget's own. It imports the committed
bundle ``workbench/static/feature_explorer.js`` and renders it on a small in-page model object holding exactly the
synced state the kernel would send (``get_state()``: JSON traits and every binary buffer, nested ones included).
Every request that is not to 127.0.0.1 is aborted and counted (there must be none). Measured, median of ROUNDS:

* kernel build: ``FeatureExplorer(ds)`` (every SAE's scores and every latent's histogram and top contexts, all in the
  state: the study fits the 8 MB offline budget);
* browser first draw: from the state in memory to every panel drawn and painted (two animation frames);
* browser latent switch: a new ``latent`` (what a scatter click sets) to its panels redrawn from the saved state.

Baseline, in the same run: the same state with every binary buffer written out as a JSON list of its float32 values
(what a widget without binary transport would send). The ratio of the two sizes is printed last.

Run: python benchmarks/feature_explorer_widget.py
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import workbench as wb  # noqa: E402
from workbench.widgets import FeatureExplorer  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHIPPED = ROOT / "data" / "sae" / "dyck2.nc"
ROUNDS = 3

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="feature_explorer.css"></head>
<body><div id="out"></div><script type="module">
import widget from "./feature_explorer.js";
function fakeModel(state) {
  const handlers = {};
  return { get: (k) => state[k], set: (k, v) => (state[k] = v), save_changes() {}, send() {},
           on: (ev, f) => (handlers[ev] = handlers[ev] || []).push(f), off() {},
           fire: (ev) => (handlers[ev] || []).forEach((f) => f()), widget_manager: {} };
}
function revive(v, bufs) {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    if ("__buf" in v) return bufs[v.__buf];
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x, bufs)]));
  }
  return Array.isArray(v) ? v.map((x) => revive(x, bufs)) : v;
}
const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
window.loadData = async () => {
  const raw = await (await fetch("state.json")).json();
  const bufs = [];
  for (let i = 0; i < raw.__n; i++) bufs.push(new DataView(await (await fetch(`b${i}.bin`)).arrayBuffer()));
  return revive(raw.state, bufs);
};
window.run = async (state, latent) => {
  const el = document.createElement("div");
  document.getElementById("out").replaceChildren(el);
  const model = fakeModel(state);
  const t0 = performance.now();
  widget.render({ model, el });
  await frames();
  const first = performance.now() - t0;
  const t1 = performance.now();
  model.set("latent", latent);
  model.fire("change:latent");
  await frames();
  const swap = performance.now() - t1;
  const c = el.querySelector("canvas.wb-fe-contexts");
  return { first, swap, shown: c.dataset.shown };
};
window.ready = true;
</script></body></html>"""


def write_state(widget: FeatureExplorer, d: Path) -> tuple[int, int]:
    """The synced state as the kernel would send it (buffers as files); returns (bytes sent, bytes as JSON lists)."""
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

    def as_lists(v: Any) -> Any:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return np.frombuffer(bytes(v), "<f4").tolist()
        if isinstance(v, dict):
            return {k: as_lists(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [as_lists(x) for x in v]
        return v

    raw = {k: v for k, v in widget.get_state().items() if k not in ("_esm", "_css")}
    text = json.dumps({"state": {k: strip(v) for k, v in raw.items()}, "__n": len(bufs)})
    (d / "state.json").write_text(text)
    for i, b in enumerate(bufs):
        (d / f"b{i}.bin").write_bytes(b)
    lists = len(json.dumps({k: as_lists(v) for k, v in raw.items()}).encode())
    return len(text.encode()) + sum(map(len, bufs)), lists


from _static_server import serve  # noqa: E402  (benchmarks/ is the script's folder)


def main() -> None:
    from playwright.sync_api import sync_playwright

    if not SHIPPED.exists():
        sys.exit(f"no {SHIPPED}: run python -m workbench.studies.sae --out data/sae first")
    ds = wb.load(SHIPPED)
    builds = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        w = FeatureExplorer(ds)
        builds.append(time.perf_counter() - t0)
    assert w._offline["complete"], w._offline
    other = (w.latent + 1) % ds.sizes["latent"]
    d = Path(tempfile.mkdtemp(prefix="wb-bench-fe-"))
    external: list[str] = []
    try:
        for f in ("feature_explorer.js", "feature_explorer.css"):
            shutil.copy(ROOT / "workbench" / "static" / f, d)
        (d / "index.html").write_text(PAGE)
        sent, lists = write_state(w, d)
        srv, url = serve(d)
        firsts, swaps = [], []
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
                ctx = b.new_context(viewport={"width": 1400, "height": 1200})
                ctx.route(lambda u: not u.startswith(("http://127.0.0.1", "data:", "blob:")),
                          lambda r: (external.append(r.request.url), r.abort()))
                pg = ctx.new_page()
                for _ in range(ROUNDS):
                    pg.goto(f"{url}/index.html")
                    pg.wait_for_function("() => window.ready === true")
                    state = pg.evaluate_handle("() => window.loadData()")
                    r = pg.evaluate("([s, l]) => window.run(s, l)", [state, other])
                    assert r["shown"] == f"0:{other}", r
                    firsts.append(r["first"] / 1e3)
                    swaps.append(r["swap"] / 1e3)
                b.close()
        finally:
            srv.shutdown()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"FeatureExplorer on {SHIPPED.relative_to(ROOT)}: {ds.sizes['sae']} SAEs x {ds.sizes['latent']} latents x "
          f"{ds.sizes['sample']} samples; headless Chromium, static page on 127.0.0.1; median of {ROUNDS}")
    print(f"kernel build: {statistics.median(builds):.3f} s ({', '.join(f'{x:.3f}' for x in builds)})")
    print(f"browser first draw: {statistics.median(firsts):.3f} s; latent switch from the saved state: "
          f"{statistics.median(swaps):.3f} s")
    print(f"external requests: {len(external)}")
    print(f"state sent: {sent:,} bytes (binary buffers) vs {lists:,} bytes (JSON lists): ratio {sent / lists:.3f}")


if __name__ == "__main__":
    main()
