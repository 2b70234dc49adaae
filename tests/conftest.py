"""Shared fixtures: tiny models from configs (offline) and the real SmolLM2 from its package."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tok():
    from tiny_models import char_tokenizer

    return char_tokenizer()


@pytest.fixture(scope="session")
def smollm2():
    from workbench import load_model

    return load_model("smollm2-135m")


# Property tests explore new examples on every local run, but CI runs a fixed, reproducible set.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
