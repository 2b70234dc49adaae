"""The committed front-end bundle (workbench/static/) must match its source (widgets/).

widgets/build.mjs writes workbench/static/manifest.json with the sha256 of every source file; this test recomputes
them, so editing a .js/.css under widgets/ without `make widgets` fails here. When node and widgets/node_modules are
present it also rebuilds into a temp dir and compares bytes (esbuild output is deterministic).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WIDGETS = ROOT / "widgets"
STATIC = ROOT / "workbench" / "static"
SKIP = {"node_modules", "package-lock.json"}
REBUILD = "rebuild with `make widgets` (cd widgets && npm ci && npm run build) and commit workbench/static/"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def source_files() -> list[str]:
    """Same walk as build.mjs: everything under widgets/ but node_modules, the lock file and dot-files."""
    out = []
    for p in sorted(WIDGETS.rglob("*")):
        rel = p.relative_to(WIDGETS)
        if p.is_file() and not any(part in SKIP or part.startswith(".") for part in rel.parts):
            out.append(rel.as_posix())
    return sorted(out)


def manifest() -> dict:
    return json.loads((STATIC / "manifest.json").read_text())


def test_source_hashes_match_manifest():
    recorded = manifest()["sources"]
    current = {f: _sha(WIDGETS / f) for f in source_files()}
    stale = sorted(f for f in current.keys() | recorded.keys() if current.get(f) != recorded.get(f))
    assert not stale, f"bundle is stale for {stale}: {REBUILD}"


def test_outputs_match_manifest():
    outputs = manifest()["outputs"]
    assert {"attention_map.js", "attention_map.css"} <= outputs.keys()
    for name, digest in outputs.items():
        assert _sha(STATIC / name) == digest, f"workbench/static/{name} was edited by hand: {REBUILD}"


def test_bundle_is_an_es_module_with_default_render():
    js = (STATIC / "attention_map.js").read_text()
    assert js.rstrip().endswith("export {\n  attention_map_default as default\n};")
    assert "var attention_map_default = { render };" in js
    assert "require(" not in js and "import(" not in js  # self-contained: nothing fetched at run time


def test_rebuild_is_byte_identical(tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (WIDGETS / "node_modules" / "esbuild").is_dir() and node and npm:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WIDGETS, check=True, capture_output=True,
                       timeout=300)
    if node is None or not (WIDGETS / "node_modules" / "esbuild").is_dir():
        # The hash checks above still guard staleness; the byte rebuild needs node. CI must have it.
        if os.environ.get("CI"):
            pytest.fail("CI is set but node/npm is missing: cannot rebuild the bundle to compare bytes")
        pytest.skip("node missing: hash check only")
    subprocess.run([node, "build.mjs", "--outdir", str(tmp_path)], cwd=WIDGETS, check=True, capture_output=True,
                   timeout=120)
    for name in [*manifest()["outputs"], "manifest.json"]:  # every widget bundle and the page runtime
        assert (tmp_path / name).read_bytes() == (STATIC / name).read_bytes(), f"{name} differs: {REBUILD}"
