"""LatentDecoder in real JupyterLab + headless Chromium: the grid is drawn (cell colours checked pixel by pixel against
the probabilities), the top-1 tokens and the decoded-trace overlay are drawn, hover shows a cell's top-k tokens,
picking another problem (menu, keyboard, filter) redraws and reaches the kernel, the dark theme redraws the labels,
and a lens-mode view of a real workbench.logit_lens on a tiny model; no request leaves the machine."""

from __future__ import annotations

import ast
import json
import os
import shutil
import time

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

pytestmark = pytest.mark.browser

NB, LENS_NB = "latent_decoder.ipynb", "latent_lens.ipynb"
PRELUDE = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
VIRIDIS = [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
           (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)]


def _viridis(p: float) -> list[int]:
    """The documented colour scale: p quantised to code round(p*254), linearly through 10 viridis stops, opaque."""
    code = int(np.floor(p * 254 + 0.5))
    t = code / 254 * 9
    i = min(8, int(t))
    f = t - i
    return [int(np.floor(a + f * (b - a) + 0.5)) for a, b in zip(VIRIDIS[i], VIRIDIS[i + 1])] + [255]


def _luma(px: list[int]) -> float:
    return 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]


def _geo(page) -> dict:
    return page.eval_on_selector(".wb-ld-stage", "s => ({...s.dataset})")


def _center(geo: dict, layer: int, col: int) -> tuple[float, float]:
    """Cell centre on the stage; rows are drawn last layer first (data-row-order)."""
    assert geo["rowOrder"] == "last-layer-first"
    cw, ch, n = float(geo["cellW"]), float(geo["cellH"]), int(geo["nRows"])
    return float(geo["x0"]) + col * cw + cw / 2, float(geo["y0"]) + (n - 1 - layer) * ch + ch / 2


def _wait_problem(page, problem: int) -> None:
    try:
        page.wait_for_function("p => { const s = document.querySelector('.wb-ld-stage');"
                               " return s && s.dataset.problem === String(p); }", arg=problem, timeout=30_000)
    except Exception as e:
        raise AssertionError(f"stage never showed problem {problem}: {_geo(page)}; console {page.console_errors}") from e


def _cell(page, layer: int, col: int) -> list[int]:
    return canvas_pixel(page, "canvas.wb-ld-cells", *_center(_geo(page), layer, col))


def test_latent_decoder_in_jupyterlab(lab, page):
    from playwright.sync_api import expect

    from test_latent_decoder import HIGH, LOW, make_latent

    t0 = time.perf_counter()
    ds = make_latent()
    write_notebook(lab["root"] / NB, [
        PRELUDE + "from test_latent_decoder import make_latent\nfrom workbench.widgets import LatentDecoder\n"
        "w = LatentDecoder(make_latent())\nw",
    ])
    open_and_run_all(page, lab, NB)
    _wait_problem(page, 0)
    TIMINGS["latent_decoder_render_s"] = time.perf_counter() - t0
    geo = _geo(page)
    assert (geo["mode"], geo["nRows"], geo["nCols"]) == ("latent", "4", "7")  # 6 latent steps + the answer

    # cells: every cell is the viridis colour of its top-1 probability; the planted result cell (layer 3, latent 1)
    # is brighter than the planted low cell (layer 0, latent 0)
    top1 = ds.prob.isel(problem=0, rank=0).transpose("layer", "latent").values
    for layer, col in [(3, 1), (0, 0), (2, 4), (1, 5), (3, 3)]:
        assert _cell(page, layer, col) == _viridis(float(top1[layer, col])), (layer, col)
    high, low = _cell(page, 3, 1), _cell(page, 0, 0)
    assert top1[3, 1] == pytest.approx(HIGH) and top1[0, 0] == pytest.approx(LOW)
    assert _luma(high) > _luma(low) + 100 and high[1] > low[1]
    assert geo["tokensDrawn"] == "1"
    # answer column: read out at the last layer only; the layers below are transparent
    assert _cell(page, 3, 6) == _viridis(float(ds.answer_prob.values[0, 0])) and _cell(page, 0, 6)[3] == 0

    # trace overlay: 4 arrows (3, 4 from the question -> 6; 6 from latent 1 and 5 from the question -> 11) and two
    # verification badges; the trace canvas has arrow ink at each arrow's midpoint, and nothing at an empty cell
    assert geo["arrows"] == "4" and geo["badges"] == "3/3,2/3"
    arrows = json.loads(page.locator("canvas.wb-ld-trace").get_attribute("data-arrows"))
    assert sorted(a[4] for a in arrows) == ["latent", "question", "question", "question"]
    for x0, y0, x1, y1, _ in arrows:
        px = canvas_pixel(page, "canvas.wb-ld-trace", (x0 + x1) / 2, (y0 + y1) / 2)
        assert px[3] > 100 and px[0] > px[1] + 80, px  # the overlay's red
    assert canvas_pixel(page, "canvas.wb-ld-trace", *_center(geo, 0, 5))[3] == 0
    segs = json.loads(geo["segments"])
    assert [s[2] for s in segs if s[2] is not None] == [2, 3, 5]
    expect(page.locator(".wb-ld-gold .wb-ld-val")).to_have_text("<<2*3=6>><<6+5=11>>")
    expect(page.locator(".wb-ld-step")).to_have_count(2)
    expect(page.locator(".wb-ld-step .wb-ld-badge").first).to_have_text("✓ 3/3")

    # hover: the tooltip lists the cell's top-k tokens with their (quantised) probabilities
    trace = page.locator("canvas.wb-ld-trace")
    x, y = _center(geo, 3, 1)
    trace.hover(position={"x": x, "y": y})
    tip = page.locator(".wb-ld-tooltip")
    expect(tip).to_be_visible()
    q = np.floor(ds.prob.values[0, 1, 3] * 254 + 0.5) / 254
    toks = ds.token.values[0, 1, 3]
    expect(tip).to_contain_text("layer 3 · z1")
    expect(tip).to_contain_text(f' 1. "6"  {q[0]:.3f}')
    expect(tip).to_contain_text(f' 5. "{toks[4]}"  {q[4]:.3f}')
    expect(tip).to_contain_text(f"entropy {ds.entropy.values[0, 1, 3]:.2f} nats")

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "latent_decoder.png"
    page.locator(".wb-ld").screenshot(path=shot)
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOT") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS / "latent_decoder.png")

    # pick problem 1 from the menu: the kernel sees it, the grid redraws with the new problem's cells
    t1 = time.perf_counter()
    page.select_option("select.wb-ld-problem", "1")
    _wait_problem(page, 1)
    TIMINGS["latent_decoder_pick_redraw_s"] = time.perf_counter() - t1
    assert kernel_eval(lab, NB, "w.problem") == "1"
    top1 = ds.prob.isel(problem=1, rank=0).transpose("layer", "latent").values
    assert _cell(page, 3, 1) == _viridis(float(top1[3, 1])) and _luma(_cell(page, 3, 1)) < _luma(high) - 100
    assert _cell(page, 3, 2) == _viridis(HIGH)
    geo = _geo(page)
    assert geo["badges"] == "0/3,0/3" and geo["arrows"] == "4"
    expect(page.locator(".wb-ld-answer .wb-ld-val")).to_contain_text("✗ incorrect")

    # keyboard: Enter on the focused "next" button -> problem 2 (trace not found: no arrows)
    page.locator("button.wb-ld-next").focus()
    page.keyboard.press("Enter")
    _wait_problem(page, 2)
    assert kernel_eval(lab, NB, "w.problem") == "2"
    assert _geo(page)["arrows"] == "0"

    # filter "incorrect": the kernel filters, problem 2 is hidden so the selection moves to problem 1
    page.select_option("select.wb-ld-filter-correct", "incorrect")
    _wait_problem(page, 1)
    assert kernel_eval(lab, NB, "w.filter, w._visible") == "('incorrect', [1, 3])"
    expect(page.locator("select.wb-ld-problem option")).to_have_count(2)

    # Python-side selection redraws too
    kernel_eval(lab, NB, "w.filter = 'all'; w.problem = 0")
    _wait_problem(page, 0)
    assert _cell(page, 3, 1) == high

    # dark theme: labels are redrawn in the theme's (light) font colour
    def label_ink() -> float:
        g = _geo(page)
        return page.eval_on_selector("canvas.wb-ld-text", """(c, w) => {
            const d = c.getContext('2d').getImageData(0, 0, w, c.height).data; let s = 0, n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200) { s += (d[i] + d[i + 1] + d[i + 2]) / 3; n++; }
            return n ? s / n : -1; }""", int(float(g["x0"])) - 2)
    assert 0 <= label_ink() < 140
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_function("() => getComputedStyle(document.querySelector('.wb-ld'))"
                           ".getPropertyValue('--jp-ui-font-color1').includes('255')")
    page.wait_for_timeout(300)
    assert label_ink() > 150
    page.locator(".wb-ld").screenshot(path=SHOTS / "latent_decoder_dark.png")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")

    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-ld" in e or "latent" in e.lower()], page.console_errors
    TIMINGS["latent_decoder_test_s"] = time.perf_counter() - t0


def test_latent_decoder_as_logit_lens(lab, page):
    from playwright.sync_api import expect

    write_notebook(lab["root"] / LENS_NB, [
        PRELUDE + "from tiny_models import tiny_model, char_tokenizer\nimport workbench as wb, json\n"
        "from workbench.widgets import LatentDecoder\n"
        "lens = wb.logit_lens(wb.load_model(tiny_model('llama'), char_tokenizer()), ['2+3=5', 'hi'], k=3)\n"
        "w = LatentDecoder(lens)\nw",
    ])
    open_and_run_all(page, lab, LENS_NB)
    _wait_problem(page, 0)
    geo = _geo(page)
    assert (geo["mode"], geo["nCols"]) == ("lens", "5")
    top1 = np.array(json.loads(ast.literal_eval(kernel_eval(
        lab, LENS_NB, "json.dumps(lens.prob.isel(prompt=0, rank=0).values.tolist())"))))
    n_layers = top1.shape[0]
    assert geo["nRows"] == str(n_layers)
    for layer in range(n_layers):
        for col in range(5):
            assert _cell(page, layer, col) == _viridis(float(top1[layer, col])), (layer, col)
    expected_tok = json.loads(ast.literal_eval(kernel_eval(lab, LENS_NB, "json.dumps(str(lens.token.values[0, -1, 3, 0]))")))
    trace = page.locator("canvas.wb-ld-trace")
    x, y = _center(geo, n_layers - 1, 3)
    trace.hover(position={"x": x, "y": y})
    tip = page.locator(".wb-ld-tooltip")
    expect(tip).to_contain_text(f'layer {n_layers - 1} · position 3 "="')
    expect(tip).to_contain_text(f" 1. {json.dumps(expected_tok)}")
    expect(tip).to_contain_text("entropy")
    # prompt picker: the second prompt has 2 tokens (padding dropped)
    expect(page.locator(".wb-ld-filters")).to_be_hidden()
    page.select_option("select.wb-ld-problem", "1")
    _wait_problem(page, 1)
    assert _geo(page)["nCols"] == "2"
    assert kernel_eval(lab, LENS_NB, "w.problem") == "1"
    page.locator(".wb-ld").screenshot(path=SHOTS / "latent_decoder_lens.png")
    assert_no_external_requests(page)
