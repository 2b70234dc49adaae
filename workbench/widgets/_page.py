"""The pieces every exported page shares: the page runtime from ``workbench/static/`` (the Jupyter widgets HTML
manager and anywidget's front end, built by ``widgets/build.mjs``), text made safe inside an inline ``<script>``, and
the atomic write that leaves no partial file behind.

>>> check_inline_script('if (a < b) x = "</script>";')
Traceback (most recent call last):
...
ValueError: script cannot be inlined: it holds '</script' at character 16.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent.parent / "static"
#: The page runtime (one classic script) and its stylesheet, inlined into every page.
RUNTIME_JS, RUNTIME_CSS = STATIC / "page.js", STATIC / "page.css"


def script_json(value: Any) -> str:
    """``value`` as JSON to inline in a ``<script>`` element: every ``<`` written as ``\\u003c`` (the same JSON), so
    no ``</script>`` or ``<!--`` inside a string can end or hide the element.

    >>> script_json({"a": "</script>"})
    '{"a": "\\\\u003c/script>"}'
    """
    return json.dumps(value).replace("<", "\\u003c")


_SCRIPT_TOKENS = re.compile(r"<!--|-->|</?script(?=[\t\n\f\r />])", re.IGNORECASE)


def check_inline_script(js: str, name: str = "script") -> str:
    """``js`` unchanged when it can sit inside ``<script>...</script>`` as it is, else a ``ValueError``.

    Follows the HTML tokenizer's script states: a ``</script`` outside a double-escaped section would end the
    element early, and a script that ends inside a ``<!-- <script`` section would swallow the real end tag.

    >>> check_inline_script('let a = "<!--", b = "-->";')
    'let a = "<!--", b = "-->";'
    """
    state = "data"  # data | escaped | double
    for m in _SCRIPT_TOKENS.finditer(js):
        tok = m.group(0).lower()
        if tok == "-->" and state != "data":
            state = "data"
        elif tok == "<!--" and state == "data":
            state = "escaped"
        elif tok == "<script" and state == "escaped":
            state = "double"
        elif tok == "</script":
            if state != "double":
                raise ValueError(f"{name} cannot be inlined: it holds '</script' at character {m.start()}.")
            state = "escaped"
    if state == "double":
        raise ValueError(f"{name} cannot be inlined: it ends inside a '<!-- <script' section.")
    return js


@lru_cache(maxsize=1)
def runtime() -> tuple[str, str]:
    """The page runtime's ``(script, stylesheet)`` text, ready to inline.

    >>> js, css = runtime()
    >>> "widget-state+json" in js and len(js) > 100_000
    True
    """
    missing = [p.name for p in (RUNTIME_JS, RUNTIME_CSS) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the page runtime {missing} is missing from {STATIC}: rebuild the front end with "
                                "`make widgets` (cd widgets && npm ci && npm run build).")
    js = check_inline_script(RUNTIME_JS.read_text(encoding="utf-8"), RUNTIME_JS.name)
    css = RUNTIME_CSS.read_text(encoding="utf-8")
    if "</style" in css.lower():
        raise ValueError(f"{RUNTIME_CSS.name} cannot be inlined: it holds '</style'.")
    return js, css


def check_target(path: str | os.PathLike[str], name: str = "path") -> Path:
    """``path`` as a :class:`Path` whose folder exists and which is not itself a folder; a one-sentence
    ``ValueError`` naming ``name`` otherwise.

    >>> check_target("/no/such/folder/page.html")
    Traceback (most recent call last):
    ...
    ValueError: path must be a file in an existing folder, got '/no/such/folder/page.html' (folder '/no/such/folder' does not exist).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{name} must be a file path (str or Path), got {type(path).__name__}.")
    p = Path(path).expanduser()
    if not p.parent.is_dir():
        raise ValueError(f"{name} must be a file in an existing folder, got {str(path)!r} "
                         f"(folder {str(p.parent)!r} does not exist).")
    if p.is_dir():
        raise ValueError(f"{name} must be a file path, got {str(path)!r}, which is a folder.")
    return p


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to a temporary file beside ``path`` and rename it over ``path`` at the end, so a failure
    leaves no partial file (and an old ``path`` intact)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


__all__ = ["RUNTIME_JS", "RUNTIME_CSS", "script_json", "check_inline_script", "runtime", "check_target", "write_atomic"]
