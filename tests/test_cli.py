"""The console script, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench import load


@pytest.mark.slow
def test_cli_lens_and_save(tmp_path):
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "lens", "smollm2-135m", "The capital of France is"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("layer  30:") and "' Paris'" in last
    path = tmp_path / "lens.nc"
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "save-lens", "smollm2-135m", "Hello", str(path), "-k", "3"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert load(path).sizes["rank"] == 3


def test_cli_reports_bad_model_cleanly():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "lens", "./no/such/model", "hi"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr
