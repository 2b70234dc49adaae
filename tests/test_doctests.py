"""Every docstring example in the package runs and prints what it says (examples that need a trained study or a
large model are marked ``+SKIP`` where they stand)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import workbench

MODULES = sorted(info.name for info in pkgutil.walk_packages(workbench.__path__, "workbench."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False,
                             verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} fail (run " \
                               f"python -m doctest -v on it)"
