"""Dyck-2: balanced strings over two bracket types, ``()`` and ``[]``, the language of the formal-language SAE study.

A string ``s`` is a Dyck-2 word when every closing bracket closes the innermost open bracket of its own type and no
bracket stays open. The model sees ``[start] s [end]`` and classifies it (TRUE: a Dyck-2 word). The negatives are near
misses, each breaking exactly one rule of a balanced string:

- ``wrong_type``: a balanced string with one closing bracket of the other type (``([)]``);
- ``unclosed``: every closing bracket matches, but two brackets are left open at the end (``(([]``);
- ``depth0``: as many opening as closing brackets, matching types, but a bracket closes at depth 0 (``)(``).

Per-character labels come from a plain stack (:func:`char_labels`): push on an opening bracket; a closing bracket pops
the innermost open bracket whatever its type (a wrong type is a violation), and one at depth 0 leaves the empty stack
as it is (a violation). ``depth`` is the stack size after the character, ``top_type`` the type of its top (0 none,
1 round, 2 square), ``violation`` whether the prefix so far is no longer a valid Dyck-2 prefix (it stays True).
:func:`token_labels` extends them to ``[start]`` (the empty prefix) and ``[end]`` (the whole string, where any
bracket still open is a violation too, so ``violation`` at ``[end]`` is the class: not a Dyck-2 word).

Every generator takes a numpy ``Generator`` (or an int seed), so every set is reproducible.

>>> s = balanced(0, 8)
>>> is_dyck2(s), len(s)
(True, 8)
>>> lab = char_labels("([)]")
>>> lab["depth"].tolist(), lab["top_type"].tolist(), lab["violation"].tolist()
([1, 2, 1, 0], [1, 2, 1, 0], [False, False, True, True])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OPENS, CLOSES = "([", ")]"
BRACKETS = OPENS + CLOSES
START, END = "[start]", "[end]"
TYPE_NAMES = ("none", "round", "square")  # top_type values 0, 1, 2
NEGATIVE_KINDS = ("wrong_type", "unclosed", "depth0")
MAX_BRACKETS = 24  # 2 + 2 * 11


class Dyck2InputError(ValueError):
    """A string given to the Dyck-2 task holds a character other than ``()[]``; the message names it and its
    position."""


def check_brackets(s: str, argument: str = "s") -> str:
    """Return ``s`` if it holds only ``(``, ``)``, ``[`` and ``]``; else raise :class:`Dyck2InputError`.

    >>> check_brackets("([])")
    '([])'
    """
    if not isinstance(s, str):
        raise Dyck2InputError(f"{argument} must be a string of '()[]' brackets, got {type(s).__name__}.")
    for i, c in enumerate(s):
        if c not in BRACKETS:
            raise Dyck2InputError(f"{argument} holds {c!r} at position {i}; only '(', ')', '[' and ']' are brackets "
                                  "of Dyck-2.")
    return s


def bracket_type(c: str) -> int:
    """1 for a round bracket, 2 for a square one.

    >>> bracket_type(")"), bracket_type("[")
    (1, 2)
    """
    return 1 if c in "()" else 2


def char_labels(s: str) -> dict[str, np.ndarray]:
    """``depth``, ``top_type`` and ``violation`` after each character of ``s``, from a plain stack (module docstring).

    >>> char_labels("]([")["depth"].tolist(), char_labels("]([")["violation"].tolist()
    ([0, 1, 2], [True, True, True])
    """
    check_brackets(s)
    n = len(s)
    depth, top = np.zeros(n, np.int64), np.zeros(n, np.int64)
    violation = np.zeros(n, bool)
    stack: list[int] = []
    bad = False
    for i, c in enumerate(s):
        t = bracket_type(c)
        if c in OPENS:
            stack.append(t)
        elif not stack:
            bad = True
        else:
            bad = stack.pop() != t or bad
        depth[i], top[i], violation[i] = len(stack), stack[-1] if stack else 0, bad
    return {"depth": depth, "top_type": top, "violation": violation}


def is_dyck2(s: str) -> bool:
    """True when ``s`` is a Dyck-2 word (every bracket closed by its own type, innermost first).

    >>> is_dyck2("([])[]"), is_dyck2("([)]"), is_dyck2("")
    (True, False, True)
    """
    lab = char_labels(s)
    return bool(len(s) == 0 or (not lab["violation"][-1] and lab["depth"][-1] == 0))


def token_labels(text: str, char: int, token: str) -> tuple[int, int, bool]:
    """``(depth, top_type, violation)`` at one token, from the string, the token's ``char`` (index in ``text``, or
    -1) and the token text: a bracket's own labels, the empty prefix at ``[start]``, the whole string at ``[end]``
    (where a bracket left open is a violation).

    >>> token_labels("([", 1, "["), token_labels("([", -1, "[end]"), token_labels("([", -1, "[start]")
    ((2, 2, False), (2, 2, True), (0, 0, False))
    """
    check_brackets(text, "text")
    if char >= 0:
        if char >= len(text) or text[char] != token:
            raise Dyck2InputError(f"char={char} must index the token {token!r} in text {text!r}.")
        lab = char_labels(text[: char + 1])
        return int(lab["depth"][-1]), int(lab["top_type"][-1]), bool(lab["violation"][-1])
    if token not in (START, END):
        raise Dyck2InputError(f"token with char=-1 must be {START!r} or {END!r}, got {token!r}.")
    if token == START or not text:
        return 0, 0, False
    lab = char_labels(text)
    return int(lab["depth"][-1]), int(lab["top_type"][-1]), bool(lab["violation"][-1] or lab["depth"][-1] > 0)


def _rng(rng: np.random.Generator | int) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_length(n: int, least: int = 2) -> None:
    if not isinstance(n, (int, np.integer)) or n < least or n % 2:
        raise ValueError(f"n must be an even int >= {least}, got {n!r}.")


def sample_length(rng: np.random.Generator | int) -> int:
    """A string length ``2 + 2 * Binomial(11, 0.5)`` (even, 2..24).

    >>> 2 <= sample_length(0) <= 24
    True
    """
    return 2 + 2 * int(_rng(rng).binomial(11, 0.5))


def _fill_types(shape: np.ndarray, rng: np.random.Generator) -> str:
    """Brackets for a +1/-1 shape: each opening one of a random type, each closing one of the type it closes (a random
    type at depth 0)."""
    stack: list[int] = []
    out = []
    for step in shape:
        if step > 0:
            t = int(rng.integers(1, 3))
            stack.append(t)
            out.append(OPENS[t - 1])
        else:
            t = stack.pop() if stack else int(rng.integers(1, 3))
            out.append(CLOSES[t - 1])
    return "".join(out)


def balanced(rng: np.random.Generator | int, n: int) -> str:
    """A uniformly random Dyck-2 word of ``n`` brackets: a uniform Dyck-1 shape (cycle lemma) with a uniform type for
    each pair.

    >>> is_dyck2(balanced(1, 10))
    True
    """
    _check_length(n)
    rng = _rng(rng)
    k = n // 2
    steps = np.array([1] * k + [-1] * (k + 1))
    rng.shuffle(steps)
    start = int(np.argmin(np.cumsum(steps))) + 1
    return _fill_types(np.concatenate([steps[start:], steps[:start]])[:-1], rng)


def wrong_type(rng: np.random.Generator | int, n: int) -> str:
    """A Dyck-2 word of ``n`` brackets with one closing bracket swapped to the other type (``([)]``).

    >>> s = wrong_type(2, 8); is_dyck2(s), int(char_labels(s)["depth"][-1])
    (False, 0)
    """
    _check_length(n)
    rng = _rng(rng)
    s = list(balanced(rng, n))
    i = int(rng.choice([j for j, c in enumerate(s) if c in CLOSES]))
    s[i] = ")" if s[i] == "]" else "]"
    return "".join(s)


def unclosed(rng: np.random.Generator | int, n: int) -> str:
    """A valid Dyck-2 prefix of ``n`` brackets that leaves two brackets open (``(([]``): no closing bracket is wrong.

    >>> s = unclosed(3, 8); is_dyck2(s), bool(char_labels(s)["violation"].any()), int(char_labels(s)["depth"][-1])
    (False, False, 2)
    """
    _check_length(n)
    rng = _rng(rng)
    while True:
        steps = np.array([1] * (n // 2 + 1) + [-1] * (n // 2 - 1))
        rng.shuffle(steps)
        if np.cumsum(steps).min() >= 0:
            return _fill_types(steps, rng)


def depth0(rng: np.random.Generator | int, n: int) -> str:
    """``n`` brackets, as many opening as closing, every pair's types matching, but some bracket closes at depth 0
    (``)(``).

    >>> s = depth0(4, 8); is_dyck2(s), len(s)
    (False, 8)
    """
    _check_length(n)
    rng = _rng(rng)
    while True:
        steps = np.array([1] * (n // 2) + [-1] * (n // 2))
        rng.shuffle(steps)
        if np.cumsum(steps).min() < 0:
            return _fill_types(steps, rng)


GENERATORS = {"balanced": balanced, "wrong_type": wrong_type, "unclosed": unclosed, "depth0": depth0}


def to_text(s: str) -> str:
    """The model input ``[start] s [end]`` (no spaces: the tokenizer splits on the tokens themselves).

    >>> to_text("[]")
    '[start][][end]'
    """
    return f"{START}{check_brackets(s)}{END}"


@dataclass(frozen=True)
class Dyck2Set:
    """A labelled set: ``strings[i]`` has label ``labels[i]`` (1 = Dyck-2 word) and was drawn as ``kinds[i]``
    (``"balanced"`` or one of :data:`NEGATIVE_KINDS`)."""

    strings: tuple[str, ...]
    labels: np.ndarray
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.strings)


def make_set(rng: np.random.Generator | int, size: int) -> Dyck2Set:
    """``size`` strings, half balanced (even positions, TRUE), half near misses (odd positions, FALSE, the three
    kinds in turn), lengths from :func:`sample_length` (``unclosed`` needs at least 4 brackets).

    >>> ds = make_set(0, 4); ds.labels.tolist(), ds.kinds
    ([1, 0, 1, 0], ('balanced', 'wrong_type', 'balanced', 'unclosed'))
    """
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be an int >= 1, got {size!r}.")
    rng = _rng(rng)
    strings, kinds = [], []
    for i in range(size):
        kind = "balanced" if i % 2 == 0 else NEGATIVE_KINDS[(i // 2) % len(NEGATIVE_KINDS)]
        n = sample_length(rng)
        if kind == "unclosed":
            n = max(n, 4)
        strings.append(GENERATORS[kind](rng, n))
        kinds.append(kind)
    labels = np.array([k == "balanced" for k in kinds], dtype=np.int64)
    return Dyck2Set(tuple(strings), labels, tuple(kinds))


def encode(strings: Sequence[str], vocab: dict[str, int], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of ``[start] s [end]`` for each string, right-padded, and the index of each ``[end]``.

    >>> v = {"(": 2, ")": 3, "[": 4, "]": 5, "[start]": 6, "[end]": 7}
    >>> ids, end = encode(["()", "[()]"], v, 8)
    >>> ids.tolist(), end.tolist()
    ([[6, 2, 3, 7, 8, 8], [6, 4, 2, 3, 5, 7]], [3, 5])
    """
    if isinstance(strings, str) or len(strings) == 0:
        raise ValueError(f"strings must be a non-empty list of bracket strings, got {strings!r}.")
    for i, s in enumerate(strings):
        check_brackets(s, f"strings[{i}]")
    width = max(len(s) for s in strings) + 2
    ids = np.full((len(strings), width), pad_id, dtype=np.int64)
    end = np.empty(len(strings), dtype=np.int64)
    for i, s in enumerate(strings):
        ids[i, 0] = vocab[START]
        ids[i, 1: len(s) + 1] = [vocab[c] for c in s]
        ids[i, len(s) + 1] = vocab[END]
        end[i] = len(s) + 1
    return ids, end
