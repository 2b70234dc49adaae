"""Teaching pages without a browser: what `to_html` and `export_notebook` write (the state round-trips every binary
buffer, the runtime is inline, nothing points at a network), the offline budget of each widget (what goes into the
saved state, checked against the Dataset), bad input (one-sentence errors, no file left behind), and the
`workbench export` command as a subprocess. The pages are opened in Chromium by tests/browser/test_pages_*.py."""

from __future__ import annotations

import base64
import doctest
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from workbench.data import DataModelError
from workbench.widgets import AttentionMap, LatentDecoder, PopulationExplorer
from workbench.widgets import _offline, _page, export
from workbench.widgets._serialize import unit_codes
from workbench.widgets.export import export_notebook, to_html

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_latent_decoder import make_latent  # noqa: E402
from test_population_explorer import expected_codes, make_population  # noqa: E402

STATE = "application/vnd.jupyter.widget-state+json"


def attention(n_layers: int, n_heads: int, n: int, seed: int = 0) -> xr.DataArray:
    w = np.random.default_rng(seed).random((n_layers, n_heads, n, n)).astype(np.float32)
    return xr.DataArray(w, dims=("layer", "head", "query", "key"))


def references(text: str) -> list[tuple[str, str, str]]:
    """Every (tag, attribute, value) of the page's elements that would make the browser load something."""
    from html.parser import HTMLParser

    found: list[tuple[str, str, str]] = []

    class Refs(HTMLParser):  # script and style contents are raw text to this parser, as to a browser
        def handle_starttag(self, tag, attrs):
            found.extend((tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset", "data", "poster"))

    Refs().feed(text)
    return found


def page_state(text: str) -> dict:
    """The widget state of a written page, parsed back from its script element."""
    body = text.split(f'<script type="{STATE}">', 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def saved(state: dict, name: str) -> dict:
    """The saved state of the one widget whose ``_esm`` is ``name``'s bundle, with its buffers put back as bytes."""
    (entry,) = [v for v in state["state"].values() if v["model_name"] == "AnyModel" and
                f"{name}_default as default" in v["state"].get("_esm", "")]
    out = dict(entry["state"])
    for b in entry.get("buffers", []):
        target = out
        for key in b["path"][:-1]:
            target = target[key]
        target[b["path"][-1]] = base64.b64decode(b["data"])
    return out


# ------------------------------------------------------------------------------------------------------- to_html
def test_to_html_writes_one_page_with_the_state_and_the_runtime(tmp_path):
    w = AttentionMap(attention(2, 3, 60), layer=1, head=2)
    path = to_html(w, tmp_path / "map.html", title="Heads & <tails>")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<title>Heads &amp; &lt;tails&gt;</title>" in text
    assert references(text) == []
    for needle in ("cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert needle not in text, needle
    js, css = _page.runtime()
    assert js in text and css in text  # inlined as built
    back = saved(page_state(text), "attention_map")
    # every binary trait round-trips byte for byte, the ES module and its stylesheet are in the state
    for trait in ("_thumbs", "_head", "_heads", "_annotations", "_scores"):
        assert back[trait] == getattr(w, trait), trait
    assert back["_esm"] == (Path(export.__file__).parent.parent / "static" / "attention_map.js").read_text()
    assert back["layer"] == 1 and back["head"] == 2
    # every head at full resolution, as the weights' own codes (60 tokens: the thumbnails are pooled)
    assert back["_thumbs_meta"]["pool"] == [2, 2]
    heads = np.frombuffer(back["_heads"], np.uint8).reshape(back["_heads_meta"]["shape"])
    assert np.array_equal(heads, unit_codes(w._weights))
    assert back["_offline"] == {"complete": True, "bytes": 2 * 3 * 60 * 60, "budget": 8_000_000, "missing": "",
                                "heads": "state"}


def test_nested_buffers_round_trip(tmp_path):
    """Buffers inside dict traits (every saved map, every saved problem) come back byte for byte at their paths."""
    pe, ld = PopulationExplorer(make_population()), LatentDecoder(make_latent())
    state = page_state(to_html([pe, ld], tmp_path / "nested.html").read_text())
    maps, problems = saved(state, "population_explorer")["_maps"], saved(state, "latent_decoder")["_all"]
    assert maps.keys() == pe._maps.keys() and problems.keys() == ld._all.keys()
    for key, entry in pe._maps.items():
        for trait, value in entry.items():
            assert maps[key][trait] == value, (key, trait)
    for key, entry in ld._all.items():
        assert problems[key] == entry, key


def test_to_html_keeps_only_the_given_widgets_and_their_order(tmp_path):
    a, b = AttentionMap(attention(1, 2, 5, 1)), LatentDecoder(make_latent())
    AttentionMap(attention(1, 1, 4, 2))  # alive in the kernel, not asked for
    text = to_html([b, a], tmp_path / "two.html").read_text()
    views = [json.loads(v) for v in re.findall(r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)'
                                                  r"</script>", text)]
    assert [v["model_id"] for v in views] == [b.model_id, a.model_id]
    anymodels = [k for k, v in page_state(text)["state"].items() if v["model_name"] == "AnyModel"]
    assert sorted(anymodels) == sorted([a.model_id, b.model_id])


def test_inline_text_cannot_end_its_script_element():
    assert _page.script_json({"a": "</script><!--"}) == '{"a": "\\u003c/script>\\u003c!--"}'
    assert json.loads(_page.script_json({"a": "</script>"})) == {"a": "</script>"}
    for bad in ('x = "</script>"', 'a = "<!--"; b = "<script>"; c = 1;', "y = '</SCRIPT >'"):
        with pytest.raises(ValueError, match="cannot be inlined"):
            _page.check_inline_script(bad)
    assert _page.check_inline_script('a = "<!--"; b = "<script>"; c = "-->";')  # ends back in plain script data


@pytest.mark.parametrize("module", [_page, _offline])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("bad,match", [
    ("not a widget", r"widgets must be a workbench widget \(AttentionMap, .*\) or a list of them, got str\."),
    ([], r"widgets must hold at least one workbench widget .*got an empty list\."),
    (None, r"widgets must be a workbench widget .* got NoneType\."),
])
def test_to_html_bad_widgets(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        to_html(bad, tmp_path / "x.html")
    assert list(tmp_path.iterdir()) == []


def test_to_html_rejects_a_widget_that_is_not_a_workbench_widget(tmp_path):
    import ipywidgets

    with pytest.raises(ValueError, match=r"widgets\[1\] must be a workbench widget \(.*\), got IntSlider\."):
        to_html([AttentionMap(attention(1, 1, 3)), ipywidgets.IntSlider()], tmp_path / "x.html")
    assert list(tmp_path.iterdir()) == []


def test_to_html_bad_paths_leave_nothing(tmp_path):
    w = AttentionMap(attention(1, 1, 3))
    with pytest.raises(ValueError, match=r"path must be a file in an existing folder, got .*no/such/page\.html.* "
                                         r"\(folder .* does not exist\)\."):
        to_html(w, tmp_path / "no" / "such" / "page.html")
    with pytest.raises(ValueError, match="path must be a file path, got .*, which is a folder."):
        to_html(w, tmp_path)
    with pytest.raises(ValueError, match="path must be a file path .*got int"):
        to_html(w, 3)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    w = AttentionMap(attention(1, 1, 3))
    target = tmp_path / "page.html"
    target.write_text("old page")

    def boom(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "page_html", lambda *a: "x" * 10)  # a page ...
    monkeypatch.setattr(_page.os, "replace", boom)  # ... whose final rename fails
    with pytest.raises(RuntimeError, match="disk full"):
        to_html(w, target)
    assert target.read_text() == "old page" and [p.name for p in tmp_path.iterdir()] == ["page.html"]


# ----------------------------------------------------------------------------------------------- offline budgets
def test_attention_map_budget_decides_what_is_saved():
    da = attention(2, 2, 60)
    full = AttentionMap(da)
    assert full._heads_meta["shape"] == [2, 2, 60, 60] and len(full._heads) == 2 * 2 * 60 * 60
    over = AttentionMap(da, offline_budget=2 * 2 * 60 * 60 - 1)
    assert over._heads == b"" and over._offline["heads"] == "kernel"
    assert over._offline["missing"] == ("every head at full resolution is 14,400 bytes, over the 14,399-byte "
                                        "offline budget")
    small = AttentionMap(attention(3, 2, 12), offline_budget=0)  # unpooled thumbnails are every head already
    assert small._heads == b"" and small._offline["heads"] == "thumbnails" and small._thumbs_meta["pool"] == [1, 1]
    thumbs = np.frombuffer(small._thumbs, np.uint8).reshape(3, 2, 12, 12)
    assert np.array_equal(thumbs, unit_codes(small._weights))
    # a prompt change re-saves the heads of the new prompt
    two = xr.concat([attention(1, 2, 60, 1), attention(1, 2, 60, 2)], dim="prompt")
    w = AttentionMap(two)
    w.prompt = 1
    assert w._heads_meta["prompt"] == 1 and w._heads == unit_codes(two.values[1]).tobytes()


def test_saved_heads_travel_in_a_message_of_their_own(monkeypatch):
    """The offline data never rides with the thumbnails and the head on show, so each message stays under the cap."""
    from ipywidgets import Widget

    from workbench.widgets._serialize import MAX_MESSAGE_BYTES

    sent: list[tuple[set, int]] = []
    monkeypatch.setattr(Widget, "_send", lambda self, msg, buffers=None: sent.append(
        (set(msg.get("state", {})) | {p[0] for p in msg.get("buffer_paths", [])}, sum(len(b) for b in buffers or []))))
    AttentionMap(attention(2, 2, 60))
    with_heads = [keys for keys, _ in sent if "_heads" in keys]
    assert with_heads == [{"_heads", "_heads_meta", "_offline"}]
    assert any("_thumbs" in keys for keys, _ in sent) and all(n <= MAX_MESSAGE_BYTES for _, n in sent)
    sent.clear()
    PopulationExplorer(make_population())
    assert [keys for keys, _ in sent if "_maps" in keys] == [{"_maps", "_offline"}]
    sent.clear()
    LatentDecoder(make_latent())
    assert [keys for keys, _ in sent if "_all" in keys] == [{"_all", "_offline"}]


@pytest.mark.parametrize("budget,match", [
    (-1, "offline_budget must be a byte count >= 0, got -1."), (True, "got True"), ("8MB", "got '8MB'"),
    (20_000_000, r"offline_budget must be at most 8,388,608 bytes \(what one kernel message may carry\), got "
                 r"20,000,000\."),
])
def test_budget_must_be_a_byte_count(budget, match):
    for make in (lambda: AttentionMap(attention(1, 1, 3), offline_budget=budget),
                 lambda: PopulationExplorer(make_population(), offline_budget=budget),
                 lambda: LatentDecoder(make_latent(), offline_budget=budget)):
        with pytest.raises(DataModelError, match=match):
            make()


def test_population_explorer_saves_every_model_on_every_example():
    ds = make_population()
    w = PopulationExplorer(ds)
    n_models, n_samples = ds.sizes["model"], ds.sizes["sample"]
    assert sorted(w._maps) == sorted(f"{m}/{s}" for m in range(n_models) for s in range(n_samples))
    assert w._offline["maps"] == "state" and w._offline["complete"]
    att = ds.example_attention.values
    for m, s in [(0, 0), (n_models - 1, 2), (7, 1)]:
        entry = w._maps[f"{m}/{s}"]
        n_l, n_h = int(ds.n_layers[m]), int(ds.n_heads[m])
        n = len([t for t in ds.example_token.values[s] if t])
        thumbs = np.frombuffer(entry["_thumbs"], np.uint8).reshape(n_l, n_h, n, n)
        assert np.array_equal(thumbs, expected_codes(att[m, s, :n_l, :n_h, :n, :n]))
        # the same state the kernel sends when that model is clicked
        w.selected, w.sample = m, s
        assert entry["_thumbs"] == w._map_thumbs and entry["query_tokens"] == w.map_query_tokens
        assert entry["_scores"] == w._map_scores and entry["_annotations"] == w._map_annotations
        assert entry["layer_labels"] == w.map_layer_labels and entry["title"] == w.map_title
        assert w._map_key == f"{m}/{s}"
    lean = PopulationExplorer(ds, offline_budget=1000)
    assert lean._maps == {} and lean._offline["maps"] == "kernel"
    assert lean._offline["missing"].startswith("every model's attention on every example string is more than ")


def test_latent_decoder_saves_every_problem():
    ds = make_latent(6)
    w = LatentDecoder(ds, problem=2)
    assert sorted(w._all, key=int) == [str(i) for i in range(6)] and w._offline["problems"] == "state"
    for i in range(6):
        view, pbuf, tbuf, ebuf = w.payload(i)
        assert w._all[str(i)] == {"view": view, "prob": pbuf, "tok": tbuf, "ent": ebuf}
    top1 = np.frombuffer(w._all["4"]["prob"], np.uint8).reshape(w._all["4"]["view"]["prob_meta"]["shape"])[..., 0]
    want = np.floor(ds.prob.isel(problem=4, rank=0).transpose("layer", "latent").values * 254 + 0.5)
    assert np.array_equal(top1[:, :want.shape[1]], want.astype(np.uint8))
    lean = LatentDecoder(ds, offline_budget=10)
    assert lean._all == {} and "every problem's grid is more than" in lean._offline["missing"]


def test_every_widget_takes_the_shared_offline_budget():
    """The rule for every widget, those added later included (any class workbench.widgets exports)."""
    import inspect

    classes = export.widget_classes()
    assert len(classes) >= 5
    for cls in classes:
        param = inspect.signature(cls.__init__).parameters.get("offline_budget")
        assert param is not None and param.default == _offline.OFFLINE_BUDGET == 8_000_000, cls.__name__


def test_loss_clusters_follows_the_same_budget():
    from polca_data import make_polca

    from workbench.widgets import LossClusters
    from workbench.widgets.loss_clusters import STATE_BUDGET

    ds = make_polca()
    assert STATE_BUDGET == _offline.OFFLINE_BUDGET == 8_000_000
    w = LossClusters(ds)
    assert sorted(w._vectors, key=int) == [str(b) for b in range(ds.sizes["basis"])]
    assert w._offline["vectors"] == "state" and w._offline["complete"]
    need = w._offline["bytes"]
    for kwargs in ({"offline_budget": need - 1}, {"state_budget": need - 1}):  # the older name still works
        lean = LossClusters(ds, **kwargs)
        assert list(lean._vectors) == [str(lean.basis)] and lean._offline["vectors"] == "kernel"
        assert lean._offline["missing"] == (f"every vector's clusters and trajectories is {need:,} bytes, over the "
                                            f"{need - 1:,}-byte offline budget")
    with pytest.raises(DataModelError, match="state_budget must be a byte count >= 0, got -5."):
        LossClusters(ds, state_budget=-5)


# -------------------------------------------------------------------------------------------------- notebooks
def _notebook(path: Path, sources: list[str], executed: bool = False) -> Path:
    cells = [{"cell_type": "code", "execution_count": (i + 1 if executed else None), "id": f"c{i}", "metadata": {},
              "outputs": [], "source": src} for i, src in enumerate(sources)]
    cells.insert(0, {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# A lesson\nwith *text*"})
    path.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}))
    return path


MAP_CELL = ("import numpy as np, xarray as xr\nfrom workbench.widgets import AttentionMap\n"
            "w = AttentionMap(xr.DataArray(np.full((1, 2, 4, 4), 0.25, np.float32), "
            "dims=('layer', 'head', 'query', 'key')))\nw")


def test_export_executes_and_keeps_cells_outputs_and_widget_state(tmp_path):
    nb = _notebook(tmp_path / "lesson.ipynb", ["print(6 * 7)", MAP_CELL])
    path = export_notebook(nb, tmp_path / "lesson.html", execute_first=True)
    text = path.read_text()
    assert "A lesson" in text and "<em>text</em>" in text and "42" in text  # markdown, code output
    assert text.count('type="application/vnd.jupyter.widget-view+json"') == 1
    back = saved(page_state(text), "attention_map")
    assert np.array_equal(np.frombuffer(back["_thumbs"], np.uint8), np.full(2 * 4 * 4, round(0.25 * 254), np.uint8))
    js, _ = _page.runtime()
    assert js in text
    # nothing loads from anywhere but the page (nbconvert's own links point inside it or are plain anchors)
    assert [r for r in references(text) if not r[2].startswith("#") and r[0] != "a"] == []
    for needle in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "mathjax"):
        assert needle not in text.replace(js, "").lower(), needle  # the manager's code names some, never loads
    assert json.loads(nb.read_text())["cells"][1]["execution_count"] is None  # the notebook itself is untouched


def test_notebook_state_with_script_like_strings_stays_inside_its_element():
    import nbformat

    tricky = {"version_major": 2, "version_minor": 0, "state": {"m": {
        "model_name": "X", "model_module": "x", "model_module_version": "1", "state": {"t": "<!-- <script> </script>"}}}}
    nb = nbformat.v4.new_notebook(metadata={"widgets": {STATE: tricky}})
    text = export.notebook_html(nb, "tricky")
    scripts = []

    from html.parser import HTMLParser

    class Scripts(HTMLParser):  # what a browser's tokenizer sees as each script element's text
        def __init__(self):
            super().__init__()
            self.kind = None

        def handle_starttag(self, tag, attrs):
            self.kind = dict(attrs).get("type") if tag == "script" else None

        def handle_endtag(self, tag):
            self.kind = None

        def handle_data(self, data):
            if self.kind == STATE:
                scripts.append(data)

    Scripts().feed(text)
    assert [json.loads(s) for s in scripts] == [tricky]
    assert "<" not in scripts[0]  # so no "<!--" or "<script" can change how a browser's tokenizer ends it


def test_export_bad_notebooks_leave_no_file(tmp_path):
    out = tmp_path / "out.html"
    fresh = _notebook(tmp_path / "fresh.ipynb", ["print(1)"])
    with pytest.raises(ValueError, match=r"notebook 'fresh.ipynb' must be executed first \(or pass --execute / "
                                         r"execute=True\), but its code cell 1 has not been run\."):
        export_notebook(fresh, out)
    ran = _notebook(tmp_path / "ran.ipynb", [MAP_CELL], executed=True)
    data = json.loads(ran.read_text())
    data["cells"][1]["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0}}}]
    ran.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="must be saved with its widget state"):
        export_notebook(ran, out)
    with pytest.raises(ValueError, match=r"notebook must be an existing \.ipynb file, got .*nope\.ipynb"):
        export_notebook(tmp_path / "nope.ipynb", out)
    (tmp_path / "junk.ipynb").write_text("{not json")
    with pytest.raises(ValueError, match=r"notebook must be a Jupyter notebook \(\.ipynb JSON\)"):
        export_notebook(tmp_path / "junk.ipynb", out)
    with pytest.raises(ValueError, match=r"out must be a file in an existing folder"):
        export_notebook(fresh, tmp_path / "missing" / "out.html", execute_first=True)
    assert not out.exists() and not (tmp_path / "missing").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.ipynb", "junk.ipynb", "ran.ipynb"]


def test_outputs_that_load_from_a_network_are_named(tmp_path):
    nb = _notebook(tmp_path / "chart.ipynb", ["chart", "link"], executed=True)
    data = json.loads(nb.read_text())
    cdn = "https://cdn.jsdelivr.net/npm/vega@6?noext"
    data["cells"][1]["outputs"] = [{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {
        "text/html": f'<div id="v"></div><script>requirejs.config({{paths: {{vega: "{cdn}", embed: '
                     '"https://cdn.jsdelivr.net/npm/vega-embed@7?noext"}}); '
                     'var spec = {"$schema": "https://vega.github.io/schema/vega-lite/v6.json"};</script>'}}]
    data["cells"][2]["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {
        "text/html": '<a href="https://example.org/paper">the paper</a> <img src="https://example.org/fig.png">'}}]
    nb.write_text(json.dumps(data))
    with pytest.warns(export.OfflineWarning) as caught:
        export_notebook(nb, tmp_path / "chart.html")
    assert [str(w.message) for w in caught] == [
        f"chart.ipynb: the output of cell 1 loads {cdn} (and 1 more), which a page opened offline cannot fetch (for "
        "Altair, alt.renderers.enable('png') draws charts offline).",
        "chart.ipynb: the output of cell 2 loads https://example.org/fig.png, which a page opened offline cannot "
        "fetch (for Altair, alt.renderers.enable('png') draws charts offline)."]  # the plain link is no load
    out = _cli(str(nb), "-o", str(tmp_path / "chart2.html"))
    assert out.returncode == 0 and f"workbench: warning: chart.ipynb: the output of cell 1 loads {cdn}" in out.stderr


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "export", *args], capture_output=True, text=True,
                          timeout=600)


def test_cli_export(tmp_path):
    nb = _notebook(tmp_path / "lesson.ipynb", [MAP_CELL])
    out = _cli(str(nb), "-o", str(tmp_path / "page.html"))
    assert out.returncode == 2 and "must be executed first" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "page.html").exists()
    out = _cli(str(nb), "-o", str(tmp_path / "page.html"), "--execute")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(tmp_path / "page.html")) and out.stdout.strip().endswith("MB)")
    assert "widget-state+json" in (tmp_path / "page.html").read_text()
    bad = _notebook(tmp_path / "bad.ipynb", ["raise RuntimeError('no such data')"])
    out = _cli(str(bad), "-o", str(tmp_path / "bad.html"), "--execute")
    assert out.returncode == 1 and "no such data" in out.stderr and not (tmp_path / "bad.html").exists()
    out = _cli(str(nb), "-o", str(tmp_path / "nope" / "page.html"))
    assert out.returncode == 2 and "out must be a file in an existing folder" in out.stderr
