"""The package's layers hold: `lint-imports` keeps every import-linter contract in pyproject.toml, and would catch a
late import inside a function that runs back up a layer.

Data flows one way (model access -> analyses -> xarray -> widgets) and the studies sit above everything; the
README's "Where things are" table says what each folder may import.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env)


def test_contracts_are_kept():
    out = lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert re.search(rf"Contracts: {len(contracts)} kept, 0 broken", out.stdout), out.stdout


def test_contracts_name_the_layers_of_the_readme():
    """The layers contract lists every subpackage of workbench/, so a new folder cannot slip past it."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.split("|")}
    packages = {f"workbench.{p.name}" for p in (ROOT / "workbench").iterdir() if (p / "__init__.py").is_file()}
    assert packages <= named, f"subpackages missing from the layers contract: {sorted(packages - named)}"
    readme = (ROOT / "README.md").read_text()
    for package in packages:
        assert f"`{package.split('.')[1]}/`" in readme, f"README's 'Where things are' table lacks {package}"


@pytest.mark.parametrize("module, late_import, contract", [
    ("zoo/registry.py", "from workbench.analyses import core", "Layers"),
    ("analyses/lens.py", "from workbench.studies import polca", "Layers"),
    ("widgets/_offline.py", "from workbench.analyses.incontext import trailing_mean", "Widgets and static charts"),
    ("widgets/_offline.py", "import torch", "Widgets and static charts"),
    ("analyses/core.py", "import ipywidgets", "never import a widget library"),
])
def test_a_late_import_back_up_breaks_a_contract(tmp_path, module, late_import, contract):
    """A copy of the package with one import inside a function, running back up a layer: lint-imports fails on it
    and names the contract it breaks."""
    shutil.copytree(ROOT / "workbench", tmp_path / "workbench", ignore=shutil.ignore_patterns("static", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "workbench" / module
    target.write_text(target.read_text() + f"\n\ndef _sneaky():\n    {late_import}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = lint(tmp_path, env)
    assert out.returncode != 0, out.stdout
    broken = [line for line in out.stdout.splitlines() if "BROKEN" in line or contract in line]
    assert any(contract in line for line in broken), out.stdout
    assert "1 broken" in out.stdout or "broken" in out.stdout.lower()
