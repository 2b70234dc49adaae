"""Shared pieces of the teaching-page tests: a Chromium page for file:// pages on which every request other than the
page file itself is aborted and recorded, opening a page and waiting for its runtime, and scoped selectors for the
n-th widget of a page."""

from __future__ import annotations

from pathlib import Path

import pytest

READY_S = 60


@pytest.fixture
def file_page(browser):
    """A fresh page; `page.allow(url)` lets one file:// URL load; any other request (http(s), ws, another file) is
    aborted and recorded in `page.external_requests` (data: and blob: URLs never reach a network)."""
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
    external: list[str] = []
    allowed: set[str] = set()

    def _route(route):
        url = route.request.url
        if url in allowed or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            external.append(url)
            route.abort()

    ctx.route(lambda _url: True, _route)
    pg = ctx.new_page()
    pg.external_requests = external
    pg.allow = allowed.add
    pg.console_errors = []
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    pg.on("pageerror", lambda e: pg.console_errors.append(f"pageerror: {e}"))
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def open_page(page, path: Path, views: int) -> None:
    """Open `path` from file:// and wait until the page runtime has drawn `views` widget views."""
    url = Path(path).resolve().as_uri()
    page.allow(url)
    page.goto(url)
    try:
        page.wait_for_function("() => document.documentElement.dataset.wbPage === 'ready'", timeout=READY_S * 1000)
    except Exception as e:
        raise AssertionError(f"the page runtime never finished: {page.console_errors}") from e
    got = page.evaluate("() => document.documentElement.dataset.wbViews")
    assert got == str(views), f"{got} views drawn, expected {views}; console: {page.console_errors}"


def widget(k: int | str, css: str = "") -> str:
    """Selector of the k-th drawn widget on a page (or of `css` inside it); a str `k` is a root selector of its own
    (e.g. a notebook cell in JupyterLab)."""
    root = k if isinstance(k, str) else f".wb-page-widget >> nth={k}"
    return root + (f" >> {css}" if css else "")


def assert_offline(page) -> None:
    """Nothing left the page: no request was aborted, and no error reached the console."""
    assert page.external_requests == [], f"the page asked for: {page.external_requests}"
    assert page.console_errors == [], page.console_errors
