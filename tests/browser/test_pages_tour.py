"""`workbench export notebooks/00_tour.ipynb -o PAGE --execute` (the console script, as a subprocess) gives one file
that, opened from file:// with every other request aborted, draws every widget of the tour where its cell put it,
and each one redraws a selection that would have needed the kernel with the right pixels: another head of the
SmolLM2 maps and of the Dyck map, another model of the population, another layer of the in-context study."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from test_pages_widgets import check_head, click_head, wait_zoom
from wb_lab import ROOT, SHOTS, TIMINGS, weight_code
from wb_pages import assert_offline, file_page, open_page, widget  # noqa: F401 - file_page is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages") / "00_tour.html"
    t0 = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "workbench.cli", "export", str(ROOT / "notebooks" / "00_tour.ipynb"),
                          "-o", str(out), "--execute"], capture_output=True, text=True, timeout=1200, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    TIMINGS["tour_export_s"] = time.perf_counter() - t0
    TIMINGS["tour_page_bytes"] = out.stat().st_size
    text = out.read_text()
    body = re.search(r'<script type="application/vnd\.jupyter\.widget-state\+json">\s*(.*?)\s*</script>', text, re.S)
    state = json.loads(body.group(1))["state"]
    views = [json.loads(v) for v in re.findall(
        r'<script type="application/vnd\.jupyter\.widget-view\+json">\s*(.*?)\s*</script>', text, re.S)]
    return out, state, [v["model_id"] for v in views]


def saved(state: dict, model_id: str) -> dict:
    """One widget's saved state with its buffers back as bytes (top-level binary traits)."""
    entry = state[model_id]
    out = dict(entry["state"])
    for b in entry.get("buffers", []):
        if len(b["path"]) == 1:
            out[b["path"][0]] = base64.b64decode(b["data"])
    return out


def kinds(state: dict, ids: list[str]) -> list[str]:
    """What each drawn view is: its widget's bundle name, or the ipywidgets model name (tqdm's progress bars)."""
    out = []
    for i in ids:
        esm = state[i]["state"].get("_esm", "")
        m = re.search(r"var (\w+)_default = \{", esm)
        out.append(m.group(1) if m else state[i]["model_name"])
    return out


def heads_of(st: dict) -> np.ndarray:
    """Every head's codes from the saved state: `_heads`, or the thumbnails when they were never pooled."""
    if st["_heads_meta"]:
        return np.frombuffer(st["_heads"], np.uint8).reshape(st["_heads_meta"]["shape"])
    assert st["_thumbs_meta"]["pool"] == [1, 1]
    return np.frombuffer(st["_thumbs"], np.uint8).reshape(st["_thumbs_meta"]["shape"])


def test_tour_page(tour, file_page):
    from playwright.sync_api import expect

    import workbench as wb
    from test_graph_reorganization_lab import check_points
    from workbench.studies.incontext import shipped_path
    from workbench.studies import dyck as population
    from workbench.zoo.tasks import dyck

    page = file_page
    path, state, ids = tour
    kind = kinds(state, ids)
    assert kind.count("attention_map") == 3 and kind.count("population_explorer") == 1, kind
    assert kind.count("graph_reorganization") == 1, kind
    t0 = time.perf_counter()
    open_page(page, path, len(ids))
    TIMINGS["tour_page_ready_s"] = time.perf_counter() - t0
    # the runtime drew each view where its cell put it: host k holds view k's model
    hosts = page.eval_on_selector_all(".wb-page-widget", "hs => hs.map(h => h.dataset.modelId)")
    assert hosts == ids

    # the SmolLM2 maps (cell `w` and the map re-opened from netCDF): another head, from the saved state
    model = wb.load_model("smollm2-135m")
    attn = wb.attention(model, TEXT).values
    maps = [k for k, name in enumerate(kind) if name == "attention_map"]
    for k, (layer, head) in zip(maps[:2], [(20, 5), (29, 8)]):
        st = saved(state, ids[k])
        codes = heads_of(st)[layer, head]
        independent = np.vectorize(weight_code)(attn[layer, head])
        assert np.abs(codes.astype(int) - independent).max() <= 1  # the kernel's codes are this attention's
        wait_zoom(page, k, 3, 0, "snapshot")
        click_head(page, k, layer, head)
        wait_zoom(page, k, layer, head, "state")
        n = codes.shape[0]
        check_head(page, k, codes / 254, [(q, kk) for q in range(n) for kk in range(0, q + 1, 3)])

    # the Dyck representative: another head than the best one shown first
    k = maps[2]
    st = saved(state, ids[k])
    rep = wb.load_model("dyck-hierarchical")
    dyck_attn = wb.attention(rep, dyck.to_text("(()))(()")).values
    layer, head = (st["layer"] + 1) % st["n_layers"], (st["head"] + 1) % st["n_heads"]
    codes = heads_of(st)[layer, head]
    assert np.abs(codes.astype(int) - np.vectorize(weight_code)(dyck_attn[layer, head])).max() <= 1
    click_head(page, k, layer, head)
    wait_zoom(page, k, layer, head, "state")
    check_head(page, k, codes / 254, [(q, kk) for q in range(codes.shape[0]) for kk in range(q + 1)])
    expect(page.locator(widget(k, "canvas.wb-am-strip"))).to_have_attribute("data-rows", "1")  # the depth strip

    # the population: a click on a model opens its example attention, from the saved state
    k = kind.index("population_explorer")
    pop = wb.load(population.shipped_path())
    sc = page.locator(widget(k, "canvas.wb-pe-scatter"))
    pos = {int(m): tuple(v) for m, v in json.loads(sc.get_attribute("data-pos")).items()}
    from test_population_explorer_lab import _isolated

    m = next(i for i in _isolated(pos) if int(pop.n_layers[i]) > 1)
    sc.click(position=dict(zip("xy", pos[m])))
    expect(page.locator(widget(k, ".wb-pe-right"))).to_have_attribute("data-map-from", "state")
    wait_zoom(page, k, 0, 0, "state", ".wb-pe-map ")
    toks = [t for t in pop.example_token.values[0] if t]
    n = len(toks)
    att = pop.example_attention.values[m, 0, 0, 0, :n, :n].astype(np.float32)
    check_head(page, k, att, [(q, kk) for q in range(n) for kk in range(q + 1)], ".wb-pe-map ")

    # the in-context study: another layer from the saved bundle
    k = kind.index("graph_reorganization")
    ds = wb.load(shipped_path("gemma3_grid"))
    T = int(page.locator(widget(k, ".wb-gr")).get_attribute("data-context"))
    page.locator(widget(k, "select.wb-gr-layer")).select_option("9")
    expect(page.locator(widget(k, ".wb-gr"))).to_have_attribute("data-layer", "9")
    check_points(page, ds.pca.sel(layer=9, context=T).values[:, :2].astype(float), [int(r) for r in ds.row.values],
                 widget(k, "canvas.wb-gr-scatter"))

    # tqdm's progress bars (ipywidgets controls) are drawn too
    for k in [k for k, name in enumerate(kind) if name == "HBoxModel"]:
        expect(page.locator(widget(k))).to_contain_text("100%")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "page_tour.png", full_page=True)
    assert_offline(page)
