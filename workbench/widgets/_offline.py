"""The offline rule every widget follows, so a saved notebook or an exported page stays explorable without a kernel.

Each widget takes ``offline_budget`` (bytes, default :data:`OFFLINE_BUDGET`). When everything a click could ask the
kernel for (every head, every model's example attention, every problem, every layer, every vector) fits the budget,
the widget puts it in its synced state and the front end reads it from there instead of sending a message. When it
does not fit, the widget keeps the kernel path and its ``_offline`` trait says what a page without a kernel lacks;
the front end shows that sentence (``widgets/lib/offline.js``) when a click needs data that is not there and no kernel
is connected.

>>> status = offline_status(1_000, 8_000_000, "every head at full resolution")
>>> status["complete"], status["missing"]
(True, '')
>>> offline_status(9_000_000, 8_000_000, "every head at full resolution")["missing"]
'every head at full resolution is 9,000,000 bytes, over the 8,000,000-byte offline budget'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.data import DataModelError
from workbench.widgets._serialize import MAX_MESSAGE_BYTES

#: Default per-widget byte budget for the data a saved page holds beyond what is on screen.
OFFLINE_BUDGET: int = 8_000_000


def check_budget(value: Any, name: str = "offline_budget", limit: int | None = None) -> int:
    """``value`` as an int byte count; one-sentence :class:`~workbench.data.DataModelError` otherwise.

    ``limit`` caps it (a budget that travels as one kernel message cannot exceed
    :data:`~workbench.widgets._serialize.MAX_MESSAGE_BYTES`).

    >>> check_budget(8_000_000)
    8000000
    >>> check_budget(-1)
    Traceback (most recent call last):
    ...
    workbench.data.DataModelError: offline_budget must be a byte count >= 0, got -1.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 0:
        raise DataModelError(f"{name} must be a byte count >= 0, got {value!r}.")
    if limit is not None and int(value) > limit:
        raise DataModelError(f"{name} must be at most {limit:,} bytes (what one kernel message may carry), "
                             f"got {int(value):,}.")
    return int(value)


def offline_status(needed: int, budget: int, what: str, at_least: bool = False) -> dict[str, Any]:
    """The ``_offline`` trait: whether ``what`` (``needed`` bytes; ``at_least`` when counting stopped early) is in
    the saved state under ``budget``. ``missing`` is the sentence a page without a kernel shows (empty when complete).
    """
    complete = int(needed) <= int(budget)
    size = f"more than {int(needed):,}" if at_least else f"{int(needed):,}"
    missing = "" if complete else f"{what} is {size} bytes, over the {int(budget):,}-byte offline budget"
    return {"complete": complete, "bytes": int(needed), "budget": int(budget), "missing": missing}


__all__ = ["OFFLINE_BUDGET", "MAX_MESSAGE_BYTES", "check_budget", "offline_status"]
