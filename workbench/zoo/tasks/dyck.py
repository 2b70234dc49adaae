"""Dyck-1 bracket classification, the task of Li, Kaufmann, Wattenberg, Alvarez-Melis & Saphra (2025),
"Can Interpretation Predict Behavior on Unseen Data?" (arXiv 2507.06445).

A string ``s`` over ``(`` and ``)`` is shown to a model as ``[start] s [end]``. Training data: nested (balanced and
never below depth 0) strings are TRUE; strings that are neither nested nor equal-count are FALSE, half and half. Both
the NESTED rule and the simpler EQUAL-COUNT rule fit this data. The out-of-distribution (OOD) set holds equal-count
strings that are not nested (all FALSE): a model that learned NESTED gets them right, one that learned EQUAL-COUNT gets
them wrong. Lengths are ``2 + 2 * Binomial(19, 0.5)`` brackets.

Every generator takes a numpy ``Generator`` (or an int seed), so every set is reproducible.

>>> rng = np.random.default_rng(0)
>>> s = nested(rng, 6)
>>> is_nested(s), len(s)
(True, 6)
>>> depth_profile("(()))(").tolist()
[1, 2, 1, 0, -1, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OPEN, CLOSE = "(", ")"
START, END = "[start]", "[end]"
MAX_BRACKETS = 40  # 2 + 2 * 19


class DyckInputError(ValueError):
    """A string given to the Dyck task is not made of ``(`` and ``)``; the message names the character and position."""


def check_brackets(s: str, argument: str = "s") -> str:
    """Return ``s`` if it holds only ``(`` and ``)``; else raise :class:`DyckInputError` naming the first bad character.

    >>> check_brackets("(())")
    '(())'
    """
    if not isinstance(s, str):
        raise DyckInputError(f"{argument} must be a string of '(' and ')', got {type(s).__name__}.")
    for i, c in enumerate(s):
        if c not in "()":
            raise DyckInputError(f"{argument} holds {c!r} at position {i}; only '(' and ')' are in the vocabulary.")
    return s


def depth_profile(s: str) -> np.ndarray:
    """Running depth ``d_j`` after each bracket (``(`` = +1, ``)`` = -1), an int array as long as ``s``.

    >>> depth_profile("())(").tolist()
    [1, 0, -1, 0]
    """
    check_brackets(s)
    steps = np.fromiter((1 if c == OPEN else -1 for c in s), dtype=np.int64, count=len(s))
    return np.cumsum(steps)


def is_nested(s: str) -> bool:
    """True when ``s`` is a Dyck-1 word: equal count and the depth never goes below 0.

    >>> is_nested("(()())"), is_nested(")(")
    (True, False)
    """
    d = depth_profile(s)
    return bool(d.size == 0 or (d.min() >= 0 and d[-1] == 0))


def is_equal_count(s: str) -> bool:
    """True when ``s`` has as many ``(`` as ``)``.

    >>> is_equal_count(")(")
    True
    """
    check_brackets(s)
    return s.count(OPEN) == s.count(CLOSE)


def _rng(rng: np.random.Generator | int) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def sample_length(rng: np.random.Generator | int) -> int:
    """A string length ``2 + 2 * Binomial(19, 0.5)`` (even, 2..40).

    >>> 2 <= sample_length(0) <= 40
    True
    """
    return 2 + 2 * int(_rng(rng).binomial(19, 0.5))


def _check_length(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 2 or n % 2:
        raise ValueError(f"n must be an even int >= 2, got {n!r}.")


def nested(rng: np.random.Generator | int, n: int) -> str:
    """A uniformly random nested string of ``n`` brackets (cycle lemma: rotate a random walk of n/2 ups and
    n/2 + 1 downs to start after its first minimum, then drop the last step).

    >>> is_nested(nested(1, 10))
    True
    """
    _check_length(n)
    rng = _rng(rng)
    k = n // 2
    steps = np.array([1] * k + [-1] * (k + 1))
    rng.shuffle(steps)
    start = int(np.argmin(np.cumsum(steps))) + 1
    walk = np.concatenate([steps[start:], steps[:start]])[:-1]
    return "".join(OPEN if x > 0 else CLOSE for x in walk)


def unequal(rng: np.random.Generator | int, n: int) -> str:
    """A uniformly random string of ``n`` brackets with unequal counts (neither nested nor equal-count: FALSE).

    >>> is_equal_count(unequal(2, 8))
    False
    """
    _check_length(n)
    rng = _rng(rng)
    while True:
        bits = rng.integers(0, 2, size=n)
        if 2 * int(bits.sum()) != n:
            return "".join(OPEN if b else CLOSE for b in bits)


def equal_not_nested(rng: np.random.Generator | int, n: int) -> str:
    """A uniformly random equal-count string of ``n`` brackets that is not nested (the OOD kind; FALSE).

    >>> s = equal_not_nested(3, 8); is_equal_count(s) and not is_nested(s)
    True
    """
    _check_length(n)
    rng = _rng(rng)
    while True:
        steps = np.array([1] * (n // 2) + [-1] * (n // 2))
        rng.shuffle(steps)
        if np.cumsum(steps).min() < 0:
            return "".join(OPEN if x > 0 else CLOSE for x in steps)


def to_text(s: str) -> str:
    """The model input ``[start] s [end]`` (no spaces: the tokenizer splits on the tokens themselves).

    >>> to_text("()")
    '[start]()[end]'
    """
    return f"{START}{check_brackets(s)}{END}"


@dataclass(frozen=True)
class DyckSet:
    """A labelled set of bracket strings: ``strings[i]`` has label ``labels[i]`` (1 = TRUE/nested, 0 = FALSE)."""

    strings: tuple[str, ...]
    labels: np.ndarray
    kind: str  # "train", "id" or "ood"

    def __len__(self) -> int:
        return len(self.strings)

    @property
    def texts(self) -> list[str]:
        return [to_text(s) for s in self.strings]

    def depths(self) -> list[np.ndarray]:
        """The depth profile of every string."""
        return [depth_profile(s) for s in self.strings]


def id_set(rng: np.random.Generator | int, size: int, kind: str = "id") -> DyckSet:
    """``size`` in-distribution strings, labels balanced (even positions TRUE/nested, odd FALSE/unequal-count).

    >>> ds = id_set(0, 4); ds.labels.tolist()
    [1, 0, 1, 0]
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}.")
    rng = _rng(rng)
    strings, labels = [], np.zeros(size, dtype=np.int64)
    for i in range(size):
        n = sample_length(rng)
        if i % 2 == 0:
            strings.append(nested(rng, n))
            labels[i] = 1
        else:
            strings.append(unequal(rng, n))
    return DyckSet(tuple(strings), labels, kind)


def ood_set(rng: np.random.Generator | int, size: int) -> DyckSet:
    """``size`` equal-count, non-nested strings (all FALSE): the OOD generalization test.

    >>> ood_set(0, 3).labels.tolist()
    [0, 0, 0]
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}.")
    rng = _rng(rng)
    strings = tuple(equal_not_nested(rng, sample_length(rng)) for _ in range(size))
    return DyckSet(strings, np.zeros(size, dtype=np.int64), "ood")


def encode(strings: Sequence[str], vocab: dict[str, int], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of ``[start] s [end]`` for each string, right-padded, and the index of each ``[end]``.

    >>> ids, end = encode(["()", "(())"], {"(": 2, ")": 3, "[start]": 4, "[end]": 5}, 6)
    >>> ids.tolist(), end.tolist()
    ([[4, 2, 3, 5, 6, 6], [4, 2, 2, 3, 3, 5]], [3, 5])
    """
    width = max(len(s) for s in strings) + 2
    ids = np.full((len(strings), width), pad_id, dtype=np.int64)
    end = np.empty(len(strings), dtype=np.int64)
    o, c = vocab[OPEN], vocab[CLOSE]
    for i, s in enumerate(strings):
        check_brackets(s, f"strings[{i}]")
        ids[i, 0] = vocab[START]
        ids[i, 1: len(s) + 1] = [o if ch == OPEN else c for ch in s]
        ids[i, len(s) + 1] = vocab[END]
        end[i] = len(s) + 1
    return ids, end
