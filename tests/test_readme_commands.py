"""The README's commands and its data table stay true: every `python -m` command it gives starts and prints its usage,
and every file shipped in data/ has a row naming the `workbench.studies` module that regenerates it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


PLACEHOLDERS = {"workbench.studies.NAME"}  # the README's pattern for the studies, not a command


def readme_modules() -> list[str]:
    return sorted(set(re.findall(r"python -m ([A-Za-z_][\w.]*)", README)) - PLACEHOLDERS)


def test_readme_names_the_studies():
    modules = readme_modules()
    studies = sorted(p.stem for p in (ROOT / "workbench" / "studies").glob("*.py") if p.stem != "__init__")
    for name in studies:
        assert f"workbench.studies.{name}" in modules, f"the README never runs workbench.studies.{name}"


@pytest.mark.parametrize("module", readme_modules())
def test_readme_command_prints_its_usage(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage" in out.stdout.lower(), out.stdout[:500]
    if module.startswith("workbench."):
        assert f"python -m {module}" in out.stdout, f"{module}'s usage line should name the command: {out.stdout[:200]}"


def shipped_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = [f[len("data/"):] for f in listed.stdout.split()]
    assert files, "git ls-files found nothing under data/"
    return [f for f in files if Path(f).name != ".gitignore"]


def data_table() -> dict[str, str]:
    """Each path named in the first column of the README's data table -> the row's second column."""
    section = README[README.index("### Shipped data"):]
    rows: dict[str, str] = {}
    lines = section.splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("|---")) + 1:]
    for line in body:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and "`" in cells[0]:
            for path in re.findall(r"`([^`]+)`", cells[0]):
                rows[path] = cells[1]
    return rows


def test_every_shipped_file_names_its_study():
    rows = data_table()
    assert rows, "no data table under '### Shipped data' in the README"
    for f in shipped_files():
        owners = [how for path, how in rows.items() if f == path or (path.endswith("/") and f.startswith(path))]
        assert owners, f"data/{f} has no row in the README's data table"
        assert any(re.search(r"python -m workbench\.studies\.\w+", how) for how in owners), \
            f"data/{f}'s row names no workbench.studies module: {owners}"
    for path in rows:  # and no row names a file that is not shipped
        assert any(f == path or (path.endswith("/") and f.startswith(path)) for f in shipped_files()), \
            f"the README's data table names data/{path}, which is not in the repository"
