"""3-digit + 3-digit addition, the task of POLCA (Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language
Model Training", arXiv 2506.15872).

A problem is written ``aaa+bbb=ssss``: both operands zero-padded to three digits (0..999, so every problem has the same
12 tokens), the 4-digit sum written most significant digit first, so the first answer token is ``0`` or ``1``. Every
character is one token (:func:`build_tokenizer`). The four answer tokens are the study's samples; each has a ``place``
(``1000s``, ``100s``, ``10s``, ``1s``) and a ``carry`` flag: a token is a carry token when the lower places overflow into
its place (the 1s digit never carries; the 1000s digit is 1 exactly when the 100s overflow).

>>> p = Problem(457, 168)
>>> p.text(), p.carries()
('457+168=0625', (False, True, True, False))
>>> parse("457+168=0625") == p
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DIGITS = tuple(str(d) for d in range(10))
VOCAB: tuple[str, ...] = DIGITS + ("+", "=", "<pad>")
PLACES: tuple[str, ...] = ("1000s", "100s", "10s", "1s")  # answer tokens in the order they are written
MAX_OPERAND = 999
SEQ_LEN = 12  # aaa + bbb = ssss
ANSWER_TOKENS = (8, 9, 10, 11)  # token indices of the four answer digits
#: positions whose next-token loss counts (position p predicts token p + 1): the last '=' and the first three digits
TARGET_POSITIONS = tuple(i - 1 for i in ANSWER_TOKENS)
_TEXT = re.compile(r"(\d{3})\+(\d{3})=(\d{4})")


class AdditionError(ValueError):
    """A malformed addition problem or text; the message names what is wrong."""


def _operand(v: object, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise AdditionError(f"{name} must be an integer in 0..{MAX_OPERAND}, got {v!r}.")
    if not 0 <= int(v) <= MAX_OPERAND:
        raise AdditionError(f"{name} must be an integer in 0..{MAX_OPERAND}, got {int(v)}.")
    return int(v)


@dataclass(frozen=True)
class Problem:
    """``a + b`` with ``a, b`` in 0..999.

    >>> Problem(999, 1).answer_digits()
    '1000'
    """

    a: int
    b: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _operand(self.a, "a"))
        object.__setattr__(self, "b", _operand(self.b, "b"))

    @property
    def total(self) -> int:
        return self.a + self.b

    def answer_digits(self) -> str:
        """The sum as four digits, most significant first."""
        return f"{self.total:04d}"

    def prompt(self) -> str:
        """What the model reads before the answer: ``aaa+bbb=``."""
        return f"{self.a:03d}+{self.b:03d}="

    def text(self) -> str:
        """The whole sequence, ``aaa+bbb=ssss`` (12 tokens)."""
        return self.prompt() + self.answer_digits()

    def carries(self) -> tuple[bool, bool, bool, bool]:
        """Per answer token (1000s, 100s, 10s, 1s): do the lower places overflow into this place?

        >>> Problem(5, 5).carries(), Problem(950, 50).carries()
        ((False, False, True, False), (True, True, False, False))
        """
        a, b = self.a, self.b
        return ((a % 1000 + b % 1000) >= 1000, (a % 100 + b % 100) >= 100, (a % 10 + b % 10) >= 10, False)


def parse(text: str) -> Problem:
    """The problem written in ``text`` (``aaa+bbb=ssss``); a malformed text or a wrong sum raises AdditionError.

    >>> parse("001+002=0003").b
    2
    """
    if not isinstance(text, str):
        raise AdditionError(f"text must be a string like '123+456=0579', got {type(text).__name__}.")
    m = _TEXT.fullmatch(text)
    if m is None:
        raise AdditionError(f"text must look like '123+456=0579' (3 digits + 3 digits = 4 digits), got {text!r}.")
    p = Problem(int(m.group(1)), int(m.group(2)))
    if p.answer_digits() != m.group(3):
        raise AdditionError(f"text {text!r} has the wrong sum: {p.a} + {p.b} = {p.answer_digits()}, not {m.group(3)}.")
    return p


def sample_problem(rng: np.random.Generator) -> Problem:
    """One problem with both operands uniform in 0..999.

    >>> isinstance(sample_problem(np.random.default_rng(0)), Problem)
    True
    """
    a, b = rng.integers(0, MAX_OPERAND + 1, size=2)
    return Problem(int(a), int(b))


def problems(n: int, seed: int, exclude: Sequence[Problem] = ()) -> list[Problem]:
    """``n`` distinct problems drawn from ``seed``, none of them in ``exclude``.

    >>> [p.text() for p in problems(2, seed=0)] == [p.text() for p in problems(2, seed=0)]
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise AdditionError(f"n must be a non-negative integer, got {n!r}.")
    if n > (MAX_OPERAND + 1) ** 2 - len(set(exclude)):
        raise AdditionError(f"n={n} is more than the distinct problems available.")
    rng = np.random.default_rng(seed)
    seen = set(exclude)
    out: list[Problem] = []
    while len(out) < n:
        p = sample_problem(rng)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def answer_table(probs: Sequence[Problem]) -> dict[str, np.ndarray]:
    """One row per answer token (4 per problem, in order): ``problem`` index, ``text``, ``place``, ``carry``,
    ``digit`` (the answer digit), ``token`` (its index in the sequence) and ``position`` (the position predicting it).

    >>> t = answer_table([Problem(457, 168)])
    >>> t["place"].tolist(), t["carry"].tolist(), t["digit"].tolist()
    (['1000s', '100s', '10s', '1s'], [False, True, True, False], [0, 6, 2, 5])
    """
    rows = len(probs) * 4
    texts = np.empty(rows, dtype=object)
    out = {"problem": np.repeat(np.arange(len(probs)), 4), "text": texts,
           "place": np.tile(np.array(PLACES), len(probs)), "carry": np.zeros(rows, bool),
           "digit": np.zeros(rows, np.int64), "token": np.tile(np.array(ANSWER_TOKENS), len(probs)),
           "position": np.tile(np.array(TARGET_POSITIONS), len(probs))}
    for i, p in enumerate(probs):
        texts[4 * i: 4 * i + 4] = p.text()
        out["carry"][4 * i: 4 * i + 4] = p.carries()
        out["digit"][4 * i: 4 * i + 4] = [int(c) for c in p.answer_digits()]
    return out


def encode(probs: Sequence[Problem]) -> np.ndarray:
    """Token ids ``(problem, 12)`` of the problems' texts.

    >>> encode([Problem(1, 2)])[0].tolist()
    [0, 0, 1, 10, 0, 0, 2, 11, 0, 0, 0, 3]
    """
    index = {t: i for i, t in enumerate(VOCAB)}
    return np.array([[index[c] for c in p.text()] for p in probs], dtype=np.int64).reshape(len(probs), SEQ_LEN)


def build_tokenizer():
    """A character-level HuggingFace tokenizer over :data:`VOCAB` (no hub): every character is one token.

    >>> build_tokenizer()("457+168=0625")["input_ids"][:4]
    [4, 5, 7, 10]
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(VOCAB)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", unk_token="<pad>")


__all__ = ["Problem", "AdditionError", "parse", "problems", "sample_problem", "answer_table", "encode",
           "build_tokenizer", "VOCAB", "PLACES", "ANSWER_TOKENS", "TARGET_POSITIONS", "SEQ_LEN"]
