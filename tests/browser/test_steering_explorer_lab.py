"""SteeringExplorer in real JupyterLab + headless Chromium, and as an exported page from file://, on the synthetic
steering Dataset of tests/steering_data.py.

The shown generations are read from the DOM and must be the Dataset's ``text`` at the selected coefficient (and at
coef 0 beside it); the kernel's ``coef`` trait follows the slider (keyboard) and the page follows the kernel. The
evaluation canvas is read pixel by pixel: the cursor is the 2-px column of the documented cursor colour at
round(x(coef)) - 1 and round(x(coef)), x(c) = 56 + (c - cmin) / (cmax - cmin) * 388 CSS px (widgets/steering_explorer
/data.js, written out again here), and the steering curve's dots sit at the documented (x, y) of each score. The
exported page draws and explores from its saved state with every other request blocked. No request leaves the
machine."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from wb_lab import ROOT, SHOTS, TIMINGS, assert_no_external_requests, kernel_eval, open_and_run_all, write_notebook
from wb_pages import assert_offline, file_page, open_page, widget  # noqa: F401 - file_page is a fixture

pytestmark = pytest.mark.browser
sys.path.insert(0, str(ROOT / "tests"))
NB = "steering_explorer.ipynb"
PRELUDE = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
CURVE = "canvas.wb-se-curve"
# the documented geometry and colours (widgets/steering_explorer/data.js, draw.js)
LEFT, RIGHT_EDGE, TOP, MAIN = 56, 460 - 16, 14, 200
CURSOR = (232, 89, 12)
STEER = (28, 126, 214)


@pytest.fixture(scope="module")
def ds():
    from steering_data import make_steering

    return make_steering()


def x_of(ds, c: float) -> float:
    coefs = ds["coef"].values.astype(float)
    return LEFT + (c - coefs.min()) / (coefs.max() - coefs.min()) * (RIGHT_EDGE - LEFT)


def y_of(ds, v: float) -> float:
    """y of a score in the main panel: the range of every score and band value, padded by 5%, hi at the top."""
    vals = np.concatenate([ds["score"].values.ravel(), ds["random_low"].values, ds["random_high"].values])
    lo, hi = float(vals.min()), float(vals.max())
    lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
    return TOP + MAIN - (v - lo) / (hi - lo) * MAIN


def pixels(page, sel: str) -> tuple[np.ndarray, int]:
    """The canvas bitmap as (h, w, 4) and its device pixel ratio."""
    w, h, data, dpr = page.eval_on_selector(sel, """c => [c.width, c.height,
        Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data), Number(c.dataset.dpr)]""")
    return np.array(data, np.int16).reshape(h, w, 4), int(dpr)


def cursor_columns(page, sel: str = CURVE) -> list[int]:
    """Bitmap columns (in CSS px) where the cursor colour fills at least 90% of the main panel's rows."""
    img, dpr = pixels(page, sel)
    band = img[TOP * dpr:(TOP + MAIN) * dpr, :, :3]
    hit = (np.abs(band - np.array(CURSOR)).sum(-1) <= 6).mean(0) >= 0.9
    return sorted({int(c) // dpr for c in np.nonzero(hit)[0]})


def expected_cursor(ds, c: float) -> list[int]:
    x = round(x_of(ds, c))
    return [x - 1, x]


def wait_coef(page, c: float, sel: str = CURVE) -> None:
    page.wait_for_function("([e, c]) => e && Number(e.dataset.coef) === c",
                           arg=[page.locator(sel).element_handle(), float(c)], timeout=30_000)


def shown(page, which: str, root: str = "") -> str:
    sel = (root + " >> " if root else "") + f".wb-se-pane[data-which='{which}'] .wb-se-gen"
    return page.locator(sel).first.text_content()


def check_text(page, ds, coef: float, prompt: int, root: str = "") -> None:
    from playwright.sync_api import expect

    want = str(ds["text"].sel(coef=coef).values[prompt])
    sel = (root + " >> " if root else "") + ".wb-se-pane[data-which='steered'] .wb-se-gen"
    expect(page.locator(sel).first).to_have_text(want)
    assert shown(page, "unsteered", root) == str(ds["text"].sel(coef=0.0).values[prompt])
    # the touched generated positions are marked, the others not
    marks = page.locator(sel + " >> .wb-se-gtok")
    got = [("touched" in (marks.nth(i).get_attribute("class") or "")) for i in range(marks.count())]
    toks = [str(t) for t in ds["token"].sel(coef=coef).values[prompt] if str(t)]
    assert got == list(ds["touched"].sel(coef=coef).values[prompt, : len(toks)])


def check_dots(page, ds, sel: str = CURVE, skip: float | None = None) -> None:
    """The steering curve's dot centres are the steer colour at the documented (x, y) of each score."""
    img, dpr = pixels(page, sel)
    steer = ds["score"].sel(baseline="steer").values
    for c, v in zip(ds["coef"].values.astype(float), steer):
        if skip is not None and c == skip:
            continue
        x, y = x_of(ds, c), y_of(ds, float(v))
        px = img[int(y * dpr), int(x * dpr), :3]
        assert np.abs(px - np.array(STEER)).sum() <= 30, (c, v, px.tolist())


# ------------------------------------------------------------------------------------------------- JupyterLab
def test_steering_explorer_in_jupyterlab(lab, page, ds):
    from playwright.sync_api import expect

    t0 = time.perf_counter()
    # offline_budget=0: only the picked prompt's generations travel, so another prompt comes from the kernel
    write_notebook(lab["root"] / NB, [
        PRELUDE + "from steering_data import make_steering\nfrom workbench.widgets import SteeringExplorer\n"
        "ds = make_steering()\nw = SteeringExplorer(ds, coef=4.0, prompt=1, offline_budget=0)\nw",
    ])
    open_and_run_all(page, lab, NB)
    wait_coef(page, 4.0)
    TIMINGS["steering_explorer_render_s"] = time.perf_counter() - t0
    assert kernel_eval(lab, NB, "sorted(w._texts), w._offline['texts']") == "(['0:1'], 'kernel')"
    check_text(page, ds, 4.0, 1)
    assert cursor_columns(page) == expected_cursor(ds, 4.0)
    check_dots(page, ds, skip=4.0)
    expect(page.locator(".wb-se-readout")).to_contain_text(
        f"score {float(ds['score'].sel(baseline='steer', coef=4.0)):.3f}")

    # (1) the keyboard moves the slider: the kernel's coef, the shown text and the cursor follow
    page.locator("input.wb-se-slider").focus()
    page.keyboard.press("ArrowRight")
    wait_coef(page, 8.0)
    check_text(page, ds, 8.0, 1)
    assert kernel_eval(lab, NB, "w.coef") == "8.0"
    assert cursor_columns(page) == expected_cursor(ds, 8.0)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    wait_coef(page, 0.0)
    assert kernel_eval(lab, NB, "w.coef") == "0.0"
    assert cursor_columns(page) == expected_cursor(ds, 0.0)
    check_text(page, ds, 0.0, 1)

    # (2) the kernel moves the coefficient: the slider, the text and the cursor follow
    kernel_eval(lab, NB, "w.coef = -8.0")
    wait_coef(page, -8.0)
    assert page.locator("input.wb-se-slider").input_value() == "0"
    check_text(page, ds, -8.0, 1)
    assert cursor_columns(page) == expected_cursor(ds, -8.0)

    # another prompt: the kernel sends its generations
    page.select_option("select.wb-se-prompt", "2")
    expect(page.locator(".wb-se-panes")).to_have_attribute("data-shown", "0:2:-8")
    assert kernel_eval(lab, NB, "w.prompt, sorted(w._texts)") == "(2, ['0:2'])"
    check_text(page, ds, -8.0, 2)
    expect(page.locator(".wb-se-kernelnote")).to_be_hidden()
    # the prompt's touched tokens are underlined
    ptoks = page.locator(".wb-se-pane[data-which='steered'] .wb-se-ptok")
    got = ["touched" in (ptoks.nth(i).get_attribute("class") or "") for i in range(ptoks.count())]
    assert got == list(ds["prompt_touched"].values[2, : ptoks.count()])
    # the extras are shown
    for name in ("layers", "frozen", "sparsity", "ov"):
        expect(page.locator(f".wb-se-extra[data-extra='{name}']")).to_be_visible()
    expect(page.locator(".wb-se-extra[data-extra='frozen']")).to_contain_text("0.70")
    expect(page.locator(".wb-se-ov")).to_contain_text('" happy"')

    # dark theme: the widget's text follows the theme; the marks (and the cursor) keep their colours
    def luma() -> float:
        rgb = page.eval_on_selector(".wb-se-title", "e => getComputedStyle(e).color")
        r, g, b = (float(v) for v in rgb[rgb.index("(") + 1: rgb.index(")")].split(",")[:3])
        return 0.299 * r + 0.587 * g + 0.114 * b

    light = luma()
    drawn = int(page.locator(CURVE).get_attribute("data-drawn"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("n => Number(document.querySelector('canvas.wb-se-curve').dataset.drawn) > n", arg=drawn)
    time.sleep(0.5)
    assert light < 130 < luma(), (light, luma())
    assert cursor_columns(page) == expected_cursor(ds, -8.0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".wb-se").screenshot(path=SHOTS / "steering_explorer_dark.png")
    drawn = int(page.locator(CURVE).get_attribute("data-drawn"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("n => Number(document.querySelector('canvas.wb-se-curve').dataset.drawn) > n", arg=drawn)
    time.sleep(0.5)
    assert luma() < 130
    page.locator(".wb-se").screenshot(path=SHOTS / "steering_explorer.png")
    assert_no_external_requests(page)
    assert not [e for e in page.console_errors if "wb-se" in e or "steering" in e], page.console_errors
    TIMINGS["steering_explorer_test_s"] = time.perf_counter() - t0


# ----------------------------------------------------------------------------------------- an exported page
def test_steering_explorer_page_from_file(file_page, tmp_path, ds):
    """to_html from file:// with every other request blocked: the curve and the texts draw, the slider and the
    prompt picker read every generation from the saved state; a widget over its budget says a prompt needs a
    kernel."""
    from playwright.sync_api import expect

    from workbench.widgets import SteeringExplorer
    from workbench.widgets.export import to_html

    page = file_page
    ws = [SteeringExplorer(ds, coef=8.0), SteeringExplorer(ds, offline_budget=0)]
    assert ws[0]._offline["texts"] == "state" and ws[1]._offline["texts"] == "kernel"
    open_page(page, to_html(ws, tmp_path / "steering.html", title="Steering"), 2)
    first, root = widget(0, CURVE), widget(0)
    wait_coef(page, 8.0, first)
    check_text(page, ds, 8.0, 0, root)
    assert cursor_columns(page, first) == expected_cursor(ds, 8.0)
    check_dots(page, ds, first, skip=8.0)

    # the slider, from the saved state
    page.locator(widget(0, "input.wb-se-slider")).focus()
    page.keyboard.press("ArrowLeft")
    wait_coef(page, 4.0, first)
    check_text(page, ds, 4.0, 0, root)
    assert cursor_columns(page, first) == expected_cursor(ds, 4.0)
    page.locator(widget(0, "select.wb-se-prompt")).select_option("2")
    expect(page.locator(widget(0, ".wb-se-panes"))).to_have_attribute("data-shown", "0:2:4")
    check_text(page, ds, 4.0, 2, root)

    # over budget: the curve and the first prompt draw; another prompt needs a kernel and the page says so
    second = widget(1, CURVE)
    wait_coef(page, 16.0, second)
    assert cursor_columns(page, second) == expected_cursor(ds, 16.0)
    check_text(page, ds, 16.0, 0, widget(1))
    note = page.locator(widget(1, ".wb-se-kernelnote"))
    expect(note).to_be_hidden()
    page.locator(widget(1, "select.wb-se-prompt")).select_option("1")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Prompt 1 needs a live kernel")
    expect(note).to_contain_text("over the 0-byte offline budget")
    page.screenshot(path=SHOTS / "page_steering_explorer.png", full_page=True)
    assert_offline(page)
