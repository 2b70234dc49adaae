"""PatchMap in real JupyterLab + headless Chromium, and as an exported page from file://, on a synthetic patching
Dataset with a known pattern (tests/patching_data.py).

Pixels are read from the map canvas at each cell's documented geometry (the canvas's data-x0/y0/cw/ch) and must be
the documented diverging colour of the value there (recomputed here with numpy: the NaN-ignoring mean over pairs or
one pair's effect, on a domain symmetric about 0): red-ish where the effect is positive, blue-ish where it is
negative, no colour where it is NaN. A clicked cell's (site, layer, position) reaches the kernel; its top logit
changes are listed from the saved top-k arrays with the Dataset's token strings; the keyboard moves the selection;
the head view, the attribution toggle and the dark theme redraw. The exported page draws and explores with every
other request blocked. No request leaves the machine."""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
import warnings

import numpy as np
import pytest

from wb_lab import (
    DOCS,
    ROOT,
    SHOTS,
    TIMINGS,
    assert_no_external_requests,
    canvas_pixel,
    kernel_eval,
    open_and_run_all,
    write_notebook,
)
from wb_pages import assert_offline, file_page, open_page, widget  # noqa: F401 - file_page is a fixture

pytestmark = pytest.mark.browser
sys.path.insert(0, str(ROOT / "tests"))
NB = "patch_map.ipynb"
PRELUDE = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
MAP = "canvas.wb-pm-map"
# the documented ramp (widgets/patch_map/scale.js), written out again here
STOPS = [(33, 102, 172), (103, 169, 207), (209, 229, 240), (247, 247, 247), (253, 219, 199), (239, 138, 98),
         (178, 24, 43)]


@pytest.fixture(scope="module")
def data():
    from patching_data import make_attribution, make_patching

    ds = make_patching()
    return ds, make_attribution(ds)


def colour(v: float, m: float) -> list[int]:
    """RGBA of value v on [-m, m]: code 127 +- round(127 |v/m|), then linear between the seven stops."""
    t = max(-1.0, min(1.0, v / m))
    k = math.floor(127 * abs(t) + 0.5)
    c = 127 - k if t < 0 else 127 + k
    x = ((c - 127) / 127 + 1) / 2 * 6
    i = min(5, math.floor(x))
    f = x - i
    return [math.floor(a + f * (b - a) + 0.5) for a, b in zip(STOPS[i], STOPS[i + 1])] + [255]


def nanmean0(a) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(a, np.float64), axis=0)


def domain(*maps) -> float:
    return float(max(np.nanmax(np.abs(m)) for m in maps))


def geometry(page, sel: str = MAP) -> dict:
    g = page.eval_on_selector(sel, "c => ({...c.dataset})")
    return {k: float(g[k]) for k in ("x0", "y0", "cw", "ch")}


def centre(g: dict, row: int, col: int) -> tuple[float, float]:
    return g["x0"] + (col + 0.5) * g["cw"], g["y0"] + (row + 0.5) * g["ch"]


def check_cells(page, values: np.ndarray, m: float, cells, sel: str = MAP) -> None:
    """Each (row, col) cell is the documented colour of values[row, col] on [-m, m], with the sign's hue."""
    g = geometry(page, sel)
    for row, col in cells:
        v = float(values[row, col])
        got = canvas_pixel(page, sel, *centre(g, row, col))
        assert got == colour(v, m), (row, col, v, got, colour(v, m))
        if v > 0.25 * m:  # clearly positive (a near-0 cell is near-white by design)
            assert got[0] > got[2] + 40, ("a positive cell must be red-ish", row, col, v, got)
        if v < -0.25 * m:
            assert got[2] > got[0] + 40, ("a negative cell must be blue-ish", row, col, v, got)


def check_nan_cell(page, row: int, col: int, sel: str = MAP) -> None:
    """A NaN cell holds no colour of the scale: transparent or the grey hatching only."""
    g = geometry(page, sel)
    x0, y0 = int(g["x0"] + col * g["cw"]) + 1, int(g["y0"] + row * g["ch"]) + 1
    w, h = int(g["cw"]) - 2, int(g["ch"]) - 2
    px = page.eval_on_selector(sel, "(c, [x, y, w, h]) => Array.from(c.getContext('2d').getImageData(x, y, w, h).data)",
                               [x0, y0, w, h])
    rgba = np.array(px).reshape(-1, 4)
    ink = rgba[rgba[:, 3] > 0]
    assert (rgba[:, 3] == 0).any(), "a NaN cell is not transparent anywhere"
    assert len(ink) == 0 or (np.ptp(ink[:, :3], axis=1) < 12).all(), "a NaN cell holds a colour of the scale"


def wait_view(page, *, pair: int | None = None, view: str | None = None, method: str | None = None,
              sel: str = MAP) -> None:
    want = {"pair": None if pair is None else str(pair), "view": view, "method": method}
    want = {k: v for k, v in want.items() if v is not None}
    page.wait_for_function("([c, want]) => c && Object.entries(want).every(([k, v]) => c.dataset[k] === v)",
                           arg=[page.locator(sel).element_handle(), want], timeout=30_000)


def listed(page, scope: str = ".wb-pm-top") -> list[tuple[str, float]]:
    items = page.locator(f"{scope} li.wb-pm-topitem")
    return [(items.nth(i).get_attribute("data-token"), float(items.nth(i).get_attribute("data-change")))
            for i in range(items.count())]


def expected_top(ds, key: str, index: tuple) -> list[tuple[str, float]]:
    vocab = dict(zip(ds.vocab_id.values.tolist(), ds.vocab_token.values.tolist()))
    ids = ds[f"{key}_token_id"].values[index]
    ch = ds[f"{key}_change"].values[index]
    return [(vocab[int(i)], float(c)) for i, c in zip(ids, ch) if i >= 0 and np.isfinite(c)]


def same_top(got, want) -> None:
    assert [t for t, _ in got] == [t for t, _ in want]
    np.testing.assert_allclose([c for _, c in got], [c for _, c in want], rtol=1e-6)


def luma_of_ink(page, x0: int, y0: int, x1: int, y1: int) -> float:
    px = page.eval_on_selector(MAP, "(c, [x, y, w, h]) => Array.from(c.getContext('2d').getImageData(x, y, w, h).data)",
                               [x0, y0, x1 - x0, y1 - y0])
    rgba = np.array(px).reshape(-1, 4)
    ink = rgba[rgba[:, 3] > 60]  # text in the theme's secondary colour, which is translucent
    assert len(ink), "no text drawn in the layer labels' margin"
    return float((0.299 * ink[:, 0] + 0.587 * ink[:, 1] + 0.114 * ink[:, 2]).mean())


# ------------------------------------------------------------------------------------------------- JupyterLab
def test_patch_map_in_jupyterlab(lab, page, data):
    from playwright.sync_api import expect

    ds, at = data
    t0 = time.perf_counter()
    # offline_budget=0: only what is on screen travels, so a picked pair comes from the kernel
    write_notebook(lab["root"] / NB, [
        PRELUDE + "from patching_data import make_attribution, make_patching\nfrom workbench.widgets import PatchMap\n"
        "ds = make_patching()\nw = PatchMap(ds, attribution=make_attribution(ds), offline_budget=0)\nw",
    ])
    open_and_run_all(page, lab, NB)
    wait_view(page, pair=-1, view="resid", method="exact")
    TIMINGS["patch_map_render_s"] = time.perf_counter() - t0
    assert kernel_eval(lab, NB, "w._pairs, w._offline['pairs']") == "({}, 'kernel')"

    # (1) the mean over pairs, every site's scale shared: colours and signs at the known cells
    mean, mean_at = nanmean0(ds.effect.values), nanmean0(at.effect.values)
    m = domain(mean, mean_at)
    assert float(page.locator(MAP).get_attribute("data-domain")) == pytest.approx(m, rel=1e-6)
    cells = [(0, 1), (1, 1), (1, 6), (2, 6), (3, 7), (4, 7), (0, 0), (2, 3)]
    check_cells(page, mean[0], m, cells)
    expect(page.locator(MAP)).to_have_attribute("data-marks", "1,6")  # positions that differ in any pair

    # (2) a click reaches the kernel; the mean view asks for a pair to list top-k (none is saved)
    g = geometry(page)
    page.locator(MAP).click(position=dict(zip("xy", centre(g, 1, 1))))
    expect(page.locator(".wb-pm-top")).to_have_attribute("data-cell", "resid,1,1")
    assert kernel_eval(lab, NB, "w.site, w.layer, w.position, w.pair") == "('resid', 1, 1, -1)"
    expect(page.locator(".wb-pm-top")).to_contain_text("pick a pair")

    # a pair from the picker: the kernel sends it; its cells are its own colours on its own domain
    page.select_option("select.wb-pm-pair", "1")
    wait_view(page, pair=1)
    assert kernel_eval(lab, NB, "w.pair, sorted(w._pairs)") == "(1, ['1'])"
    expect(page.locator(".wb-pm-sub")).to_contain_text(
        f'answer "{ds.answer.values[1]}" vs "{ds.wrong.values[1]}" · clean {ds.clean_metric.values[1]:.3f}')
    expect(page.locator(".wb-pm-kernelnote")).to_be_hidden()  # a kernel is connected: no "needs a kernel" note
    m1 = domain(ds.effect.values[1], at.effect.values[1])
    check_cells(page, ds.effect.values[1, 0], m1, cells)
    # (3) the selected cell's top logit changes, from the pair's top-k arrays
    same_top(listed(page), expected_top(ds, "top", (1, 0, 1, 1)))
    page.locator(MAP).click(position=dict(zip("xy", centre(g, 3, 7))))
    expect(page.locator(".wb-pm-top")).to_have_attribute("data-cell", "resid,3,7")
    assert kernel_eval(lab, NB, "w.site, w.layer, w.position, w.pair") == "('resid', 3, 7, 1)"
    same_top(listed(page), expected_top(ds, "top", (1, 0, 3, 7)))

    # keyboard: arrows move the selected cell, and the kernel follows
    page.locator(MAP).focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowUp")
    expect(page.locator(".wb-pm-top")).to_have_attribute("data-cell", "resid,2,6")
    assert kernel_eval(lab, NB, "w.layer, w.position") == "(2, 6)"
    same_top(listed(page), expected_top(ds, "top", (1, 0, 2, 6)))
    # and the other way: the kernel moves the selection, the page follows
    kernel_eval(lab, NB, "w.layer, w.position = 4, 0")
    expect(page.locator(".wb-pm-top")).to_have_attribute("data-cell", "resid,4,0")
    expect(page.locator(MAP)).to_have_attribute("data-selected", "4,0")
    same_top(listed(page), expected_top(ds, "top", (1, 0, 4, 0)))
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    expect(page.locator(".wb-pm-top")).to_have_attribute("data-cell", "resid,2,7")
    page.keyboard.press("ArrowLeft")
    expect(page.locator(".wb-pm-top")).to_have_attribute("data-cell", "resid,2,6")
    assert kernel_eval(lab, NB, "w.layer, w.position") == "(2, 6)"

    # hover reads the value
    page.locator(MAP).hover(position=dict(zip("xy", centre(g, 2, 6))))
    tip = page.locator(".wb-pm-tooltip")
    expect(tip).to_contain_text(f"effect {float(ds.effect.values[1, 0, 2, 6]):.3f}".replace("-", "−"))
    expect(tip).to_contain_text('resid · layer 2 · " Paul" (pos 6)')  # pair 1's second S
    expect(tip).to_contain_text('corrupted: " Omar"')

    # attn: the tab reaches the kernel, its last layer is NaN (hatched)
    page.locator("button.wb-pm-tab[data-site='attn']").click()
    wait_view(page, view="attn")
    assert kernel_eval(lab, NB, "w.site") == "'attn'"
    check_cells(page, ds.effect.values[1, 1], m1, [(1, 3), (2, 7), (0, 0)])
    for col in (0, 5):
        check_nan_cell(page, 4, col)
    same_top(listed(page), expected_top(ds, "top", (1, 1, 2, 6)))

    # the head view: layer x head, its own domain; a click sets layer and head
    page.locator("button.wb-pm-tab[data-site='head']").click()
    wait_view(page, view="head")
    mh = domain(ds.head_effect.values[1], at.head_effect.values[1])
    check_cells(page, ds.head_effect.values[1], mh, [(2, 1), (3, 2), (0, 0), (1, 3)])
    gh = geometry(page)
    page.locator(MAP).click(position=dict(zip("xy", centre(gh, 2, 1))))
    expect(page.locator(".wb-pm-top")).to_have_attribute("data-cell", "head,2,1")
    assert kernel_eval(lab, NB, "w.site, w.layer, w.head") == "('head', 2, 1)"
    same_top(listed(page), expected_top(ds, "head_top", (1, 2, 1)))

    # attribution: the toggle reaches the kernel and redraws with the attribution map; r per site is shown
    page.locator("button.wb-pm-tab[data-site='resid']").click()
    page.locator("button.wb-pm-method[data-method='attribution']").click()
    wait_view(page, view="resid", method="attribution")
    assert kernel_eval(lab, NB, "w.method") == "'attribution'"
    check_cells(page, at.effect.values[1, 0], m1, cells)
    r = page.locator(".wb-pm-r")
    for site, value in zip(("resid", "attn", "mlp"), at.pearson_r.values):
        expect(r).to_contain_text(f"{site} {value:.2f}")
    expect(page.locator("button.wb-pm-tab[data-site='attn']")).to_contain_text(f"r {at.pearson_r.values[1]:.2f}")
    # the top-k of the exact patch still lists (the attribution Dataset has none)
    expect(page.locator(".wb-pm-top")).to_contain_text("of the exact patch")

    # dark theme: the layer labels are redrawn in the theme's light text colour
    g = geometry(page)
    box = (4, int(g["y0"]), int(g["x0"]) - 2, int(g["y0"] + 5 * g["ch"]))
    light = luma_of_ink(page, *box)
    drawn = int(page.locator(MAP).get_attribute("data-drawn"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("n => Number(document.querySelector('canvas.wb-pm-map').dataset.drawn) > n", arg=drawn)
    time.sleep(0.5)
    dark = luma_of_ink(page, *box)
    assert light < 130 < dark, (light, dark)
    check_cells(page, at.effect.values[1, 0], m1, cells)  # the scale itself does not change with the theme
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".wb-pm").screenshot(path=SHOTS / "patch_map_dark.png")
    drawn = int(page.locator(MAP).get_attribute("data-drawn"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("n => Number(document.querySelector('canvas.wb-pm-map').dataset.drawn) > n", arg=drawn)
    time.sleep(0.5)
    assert luma_of_ink(page, *box) < 130
    shot = SHOTS / "patch_map.png"
    page.locator(".wb-pm").screenshot(path=shot)
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOT") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS / "patch_map.png")
    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-pm" in e or "patch_map" in e], page.console_errors
    TIMINGS["patch_map_test_s"] = time.perf_counter() - t0


# ----------------------------------------------------------------------------------------- an exported page
def test_patch_map_page_from_file(file_page, tmp_path, data):
    """to_html from file:// with every other request blocked: the map draws, other pairs and the top-k list come
    from the saved state; a widget over its budget says a pair needs a live kernel."""
    from playwright.sync_api import expect

    from workbench.widgets import PatchMap
    from workbench.widgets.export import to_html

    ds, at = data
    page = file_page
    ws = [PatchMap(ds, attribution=at), PatchMap(ds, offline_budget=0)]
    assert ws[0]._offline["pairs"] == "state" and ws[1]._offline["pairs"] == "kernel"
    open_page(page, to_html(ws, tmp_path / "patching.html", title="Patching"), 2)
    first = widget(0, MAP)
    wait_view(page, pair=-1, view="resid", sel=first)
    mean, mean_at = nanmean0(ds.effect.values), nanmean0(at.effect.values)
    cells = [(0, 1), (1, 6), (2, 6), (3, 7), (0, 0)]
    check_cells(page, mean[0], domain(mean, mean_at), cells, first)

    # a click in the mean view lists every pair's top changes (all pairs are saved)
    g = geometry(page, first)
    page.locator(first).click(position=dict(zip("xy", centre(g, 3, 7))))
    top = widget(0, ".wb-pm-top")
    expect(page.locator(top)).to_have_attribute("data-cell", "resid,3,7")
    for p in range(3):
        same_top(listed(page, widget(0, f".wb-pm-toppair[data-pair='{p}']")), expected_top(ds, "top", (p, 0, 3, 7)))

    # another pair from the saved state: its colours, its top-k
    page.locator(widget(0, "select.wb-pm-pair")).select_option("2")
    page.wait_for_function("c => c.dataset.pair === '2'", arg=page.locator(first).element_handle())
    m2 = domain(ds.effect.values[2], at.effect.values[2])
    check_cells(page, ds.effect.values[2, 0], m2, cells[:-2] + [(1, 1)])
    check_nan_cell(page, 3, 7, first)  # pair 2 is one token shorter
    page.locator(first).click(position=dict(zip("xy", centre(g, 1, 6))))
    expect(page.locator(top)).to_have_attribute("data-cell", "resid,1,6")
    same_top(listed(page, top), expected_top(ds, "top", (2, 0, 1, 6)))

    # over budget: the mean draws; a pair needs a kernel and the page says so
    second = widget(1, MAP)
    wait_view(page, pair=-1, sel=second)
    check_cells(page, mean[0], domain(mean), cells, second)
    note = page.locator(widget(1, ".wb-pm-kernelnote"))
    expect(note).to_be_hidden()
    page.locator(widget(1, "select.wb-pm-pair")).select_option("1")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Pair 1 needs a live kernel")
    expect(note).to_contain_text("over the 0-byte offline budget")
    page.locator(widget(1, "select.wb-pm-pair")).select_option("-1")
    expect(note).to_be_hidden()
    page.screenshot(path=SHOTS / "page_patch_map.png", full_page=True)
    assert_offline(page)
