"""Trait validation shared by the widgets: a check raises :class:`~workbench.data.DataModelError` (one sentence naming
the argument, what was expected and what came), and traitlets wants a ``TraitError`` with the same sentence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import traitlets

from workbench.data import DataModelError

T = TypeVar("T")


def as_trait_error(check: Callable[..., T], *args: Any) -> T:
    """``check(*args)``, its DataModelError re-raised as a ``traitlets.TraitError`` with the same message.

    >>> def positive(v):
    ...     if v <= 0:
    ...         raise DataModelError(f"layer must be positive, got {v}.")
    ...     return v
    >>> as_trait_error(positive, 3)
    3
    >>> as_trait_error(positive, -1)
    Traceback (most recent call last):
    traitlets.traitlets.TraitError: layer must be positive, got -1.
    """
    try:
        return check(*args)
    except DataModelError as e:
        raise traitlets.TraitError(str(e)) from None
