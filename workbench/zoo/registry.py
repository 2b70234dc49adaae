"""The zoo: small models this project trains itself and ships in ``data/zoo/<name>/`` (HuggingFace folders)."""

from __future__ import annotations

import os
from pathlib import Path


def zoo_dir() -> Path:
    """``$WORKBENCH_ZOO`` or the repository's ``data/zoo``."""
    env = os.environ.get("WORKBENCH_ZOO")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data" / "zoo"


def names() -> list[str]:
    """Names of the zoo models present on this machine."""
    root = zoo_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file())


def path(name: str) -> Path:
    if name not in names():
        raise KeyError(f"no zoo model {name!r}; available: {', '.join(names()) or 'none'}.")
    return zoo_dir() / name
