"""Fixtures for the browser tests: an isolated JupyterLab on 127.0.0.1 and Debian's headless Chromium driven by
Python Playwright (never `playwright install`). Every request that is not to 127.0.0.1 is aborted and recorded."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from wb_lab import CHROMIUM, SHOTS, TIMINGS, unavailable

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")
LAB_START_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _isolated_env(base: Path) -> dict[str, str]:
    """os.environ with every per-user Jupyter / IPython / XDG dir under `base`, and no notification toast."""
    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "cfg"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                     ("IPYTHONDIR", "ipython"), ("XDG_CONFIG_HOME", "xdg-config"), ("XDG_CACHE_HOME", "xdg-cache")]:
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    notif = base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True, exist_ok=True)
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return env


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory) -> dict[str, str]:
    return _isolated_env(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def lab(tmp_path_factory, jupyter_env):
    """`jupyter lab` with a token on a free port; yields url/token/root/env; stopped by PID at the end."""
    base = tmp_path_factory.mktemp("jlab")
    root = base / "root"
    root.mkdir()
    token, port = secrets.token_hex(16), _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly", "--FileContentsManager.delete_to_trash=False"]
    log_path = base / "jupyter.log"
    log = open(log_path, "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=jupyter_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + LAB_START_S
    while True:
        try:
            req = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
            raise RuntimeError("jupyter lab did not start:\n" + log_path.read_text())
        time.sleep(0.2)
    TIMINGS["lab_startup_s"] = time.perf_counter() - t0
    yield {"url": url, "token": token, "root": root, "env": jupyter_env, "log": log_path}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def browser(jupyter_env):
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        unavailable(f"chromium is missing at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # 5 s default is too tight on 2 busy cores
    t0 = time.perf_counter()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, env=jupyter_env)
        TIMINGS["browser_launch_s"] = time.perf_counter() - t0
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page whose non-local requests are aborted and recorded in `page.external_requests`."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    external: list[str] = []

    def _block(route):
        external.append(route.request.url)
        route.abort()

    ctx.route(lambda u: not LOCAL.match(u) and not u.startswith(("data:", "blob:")), _block)
    pg = ctx.new_page()
    pg.external_requests = external
    pg.console_errors = []
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    pg.on("pageerror", lambda e: pg.console_errors.append(f"pageerror: {e}"))
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def pytest_sessionfinish(session, exitstatus):
    if TIMINGS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2))
