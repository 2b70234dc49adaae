"""The fast front-end tier: every ``widgets/**/*.test.js`` runs under ``node --test`` (pure functions: binary
decoding, colour scales, layout geometry). Node ships with the machine; CI must have it, so a missing node fails there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WIDGETS = Path(__file__).resolve().parent.parent / "widgets"
TESTS = sorted(p for p in WIDGETS.rglob("*.test.js") if "node_modules" not in p.parts)


def test_there_are_front_end_unit_tests():
    assert TESTS, "no widgets/**/*.test.js found"


@pytest.mark.parametrize("path", TESTS, ids=lambda p: p.relative_to(WIDGETS).as_posix())
def test_node_unit_tests(path):
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but node is missing: the front-end unit tests cannot run")
        pytest.skip("node is missing")
    out = subprocess.run([node, "--test", str(path)], cwd=WIDGETS, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout and "# pass 0" not in out.stdout, out.stdout[-2000:]
