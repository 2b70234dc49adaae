"""AttentionMap transport and time-to-draw in headless Chromium, beside CircuitsVis's ``attention_heads`` at 512 tokens.

Page: a plain static page on 127.0.0.1 (no JupyterLab), so the numbers are the widget's own and not Lab's start-up.
It imports the committed bundle ``workbench/static/attention_map.js`` and renders it on a small in-page model object
holding exactly the synced state the kernel would send (``get_state()``: JSON traits + binary buffers, fetched from
the local server). Every request that is not to 127.0.0.1 is aborted and counted (there must be none).

Shape: 1 layer x 2 heads of causal softmax attention at 512, 2,048, 8,192 (float32) and 32,768 tokens (float16, the
dtype that makes a 32k map fit in memory: 2 GiB a head instead of 4). Measured per size:
* bytes sent for the first draw (state JSON + thumbnails + the selected head) per attention value of the array, and
  the selected head's buffer per value of that head (1 byte at full resolution; the overview is pooled beyond 2,896);
* kernel build: ``AttentionMap(da)`` (padding check, thumbnails, quantised head), median of ROUNDS;
* data-to-drawn in the browser: from the page having the bytes in memory to the zoomed head drawn and painted
  (render() + two animation frames), median of ROUNDS; and navigation-to-drawn (bundle + data fetch + draw).
"data -> drawn" = kernel build + browser draw: from the attention array in the kernel to the head on screen.
CircuitsVis 1.43.3 (``pip install --no-deps circuitsvis``): its ``local_src`` HTML inlines its JS bundle (no CDN) and
the attention as JSON numbers; navigation-to-drawn is timed the same way (until its canvas/elements exist, plus two
frames), once (CV_ROUNDS): on 2 shared cores it took ~90 s per render. When it is not installed the comparison is skipped and says so.

Run: python benchmarks/attention_widget.py    (prints data -> drawn at 8,192 tokens last)
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

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from workbench.widgets import AttentionMap  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SIZES = (512, 2048, 8192, 32768)
#: From this size on the map is built and shown as float16 (a float32 32k map is 4 GiB a head).
HALF_FROM = 32768
ROUNDS = 5
#: CircuitsVis takes ~1.5 min per 512-token render on 2 cores, so it is timed once.
CV_ROUNDS = 1
HEADS = 2

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="attention_map.css"></head>
<body><div id="out"></div><script type="module">
import widget from "./attention_map.js";
function fakeModel(state) {
  const h = {};
  return { get: (k) => state[k], set: (o) => Object.assign(state, o), save_changes() {}, send() {},
           on: (e, f) => (h[e] = f), off() {} };
}
window.loadData = async (name) => {
  const state = await (await fetch(name + ".json")).json();
  for (const b of state.__buffers) state[b] = new DataView(await (await fetch(name + "." + b + ".bin")).arrayBuffer());
  return state;
};
window.drawOnce = async (state) => {
  const el = document.createElement("div");
  document.getElementById("out").replaceChildren(el);
  const t0 = performance.now();
  widget.render({ model: fakeModel(state), el });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const c = el.querySelector("canvas.wb-am-zoom");
  return { ms: performance.now() - t0, nq: c.dataset.nQuery, drawn: c.dataset.drawn };
};
window.ready = true;
</script></body></html>"""

CV_WAIT = """() => { const n = document.querySelectorAll('canvas, svg, table td, [style*="background"]').length;
  return n > 0 ? new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))) : false; }"""


def causal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((1, HEADS, n, n), np.float32)
    mask = np.tril(np.ones((n, n), bool))
    for h in range(HEADS):
        s = rng.normal(size=(n, n)).astype(np.float32)
        s[~mask] = -np.inf
        w = np.exp(s - s.max(-1, keepdims=True))
        out[0, h] = w / w.sum(-1, keepdims=True)
    return out


def causal_half(n: int, seed: int = 0, band: int = 512) -> np.ndarray:
    """Causal softmax attention like :func:`causal`, but float16 and built band by band in one reused float32 buffer
    (fresh memory is slow to fault in on these machines), so a 32k map never has a float32 copy in memory. Scores
    are uniform in [0, 4) rather than normal: normal draws of half a billion scores a head take minutes here."""
    rng = np.random.default_rng(seed)
    out = np.zeros((1, HEADS, n, n), np.float16)
    buf = np.empty(band * n, np.float32)
    for h in range(HEADS):
        for r0 in range(0, n, band):
            r1 = min(n, r0 + band)
            s = buf[: (r1 - r0) * r1].reshape(r1 - r0, r1)  # rows r0:r1, keys 0:r1 (the rest is masked anyway)
            rng.random(dtype=np.float32, out=s)
            s *= 4.0
            diag = s[:, r0:r1]
            diag[np.triu_indices(r1 - r0, 1)] = -np.inf  # key > query
            s -= s.max(-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(-1, keepdims=True)
            out[0, h, r0:r1, :r1] = s
    return out


def write_state(widget: AttentionMap, d: Path, name: str) -> int:
    """Write the widget's synced state as the kernel would send it; return the bytes sent."""
    state = widget.get_state()
    js, bufs = {}, {}
    for k, v in state.items():
        if isinstance(v, (bytes, bytearray, memoryview)):
            bufs[k] = bytes(v)
        elif k not in ("_esm", "_css"):
            js[k] = v
    js["__buffers"] = list(bufs)
    text = json.dumps(js)
    (d / f"{name}.json").write_text(text)
    for k, b in bufs.items():
        (d / f"{name}.{k}.bin").write_bytes(b)
    return len(text.encode()) + sum(len(b) for b in bufs.values())


from _static_server import serve  # noqa: E402  (benchmarks/ is the script's folder)


def main() -> None:
    from playwright.sync_api import sync_playwright

    d = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    shutil.copy(ROOT / "workbench" / "static" / "attention_map.js", d)
    shutil.copy(ROOT / "workbench" / "static" / "attention_map.css", d)
    (d / "index.html").write_text(PAGE)
    rows, external = [], []
    srv, url = serve(d)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                  args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            ctx = b.new_context(viewport={"width": 1400, "height": 1000})
            ctx.route(lambda u: not u.startswith(("http://127.0.0.1", "data:", "blob:")),
                      lambda r: (external.append(r.request.url), r.abort()))
            pg = ctx.new_page()
            cv_da = None
            for n in SIZES:
                w = causal_half(n) if n >= HALF_FROM else causal(n)
                toks = [f"t{i}" for i in range(n)]
                da = xr.DataArray(w, dims=("layer", "head", "query", "key"),
                                  coords={"query_token": ("query", toks), "key_token": ("key", toks)})
                if n == 512:
                    cv_da = (w, toks)
                builds = []
                for _ in range(ROUNDS):
                    widget = None  # the previous build's buffers are freed before the next one is timed
                    t0 = time.perf_counter()
                    widget = AttentionMap(da)
                    builds.append(time.perf_counter() - t0)
                kernel_s = statistics.median(builds)
                sent = write_state(widget, d, f"s{n}")
                head_bpv = len(widget._head) / (n * n)
                del widget, da, w
                draws, navs = [], []
                for _ in range(ROUNDS):
                    t_nav = time.perf_counter()
                    pg.goto(f"{url}/index.html")
                    pg.wait_for_function("() => window.ready === true")
                    state = pg.evaluate_handle(f"() => window.loadData('s{n}')")
                    r = pg.evaluate("(s) => window.drawOnce(s)", state)
                    navs.append(time.perf_counter() - t_nav)
                    assert r["nq"] == str(n), r
                    draws.append(r["ms"] / 1e3)
                rows.append({"n": n, "sent": sent, "bpv": sent / (HEADS * n * n), "head_bpv": head_bpv,
                             "kernel_s": kernel_s, "draw_s": statistics.median(draws), "nav_s": statistics.median(navs)})
            cv = None
            try:
                import circuitsvis.attention as cva

                w, toks = cv_da
                html = cva.attention_heads(attention=w[0], tokens=toks).local_src
                import circuitsvis

                js = (Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js").stat().st_size
                (d / "cv.html").write_text(f"<!doctype html><html><body>{html}</body></html>")
                navs = []
                for _ in range(CV_ROUNDS):
                    t_nav = time.perf_counter()
                    pg.goto(f"{url}/cv.html")
                    pg.wait_for_function(CV_WAIT, timeout=120_000)
                    navs.append(time.perf_counter() - t_nav)
                cv = {"html": len(html.encode()), "data": len(html.encode()) - js, "nav_s": statistics.median(navs)}
            except ImportError:
                print("CircuitsVis is not installed (pip install --no-deps circuitsvis): comparison skipped")
            b.close()
    finally:
        srv.shutdown()
        shutil.rmtree(d, ignore_errors=True)

    print(f"AttentionMap, 1 layer x {HEADS} heads, causal softmax; headless Chromium, static page on 127.0.0.1; "
          f"median of {ROUNDS}")
    print(f"{'tokens':>7} {'dtype':>8} {'bytes sent':>12} {'B/value':>8} {'head B/value':>13} {'kernel s':>9} "
          f"{'draw s':>8} {'data->drawn s':>14} {'nav->drawn s':>13}")
    for r in rows:
        dtype = "float16" if r["n"] >= HALF_FROM else "float32"
        print(f"{r['n']:>7} {dtype:>8} {r['sent']:>12,} {r['bpv']:>8.3f} {r['head_bpv']:>13.3f} "
              f"{r['kernel_s']:>9.3f} {r['draw_s']:>8.3f} {r['kernel_s'] + r['draw_s']:>14.3f} {r['nav_s']:>13.3f}")
    print(f"external requests: {len(external)}")
    r512 = next(r for r in rows if r["n"] == 512)
    r2k = next(r for r in rows if r["n"] == 2048)
    if cv:
        print(f"CircuitsVis attention_heads at 512 tokens: HTML {cv['html']:,} bytes, of which data "
              f"{cv['data']:,} ({cv['data'] / (HEADS * 512 * 512):.2f} B/value); nav->drawn {cv['nav_s']:.3f} s ({CV_ROUNDS} run)")
        print(f"ratio bytes/value CircuitsVis / AttentionMap at 512: {cv['data'] / r512['sent']:.1f}")
        print(f"ratio nav->drawn CircuitsVis / AttentionMap at 512: {cv['nav_s'] / r512['nav_s']:.2f}")
    print(f"max bytes per attention value sent (first draw): {max(r['bpv'] for r in rows):.3f}")
    for r in (r2k, next(r for r in rows if r["n"] == 32768)):
        print(f"time from data to a drawn head at {r['n']:,} tokens: {r['kernel_s'] + r['draw_s']:.3f} s "
              f"(kernel {r['kernel_s']:.3f} s + browser {r['draw_s']:.3f} s)")
    r8k = next(r for r in rows if r["n"] == 8192)
    print(f"time from data to a drawn head at 8,192 tokens: {r8k['kernel_s'] + r8k['draw_s']:.3f} s "
          f"(kernel {r8k['kernel_s']:.3f} s + browser {r8k['draw_s']:.3f} s)")


if __name__ == "__main__":
    main()
