"""FeatureExplorer in real JupyterLab + headless Chromium, and as an exported page from file://, on the synthetic SAE
Dataset of tests/sae_data.py.

Every expectation is recomputed here from the Dataset, not read from the widget: the scatter's point centres from
the documented axes (widgets/feature_explorer/data.js, written out again: x = best label score, y = causal effect,
each over the latents' and neurons' values padded by 5%, plot area 48..368 x 12..264 CSS px), the top contexts from a
group-by over strings (the strings where the latent peaks highest, tokens in position order), and each token cell's
colour from its activation (code = round(a / amax * 254), white to rgb(232, 89, 12)), read from the canvas bitmap.
A click on a latent's point reaches the kernel (its ``latent`` trait, and the latent's detail that the kernel then
sends); the exported page draws and explores from its saved state with every other request blocked."""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import pandas as pd
import pytest

from wb_lab import ROOT, SHOTS, TIMINGS, assert_no_external_requests, kernel_eval, open_and_run_all, write_notebook
from wb_pages import assert_offline, file_page, open_page, widget  # noqa: F401 - file_page is a fixture

pytestmark = pytest.mark.browser
sys.path.insert(0, str(ROOT / "tests"))
NB = "feature_explorer.ipynb"
PRELUDE = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
SCATTER, CONTEXTS = "canvas.wb-fe-scatter", "canvas.wb-fe-contexts"
# the documented geometry and colours (widgets/feature_explorer/data.js, draw.js)
LEFT, RIGHT, TOP, BOTTOM = 48, 380 - 12, 12, 300 - 36
SHADE = (232, 89, 12)
LATENT, SELECTED = (28, 126, 214), (232, 89, 12)


@pytest.fixture(scope="module")
def ds():
    from sae_data import make_sae

    return make_sae()


# ----------------------------------------------------------------------------------------- expectations
def padded(*arrays) -> tuple[float, float]:
    v = np.concatenate([np.asarray(a, float).ravel() for a in arrays])
    v = v[np.isfinite(v)]
    lo, hi = float(v.min()), float(v.max())
    return lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)


def centres(ds, s: int, sqrt: bool = False) -> dict[int, tuple[float, float]]:
    """Each latent's point centre (CSS px) in SAE s's scatter (causal axis linear, or signed square root)."""
    best = ds["detection"].isel(sae=s).max("label", skipna=True).values.astype(np.float32)
    causal = ds["causal_effect"].isel(sae=s).values.astype(np.float32)
    units = "unit_detection" in ds and "unit_causal_effect" in ds
    ubest = ds["unit_detection"].max("label").values.astype(np.float32) if units else np.zeros(0)
    ucausal = ds["unit_causal_effect"].values.astype(np.float32) if units else np.zeros(0)
    if sqrt:
        causal, ucausal = (np.sign(a) * np.sqrt(np.abs(a)) for a in (causal, ucausal))
    xlo, xhi = padded(best, ubest)
    ylo, yhi = padded(causal, ucausal)
    return {i: (float(LEFT + (b - xlo) / (xhi - xlo) * (RIGHT - LEFT)),
                float(BOTTOM - (c - ylo) / (yhi - ylo) * (BOTTOM - TOP)))
            for i, (b, c) in enumerate(zip(best, causal)) if np.isfinite(b) and np.isfinite(c)}


def isolated(ds, s: int, prefer: list[int]) -> int:
    """The first latent of `prefer` whose point is more than 2 * 8 px from every other point (a click hits it)."""
    pts = centres(ds, s)
    for i in prefer:
        if i in pts and all(np.hypot(pts[i][0] - p[0], pts[i][1] - p[1]) > 16 for j, p in pts.items() if j != i):
            return i
    raise AssertionError(f"no isolated point among {prefer[:10]}...")


def top_contexts(ds, s: int, latent: int, k: int = 6) -> list[pd.DataFrame]:
    """The strings where the latent peaks highest (ties: the smaller string id), tokens in position order; a string
    longer than 40 tokens is cut to the 40 ending 8 after its peak (clipped to the string)."""
    df = pd.DataFrame({"string": ds["string"].values, "position": ds["position"].values,
                       "act": ds["activation"].isel(sae=s, latent=latent).values.astype(np.float32)})
    peaks = df.groupby("string")["act"].max()
    order = peaks[peaks > 0].sort_values(ascending=False, kind="stable").index[:k]
    out = []
    for j in order:
        rows = df[df["string"] == j].sort_values("position")
        if len(rows) > 40:
            peak = int(np.argmax(rows["act"].values))
            w0 = min(max(peak - 31, 0), len(rows) - 40)
            rows = rows.iloc[w0: w0 + 40]
        out.append(rows)
    return out


def shade(a: float, amax: float) -> list[int]:
    code = math.floor(min(1.0, max(0.0, a / amax)) * 254 + 0.5) if amax > 0 else 0
    return [math.floor(255 + code / 254 * (c - 255) + 0.5) for c in SHADE]


def pixels(page, sel: str) -> tuple[np.ndarray, int]:
    w, h, data, dpr = page.eval_on_selector(sel, """c => [c.width, c.height,
        Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data), Number(c.dataset.dpr)]""")
    return np.array(data, np.int16).reshape(h, w, 4), int(dpr)


def check_contexts(page, ds, s: int, latent: int, sel: str = CONTEXTS) -> int:
    """Every token cell of the top contexts has the colour of the Dataset's activation there (read 2 px inside its
    top-left corner, clear of the text); returns how many cells were read."""
    import json

    boxes = json.loads(page.locator(sel).get_attribute("data-boxes"))
    act = ds["activation"].isel(sae=s, latent=latent).values.astype(np.float32)
    amax = float(max(act.max(), 0))
    want = top_contexts(ds, s, latent)
    assert [len(b) for b in boxes] == [len(w) for w in want]
    img, dpr = pixels(page, sel)
    n = 0
    for row, frame in zip(boxes, want):
        for (x, y, _, _), a in zip(row, frame["act"].values):
            got = img[int((y + 2) * dpr), int((x + 2) * dpr), :3]
            assert np.abs(got - np.array(shade(float(a), amax))).max() <= 1, (latent, x, y, float(a), got.tolist())
            n += 1
    return n


def wait_shown(page, s: int, latent: int, sel: str = CONTEXTS) -> None:
    page.wait_for_function("([e, k]) => e && e.dataset.shown === k",
                           arg=[page.locator(sel).element_handle(), f"{s}:{latent}"], timeout=30_000)


def click_latent(page, ds, s: int, latent: int, sel: str = SCATTER) -> None:
    x, y = centres(ds, s)[latent]
    page.locator(sel).click(position={"x": x, "y": y})


def colour_at(page, sel: str, x: float, y: float) -> np.ndarray:
    img, dpr = pixels(page, sel)
    return img[int(round(y * dpr)), int(round(x * dpr)), :3]


# ------------------------------------------------------------------------------------------------- JupyterLab
def test_feature_explorer_in_jupyterlab(lab, page, ds):
    from playwright.sync_api import expect

    t0 = time.perf_counter()
    # offline_budget=0: only the picked SAE and latent travel, so a click must reach the kernel to draw anything new
    write_notebook(lab["root"] / NB, [
        PRELUDE + "from sae_data import make_sae\nfrom workbench.widgets import FeatureExplorer\n"
        "ds = make_sae()\nw = FeatureExplorer(ds, offline_budget=0)\nw",
    ])
    open_and_run_all(page, lab, NB)
    wait_shown(page, 0, 0)
    TIMINGS["feature_explorer_render_s"] = time.perf_counter() - t0
    assert kernel_eval(lab, NB, "w.sae, w.latent, sorted(w._latents), w._offline['latents']") == \
        "(0, 0, ['0:0'], 'kernel')"
    assert check_contexts(page, ds, 0, 0) == sum(len(f) for f in top_contexts(ds, 0, 0))
    pts = centres(ds, 0)
    assert np.abs(colour_at(page, SCATTER, *pts[0]) - SELECTED).max() <= 2
    # the gap under the scatter: well-correlated latents (best >= 0.9) and those of them with no causal effect
    best = ds["detection"].isel(sae=0).max("label").values
    causal = ds["causal_effect"].isel(sae=0).values
    well = best >= np.float32(ds.attrs["well_correlated"])
    none = well & (causal < np.float32(ds.attrs["no_effect"] * float(ds["site_effect"])))
    expect(page.locator(".wb-fe-gap")).to_have_attribute("data-well", str(int(well.sum())))
    expect(page.locator(".wb-fe-gap")).to_have_attribute("data-none", str(int(none.sum())))
    assert np.abs(colour_at(page, SCATTER, *pts[3]) - LATENT).max() <= 2

    # (1) a click on latent 3's point reaches the kernel, which sends its detail; the page draws it
    click_latent(page, ds, 0, 3)
    wait_shown(page, 0, 3)
    assert kernel_eval(lab, NB, "w.latent, sorted(w._latents)") == "(3, ['0:3'])"
    assert check_contexts(page, ds, 0, 3) == sum(len(f) for f in top_contexts(ds, 0, 3))  # all six strings
    assert np.abs(colour_at(page, SCATTER, *pts[3]) - SELECTED).max() <= 2
    assert np.abs(colour_at(page, SCATTER, *pts[0]) - LATENT).max() <= 2
    expect(page.locator(".wb-fe-head")).to_have_attribute("data-latent", "3")
    expect(page.locator(".wb-fe-kernelnote")).to_be_hidden()  # the front end sees the kernel: no offline note
    # the histogram's bins are numpy's over the active samples, 24 bins on [0, max]
    act = ds["activation"].isel(sae=0, latent=1).values
    click_latent(page, ds, 0, 1)
    wait_shown(page, 0, 1)
    counts, _ = np.histogram(act[act > 0], bins=24, range=(0, act.max()))
    expect(page.locator("canvas.wb-fe-hist")).to_have_attribute("data-counts", ",".join(map(str, counts)))
    check_contexts(page, ds, 0, 1)
    # hovering a token cell reads its activation out: string 0 "([])", the "(" after [start] fires at 1.5
    import json

    x, y, w, h = json.loads(page.locator(CONTEXTS).get_attribute("data-boxes"))[0][1]
    page.locator(CONTEXTS).hover(position={"x": x + w / 2, "y": y + h / 2})
    expect(page.locator(".wb-fe-tooltip")).to_have_text('"(": 1.500')
    # a click between points selects nothing
    page.locator(SCATTER).click(position={"x": RIGHT - 3, "y": TOP + 3})
    time.sleep(0.5)
    assert kernel_eval(lab, NB, "w.latent") == "1"

    # (2) the sort reaches the kernel and orders the list (largest causal effect first, NaN last)
    page.select_option("select.wb-fe-sort", "causal")
    causal = ds["causal_effect"].isel(sae=0).values
    want = ",".join(str(i) for i in sorted(range(len(causal)), key=lambda i: (-causal[i], i)))
    expect(page.locator("table.wb-fe-list")).to_have_attribute("data-order", want)
    assert kernel_eval(lab, NB, "w.sort") == "'causal'"

    # the keyboard walks the sorted list: ArrowDown selects the next latent by causal effect
    order = [int(v) for v in want.split(",")]
    page.locator("table.wb-fe-list").focus()
    page.keyboard.press("ArrowDown")
    nxt = order[order.index(1) + 1]
    wait_shown(page, 0, nxt)
    assert kernel_eval(lab, NB, "w.latent") == str(nxt)
    page.keyboard.press("ArrowUp")
    wait_shown(page, 0, 1)

    # (3) the best match under the other seed: one click moves to it (the kernel sends that SAE and latent)
    match = int(ds["match_latent"].isel(sae=0, latent=1))
    expect(page.locator(".wb-fe-match")).to_have_attribute("data-latent", str(match))
    page.locator("button.wb-fe-go").click()
    wait_shown(page, 1, match)
    assert kernel_eval(lab, NB, "w.sae, w.latent, sorted(w._saes)") == f"(1, {match}, ['1'])"
    check_contexts(page, ds, 1, match)

    # (4) the kernel moves the selection; the page follows
    kernel_eval(lab, NB, "w.sae, w.latent = 2, 4")
    wait_shown(page, 2, 4)
    assert page.locator("select.wb-fe-sae").input_value() == "2"
    check_contexts(page, ds, 2, 4)
    assert np.abs(colour_at(page, SCATTER, *centres(ds, 2)[4]) - SELECTED).max() <= 2

    # dark theme: the widget's text follows the theme; the marks and the token cells keep their colours
    def luma() -> float:
        rgb = page.eval_on_selector(".wb-fe-title", "e => getComputedStyle(e).color")
        r, g, b = (float(v) for v in rgb[rgb.index("(") + 1: rgb.index(")")].split(",")[:3])
        return 0.299 * r + 0.587 * g + 0.114 * b

    def switch(theme: str) -> None:
        drawn = int(page.locator(SCATTER).get_attribute("data-drawn"))
        page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})")
        page.wait_for_function("n => Number(document.querySelector('canvas.wb-fe-scatter').dataset.drawn) > n",
                               arg=drawn)
        time.sleep(0.5)

    light = luma()
    switch("JupyterLab Dark")
    assert light < 130 < luma(), (light, luma())
    check_contexts(page, ds, 2, 4)
    assert np.abs(colour_at(page, SCATTER, *centres(ds, 2)[4]) - SELECTED).max() <= 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".wb-fe").screenshot(path=SHOTS / "feature_explorer_dark.png")
    switch("JupyterLab Light")
    assert luma() < 130
    page.locator(".wb-fe").screenshot(path=SHOTS / "feature_explorer.png")
    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-fe" in e or "feature" in e], page.console_errors
    TIMINGS["feature_explorer_test_s"] = time.perf_counter() - t0


# ----------------------------------------------------------------------------------------- an exported page
def test_feature_explorer_page_from_file(file_page, tmp_path, ds):
    """to_html from file:// with every other request blocked: the scatter and the shaded contexts draw, a click on
    the scatter and the SAE picker read every latent from the saved state; a widget over its budget says a latent
    needs a kernel."""
    from playwright.sync_api import expect

    from workbench.widgets import FeatureExplorer
    from workbench.widgets.export import to_html

    page = file_page
    ws = [FeatureExplorer(ds, latent=1), FeatureExplorer(ds, offline_budget=0)]
    assert ws[0]._offline["latents"] == "state" and ws[1]._offline["latents"] == "kernel"
    open_page(page, to_html(ws, tmp_path / "features.html", title="Features"), 2)
    first = widget(0, CONTEXTS)
    wait_shown(page, 0, 1, first)
    check_contexts(page, ds, 0, 1, first)
    # a click on the scatter, from the saved state
    click_latent(page, ds, 0, 4, widget(0, SCATTER))
    wait_shown(page, 0, 4, first)
    check_contexts(page, ds, 0, 4, first)
    assert np.abs(colour_at(page, widget(0, SCATTER), *centres(ds, 0)[4]) - SELECTED).max() <= 2
    # another SAE, from the saved state
    page.locator(widget(0, "select.wb-fe-sae")).select_option("3")
    wait_shown(page, 3, 4, first)
    check_contexts(page, ds, 3, 4, first)

    # the square-root causal axis: the points move to their documented places and a click still selects
    page.locator(widget(0, "select.wb-fe-yscale")).select_option("sqrt")
    expect(page.locator(widget(0, SCATTER))).to_have_attribute("data-y-scale", "sqrt")
    root = centres(ds, 3, sqrt=True)
    assert np.abs(colour_at(page, widget(0, SCATTER), *root[4]) - SELECTED).max() <= 2
    x, y = root[0]
    page.locator(widget(0, SCATTER)).click(position={"x": x, "y": y})
    wait_shown(page, 3, 0, first)
    assert np.abs(colour_at(page, widget(0, SCATTER), *root[0]) - SELECTED).max() <= 2
    assert np.abs(colour_at(page, widget(0, SCATTER), *root[4]) - LATENT).max() <= 2

    # over budget: the first view draws; another latent needs a kernel and the page says so
    second = widget(1, CONTEXTS)
    wait_shown(page, 0, 0, second)
    check_contexts(page, ds, 0, 0, second)
    note = page.locator(widget(1, ".wb-fe-kernelnote"))
    expect(note).to_be_hidden()
    click_latent(page, ds, 0, 3, widget(1, SCATTER))
    expect(note).to_be_visible()
    expect(note).to_contain_text("Latent 3 of relu · sparsity 0.01 · seed 0 needs a live kernel")
    expect(note).to_contain_text("over the 0-byte offline budget")
    page.screenshot(path=SHOTS / "page_feature_explorer.png", full_page=True)
    assert_offline(page)


# --------------------------------------------------------------------------------------------- the shipped study
SHIPPED = ROOT / "data" / "sae" / "dyck2.nc"


def test_feature_explorer_on_the_shipped_study(lab, page):
    """The widget opens data/sae/dyck2.nc (the SAEs trained on the Dyck-2 zoo model) on the SAE holding the best
    label detector; the shading of its top contexts and of a clicked latent's matches the shipped activations."""
    import os
    import shutil

    if not SHIPPED.exists():
        pytest.skip("data/sae/dyck2.nc is not shipped yet (python -m workbench.studies.sae --out data/sae)")
    import workbench as wb

    t0 = time.perf_counter()
    ds = wb.load(SHIPPED)
    best = ds["detection"].max("label", skipna=True).fillna(-1).values  # (sae, latent)
    s, lat = (int(v) for v in np.unravel_index(np.argmax(best), best.shape))
    nb = "feature_explorer_dyck2.ipynb"
    write_notebook(lab["root"] / nb, [
        f"import workbench as wb\nds = wb.load({str(SHIPPED)!r})\nw = wb.FeatureExplorer(ds, sae={s})\nw"])
    open_and_run_all(page, lab, nb)
    wait_shown(page, s, lat)
    TIMINGS["feature_explorer_shipped_render_s"] = time.perf_counter() - t0
    assert kernel_eval(lab, nb, "w.sae, w.latent") == f"({s}, {lat})"
    check_contexts(page, ds, s, lat)
    # a click on another latent (the most causal one whose point stands alone) reaches the kernel and redraws
    causal = ds["causal_effect"].isel(sae=s).fillna(-1).values
    other = isolated(ds, s, [int(i) for i in np.argsort(-causal, kind="stable") if int(i) != lat])
    click_latent(page, ds, s, other)
    wait_shown(page, s, other)
    assert kernel_eval(lab, nb, "w.latent") == str(other)
    check_contexts(page, ds, s, other)
    assert np.abs(colour_at(page, SCATTER, *centres(ds, s)[other]) - SELECTED).max() <= 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "feature_explorer_dyck2.png"
    page.set_viewport_size({"width": 1500, "height": 1500})  # the whole widget on screen
    page.mouse.move(0, 0)
    time.sleep(0.5)
    page.locator(".wb-fe").screenshot(path=shot)
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "feature_explorer.png")
    assert_no_external_requests(page)
    TIMINGS["feature_explorer_shipped_test_s"] = time.perf_counter() - t0


def test_shipped_study_page_from_file(file_page, tmp_path):
    """The shipped study as an exported page: everything is in its saved state (1.6 MB), so with every request but
    the page blocked a click on another latent and another SAE redraw with the shipped activations' shading."""
    if not SHIPPED.exists():
        pytest.skip("data/sae/dyck2.nc is not shipped yet (python -m workbench.studies.sae --out data/sae)")
    import workbench as wb
    from workbench.widgets.export import to_html

    page = file_page
    ds = wb.load(SHIPPED)
    w = wb.FeatureExplorer(ds)
    assert w._offline["complete"]
    open_page(page, to_html([w], tmp_path / "sae.html", title="SAE features"), 1)
    wait_shown(page, 0, w.latent, widget(0, CONTEXTS))
    check_contexts(page, ds, 0, w.latent, widget(0, CONTEXTS))
    causal = ds["causal_effect"].isel(sae=0).fillna(-1).values
    other = isolated(ds, 0, [int(i) for i in np.argsort(-causal, kind="stable") if int(i) != w.latent])
    click_latent(page, ds, 0, other, widget(0, SCATTER))
    wait_shown(page, 0, other, widget(0, CONTEXTS))
    check_contexts(page, ds, 0, other, widget(0, CONTEXTS))
    last = ds.sizes["sae"] - 1
    page.locator(widget(0, "select.wb-fe-sae")).select_option(str(last))
    wait_shown(page, last, other, widget(0, CONTEXTS))
    check_contexts(page, ds, last, other, widget(0, CONTEXTS))
    assert_offline(page)
