"""Teaching pages: one self-contained HTML file that stays explorable with no Python, no kernel and no network.

* :func:`to_html` writes live widgets as a page;
* :func:`export_notebook` (the ``workbench export`` command) writes a notebook as nbconvert renders it, with every
  widget drawn where its cell put it.

Each page inlines the widgets' saved state (binary buffers as base64), the page runtime (the Jupyter widgets HTML
manager and anywidget's front end, bundled into ``workbench/static/page.js`` by ``widgets/build.mjs``) and, inside the
state, each widget's own ES module. It opens from ``file://`` and fetches nothing. What a click can show without a
kernel is what the widgets put in their state: each widget's offline mode (``offline_budget``) puts everything a
click could ask the kernel for there when it fits, and says on the page what needs a kernel when it does not.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.widgets._page import check_target, runtime, script_json, write_atomic

STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
#: Seconds one notebook cell may run under ``execute=True``.
CELL_TIMEOUT_S: int = 900

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{runtime_css}
</style>
<style>
body {{ margin: 0; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; background: #fff; }}
main.wb-page {{ max-width: 1500px; margin: 0 auto; padding: 16px 24px 48px; }}
main.wb-page h1 {{ font-size: 20px; font-weight: 600; margin: 4px 0 16px; }}
.wb-page-item {{ margin: 0 0 28px; }}
.wb-page-error {{ color: #b00020; }}
</style>
<script type="{state_mime}">{state}</script>
</head>
<body>
<main class="wb-page">
<h1>{title}</h1>
{views}
</main>
<script>{runtime_js}</script>
</body>
</html>
"""

# nbconvert's lab template, minus everything it would fetch (require.js, the widget renderer, MathJax, Mermaid from
# CDNs), plus the inlined page runtime; the widget state and the view scripts come from the lab template itself.
_NOTEBOOK_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.workbench_runtime_css }}</style>{%- endblock extra_css -%}
{% block footer_js %}<script>{{ resources.workbench_runtime_js }}</script>{% endblock footer_js %}
"""


def widget_classes() -> tuple[type, ...]:
    """Every widget class :mod:`workbench.widgets` exports (a widget added later is picked up by being exported).

    >>> sorted(c.__name__ for c in widget_classes())[:2]
    ['AttentionMap', 'FeatureExplorer']
    """
    import anywidget

    import workbench.widgets as package

    found = (getattr(package, n) for n in package.__all__)
    return tuple(c for c in found if isinstance(c, type) and issubclass(c, anywidget.AnyWidget))


def _as_widgets(widgets: Any) -> list[Any]:
    """``widgets`` (one workbench widget or an iterable of them) as a non-empty list; one-sentence ValueError else."""
    classes = widget_classes()
    names = ", ".join(c.__name__ for c in classes)
    items = [widgets] if isinstance(widgets, classes) else widgets
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ValueError(f"widgets must be a workbench widget ({names}) or a list of them, "
                         f"got {type(widgets).__name__}.")
    items = list(items)
    if not items:
        raise ValueError(f"widgets must hold at least one workbench widget ({names}), got an empty "
                         f"{type(widgets).__name__}.")
    for i, w in enumerate(items):
        if not isinstance(w, classes):
            raise ValueError(f"widgets[{i}] must be a workbench widget ({names}), got {type(w).__name__}.")
    return items


def page_html(title: str, manager_state: dict[str, Any], view_specs: list[dict[str, Any]]) -> str:
    """The page's HTML: the widget state, one view script per widget in order, the inlined runtime."""
    js, css = runtime()
    views = "\n".join(f'<div class="wb-page-item"><script type="{VIEW_MIME}">{script_json(v)}</script></div>'
                      for v in view_specs)
    return _PAGE.format(title=html.escape(title), runtime_css=css, runtime_js=js, state_mime=STATE_MIME,
                        state=script_json(manager_state), views=views)


def to_html(widgets: Any, path: str | os.PathLike[str], title: str = "workbench") -> Path:
    """Write one or more live workbench widgets as one self-contained HTML page; returns the path.

    The page holds each widget's saved state (``embed_data(..., drop_defaults=False)``: anywidget needs every trait,
    ``_esm`` included), the page runtime and nothing else; it opens from ``file://``, fetches nothing, and each
    widget stays as explorable as its offline mode allows (``offline_budget``). The file is written atomically.

    >>> import workbench as wb                                                                    # doctest: +SKIP
    >>> wb.to_html([wb.AttentionMap(attn), wb.PopulationExplorer(pop)], "lesson.html", title="Attention")  # doctest: +SKIP
    PosixPath('lesson.html')
    """
    from ipywidgets.embed import dependency_state, embed_data

    items = _as_widgets(widgets)
    target = check_target(path)
    if not isinstance(title, str):
        raise ValueError(f"title must be a str, got {type(title).__name__}.")
    data = embed_data(views=items, drop_defaults=False, state=dependency_state(items, drop_defaults=False))
    return write_atomic(target, page_html(title, data["manager_state"], data["view_specs"]))


# -------------------------------------------------------------------------------------------------------- notebooks
def _read_notebook(notebook: str | os.PathLike[str]) -> Any:
    import nbformat

    if not isinstance(notebook, (str, os.PathLike)):
        raise ValueError(f"notebook must be the path of an .ipynb file, got {type(notebook).__name__}.")
    p = Path(notebook).expanduser()
    if not p.is_file():
        raise ValueError(f"notebook must be an existing .ipynb file, got {str(notebook)!r} (no such file).")
    try:
        return nbformat.read(p, as_version=4)
    except Exception as e:  # nbformat raises several kinds for a file that is not a notebook
        raise ValueError(f"notebook must be a Jupyter notebook (.ipynb JSON), got {str(notebook)!r}, which could not "
                         f"be read: {str(e).splitlines()[0] if str(e) else type(e).__name__}.") from None


class OfflineWarning(UserWarning):
    """A notebook output that loads something from a network: the page cannot show it offline."""


_LOADING_TAG = re.compile(r"""<(?:script|link|img|iframe|audio|video|source|embed)\b[^>]*?\b(?:src|href)\s*=\s*["']?"""
                          r"""(https?://[^"'\s>]+)""", re.IGNORECASE)
_SCRIPT_BODY = re.compile(r"<script\b[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)
_QUOTED_URL = re.compile(r"""(?<!"\$schema": )["'`](https?://[^"'`\s]+)""")  # a JSON "$schema" is a name, not a load


def remote_references(nb: Any) -> list[tuple[int, str]]:
    """``(cell index, URL)`` of every output that would load something from a network when the page opens: elements
    with a remote ``src``/``href`` (not plain links), and URLs quoted inside scripts and JavaScript outputs (such as
    Altair's default renderer, which loads vega from a CDN).

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
    ...     "display_data", data={"text/html": '<script>load("https://cdn.example/vega.js")</script>'})])])
    >>> remote_references(nb)
    [(0, 'https://cdn.example/vega.js')]
    """
    found: list[tuple[int, str]] = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            page = data.get("text/html", "")
            page = "".join(page) if isinstance(page, list) else page
            urls = _LOADING_TAG.findall(page)
            for body in _SCRIPT_BODY.findall(page):
                urls += _QUOTED_URL.findall(body)
            js = data.get("application/javascript", "")
            urls += _QUOTED_URL.findall("".join(js) if isinstance(js, list) else js)
            found += [(i, u) for u in dict.fromkeys(urls)]
    return found


def check_executed(nb: Any, name: str) -> None:
    """A one-sentence ``ValueError`` unless every code cell has run and saved widgets came with their state."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None:
            raise ValueError(f"notebook {name!r} must be executed first (or pass --execute / execute=True), but its "
                             f"code cell {i} has not been run.")
    has_views = any(VIEW_MIME in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    if has_views and STATE_MIME not in nb.metadata.get("widgets", {}):
        raise ValueError(f"notebook {name!r} must be saved with its widget state (JupyterLab: Settings > Save Widget "
                         "State Automatically) or exported with --execute / execute=True, but it has widgets and no "
                         "saved widget state.")


def execute(nb: Any, timeout: int = CELL_TIMEOUT_S, kernel_name: str = "python3") -> Any:
    """Run every cell of ``nb`` in a fresh kernel (in a scratch folder, so nothing is written beside the notebook),
    keeping the widget state; raises nbclient's ``CellExecutionError`` when a cell fails."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="workbench-export-") as cwd:
        NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, store_widget_state=True,
                       resources={"metadata": {"path": cwd}}).execute()
    return nb


def notebook_html(nb: Any, title: str) -> str:
    """``nb`` as one offline page: nbconvert's lab template (cells and outputs, the widget state and view scripts)
    without its CDN scripts, with the page runtime inlined."""
    from nbconvert import HTMLExporter

    js, css = runtime()
    exporter = HTMLExporter(template_name="lab", raw_template=_NOTEBOOK_TEMPLATE)
    # the widget state and views are JSON inside <script>: write every "<" as \u003c (nbconvert's own filter escapes
    # "/" only, which leaves a "<!-- <script" inside a string able to swallow the element's end tag)
    exporter.register_filter("escape_html_script", lambda text: text.replace("<", "\\u003c"))
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}, "workbench_runtime_js": js,
                                                         "workbench_runtime_css": css})
    return body


def export_notebook(notebook: str | os.PathLike[str], out: str | os.PathLike[str], execute_first: bool = False,
                    timeout: int = CELL_TIMEOUT_S) -> Path:
    """Write ``notebook`` as one self-contained offline HTML page at ``out``; returns the path.

    Cells and outputs are rendered as nbconvert renders them, and every widget is drawn where its cell put it from the
    notebook's saved widget state. ``execute_first=True`` runs the notebook first in a fresh kernel (the widget state
    is then recorded as it runs); otherwise the notebook must already be executed and saved with its widget state.
    The file is written atomically: a failure (bad input, a failing cell) leaves no file. An output that would load
    something from a network (e.g. an Altair chart with the default renderer) is written as it is, with an
    :class:`OfflineWarning` naming its cell and URL.

    >>> export_notebook("notebooks/00_tour.ipynb", "build/pages/00_tour.html", execute_first=True)  # doctest: +SKIP
    PosixPath('build/pages/00_tour.html')
    """
    target = check_target(out, "out")
    nb = _read_notebook(notebook)
    name = Path(notebook).name
    if execute_first:
        execute(nb, timeout=timeout)
    check_executed(nb, name)
    by_cell: dict[int, list[str]] = {}
    for i, url in remote_references(nb):
        by_cell.setdefault(i, []).append(url)
    for i, urls in by_cell.items():
        more = f" (and {len(urls) - 1} more)" if len(urls) > 1 else ""
        warnings.warn(OfflineWarning(f"{name}: the output of cell {i} loads {urls[0]}{more}, which a page opened "
                                     "offline cannot fetch (for Altair, alt.renderers.enable('png') draws charts "
                                     "offline)."), stacklevel=2)
    return write_atomic(target, notebook_html(nb, Path(notebook).stem))


__all__ = ["to_html", "export_notebook", "page_html", "notebook_html", "check_executed", "execute", "widget_classes",
           "remote_references", "OfflineWarning",
           "STATE_MIME", "VIEW_MIME", "CELL_TIMEOUT_S"]
