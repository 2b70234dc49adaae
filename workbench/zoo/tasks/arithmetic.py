"""Multi-step arithmetic word problems with a gold trace, for the latent-reasoning zoo models.

A CPU-sized stand-in for GSM8k-Aug (Deng et al. 2023), as used by Coconut (Hao et al. 2024, "Training large language
models to reason in a continuous latent space") and by Dilgren & Wiegreffe (arXiv 2604.04902): every problem is a
chain of 2-4 operations on numbers 0-99, the gold trace is written ``<<a*b=c>>`` per step, and every number is one
token of a word-level tokenizer (:func:`build_tokenizer`) so a logit-lens readout of an intermediate value is a single
vocabulary entry. Counterfactual variants change one question number and recompute the trace.

>>> p = sample_problem(__import__("numpy").random.default_rng(0))
>>> parse_trace(p.trace_text()) == p.steps
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

MAX_VALUE = 99
MAX_ADD = 20  # + and - operands are drawn from 1..20 (fewer facts for a CPU-sized model to learn)
OPS = ("+", "-", "*", "/")
NUMBERS = [str(i) for i in range(MAX_VALUE + 1)]
NAMES = ["Tom", "Ann", "Sam", "Mia", "Leo", "Eva"]
OBJECTS = ["apples", "coins", "books", "cards", "shells", "stamps"]
SPECIAL = ["<pad>", "<unk>", "<eos>", "<bot>", "<eot>", "<latent>"]
MARKS = ["<<", ">>", "=", "###", "?", "."] + list(OPS)
WORDS = ["has", "gets", "loses", "multiplies", "divides", "by", "how", "many", "now"]
TEMPLATES = {
    "+": "gets {b} .",
    "-": "loses {b} .",
    "*": "multiplies by {b} .",
    "/": "divides by {b} .",
}


class TraceError(ValueError):
    """A trace string or problem that does not parse or is wrong; the message names the offending item."""


@dataclass(frozen=True)
class Step:
    """One operation ``a op b = result``."""

    a: int
    op: str
    b: int
    result: int

    def text(self) -> str:
        return f"<<{self.a}{self.op}{self.b}={self.result}>>"


@dataclass(frozen=True)
class Problem:
    """A chain problem: ``numbers[0] op[0] numbers[1] -> x1; x1 op[1] numbers[2] -> x2 ...``; ``answer`` = last x."""

    numbers: tuple[int, ...]
    ops: tuple[str, ...]
    name: str = "Tom"
    obj: str = "apples"

    def __post_init__(self) -> None:
        if len(self.numbers) != len(self.ops) + 1:
            raise TraceError(f"numbers must have one more entry than ops; got {len(self.numbers)} numbers and "
                             f"{len(self.ops)} ops.")
        for n in self.numbers:
            check_number(n, "question number")
        for op in self.ops:
            if op not in OPS:
                raise TraceError(f"op {op!r} is not one of {OPS}.")
        self.steps  # noqa: B018 - raises for a chain that leaves 0..99 or divides unevenly

    @property
    def steps(self) -> tuple[Step, ...]:
        out, x = [], self.numbers[0]
        for op, b in zip(self.ops, self.numbers[1:]):
            r = apply(op, (x, b))
            if r is None:
                raise TraceError(f"step {x}{op}{b} has no whole result in 0..{MAX_VALUE}.")
            out.append(Step(x, op, b, r))
            x = r
        return tuple(out)

    @property
    def answer(self) -> int:
        return self.steps[-1].result

    def question(self) -> str:
        parts = [f"{self.name} has {self.numbers[0]} {self.obj} ."]
        parts += [TEMPLATES[op].format(name=self.name, b=b) for op, b in zip(self.ops, self.numbers[1:])]
        parts.append(f"how many {self.obj} now ?")
        return " ".join(parts)

    def trace_text(self) -> str:
        return "".join(s.text() for s in self.steps)

    def trace_tokens(self) -> list[str]:
        """The trace as tokens: ``<< 3 * 4 = 12 >>`` per step."""
        return [t for s in self.steps for t in ("<<", str(s.a), s.op, str(s.b), "=", str(s.result), ">>")]


def check_number(value: object, what: str = "number") -> int:
    """``value`` as an int in 0..99 (one token); anything else (100, 1.5, "x") raises naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TraceError(f"{what} {value!r} is not a whole number in 0..{MAX_VALUE} (a single token).")
    if not 0 <= int(value) <= MAX_VALUE:
        raise TraceError(f"{what} {value!r} is outside 0..{MAX_VALUE}: it would not be a single token.")
    return int(value)


def apply(op: str, operands: Sequence[int]) -> int | None:
    """Left-to-right ``op`` over operands; None when a result is not a whole number in 0..99.

    >>> apply("*", (3, 4)), apply("/", (7, 2)), apply("-", (9, 3, 2))
    (12, None, 4)
    """
    x = int(operands[0])
    for y in operands[1:]:
        if op == "+":
            x = x + y
        elif op == "-":
            x = x - y
        elif op == "*":
            x = x * y
        elif op == "/":
            if y == 0 or x % y:
                return None
            x = x // y
        else:
            raise TraceError(f"op {op!r} is not one of {OPS}.")
        if not 0 <= x <= MAX_VALUE:
            return None
    return x


_STEP = re.compile(r"<<([^<>]*)>>")
_BODY = re.compile(r"^\s*(\S+?)\s*([-+*/])\s*(\S+?)\s*=\s*(\S+)\s*$")


def _int_token(text: str, item: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise TraceError(f"trace item {item!r}: {text!r} is not a whole number in 0..{MAX_VALUE}.")
    return check_number(int(text), f"trace item {item!r}: number")


def parse_trace(text: str) -> tuple[Step, ...]:
    """Parse ``"<<3*4=12>><<12+5=17>>"`` into steps, checking each one's arithmetic.

    >>> parse_trace("<<3*4=12>><<12+5=17>>")[1]
    Step(a=12, op='+', b=5, result=17)
    >>> parse_trace("<<3*4=13>>")
    Traceback (most recent call last):
    ...
    workbench.zoo.tasks.arithmetic.TraceError: trace item '<<3*4=13>>' is wrong arithmetic: 3*4 is 12, not 13.
    """
    if not isinstance(text, str):
        raise TraceError(f"trace must be a string like '<<3*4=12>>', got {type(text).__name__}.")
    items = list(_STEP.finditer(text))
    leftover = _STEP.sub("", text).strip()
    if leftover:
        raise TraceError(f"trace {text!r} has text outside <<...>> items: {leftover!r}.")
    if not items:
        raise TraceError(f"trace {text!r} has no <<a op b = c>> items.")
    steps = []
    for m in items:
        item = m.group(0)
        body = _BODY.match(m.group(1))
        if body is None:
            raise TraceError(f"trace item {item!r} does not parse; expected <<a op b=c>> with op in {OPS}.")
        a, op, b, c = body.groups()
        a, b, c = _int_token(a, item), _int_token(b, item), _int_token(c, item)
        true = apply(op, (a, b))
        if true != c:
            got = "has no whole result in 0..99" if true is None else f"is {true}"
            raise TraceError(f"trace item {item!r} is wrong arithmetic: {a}{op}{b} {got}, not {c}.")
        steps.append(Step(a, op, b, c))
    return tuple(steps)


def sample_problem(rng: np.random.Generator, min_steps: int = 2, max_steps: int = 4) -> Problem:
    """A random chain problem with every value in 0..99 (seeded by ``rng``); * and / use 2..9, + and - 1..20.

    >>> sample_problem(np.random.default_rng(1)).answer in range(100)
    True
    """
    if not 1 <= min_steps <= max_steps:
        raise ValueError(f"need 1 <= min_steps <= max_steps, got {min_steps}, {max_steps}.")
    n = int(rng.integers(min_steps, max_steps + 1))
    x = int(rng.integers(2, MAX_VALUE + 1))
    numbers, ops = [x], []
    for _ in range(n):
        options = []
        for op in OPS:
            if op == "+" and x < MAX_VALUE:
                options.append((op, list(range(1, min(MAX_ADD, MAX_VALUE - x) + 1))))
            elif op == "-" and x > 1:
                options.append((op, list(range(1, min(MAX_ADD, x - 1) + 1))))
            elif op == "*" and 2 * x <= MAX_VALUE:
                options.append((op, [b for b in range(2, 10) if b * x <= MAX_VALUE]))
            elif op == "/":
                divs = [b for b in range(2, 10) if x % b == 0]
                if divs:
                    options.append((op, divs))
        op, choices = options[int(rng.integers(len(options)))]
        b = int(choices[int(rng.integers(len(choices)))])
        x = apply(op, (x, b))
        numbers.append(b)
        ops.append(op)
    return Problem(tuple(numbers), tuple(ops), NAMES[int(rng.integers(len(NAMES)))],
                   OBJECTS[int(rng.integers(len(OBJECTS)))])


def problems(n: int, seed: int, min_steps: int = 2, max_steps: int = 4) -> list[Problem]:
    """``n`` seeded problems.

    >>> len(problems(5, seed=3))
    5
    """
    rng = np.random.default_rng(seed)
    return [sample_problem(rng, min_steps, max_steps) for _ in range(n)]


def counterfactual(problem: Problem, index: int, value: int) -> Problem:
    """``problem`` with question number ``index`` set to ``value`` and the trace recomputed (TraceError if invalid).

    >>> p = Problem((3, 4, 5), ("*", "+"))
    >>> counterfactual(p, 0, 6).trace_text()
    '<<6*4=24>><<24+5=29>>'
    """
    if not 0 <= index < len(problem.numbers):
        raise TraceError(f"index {index} is not a question-number index (0..{len(problem.numbers) - 1}).")
    check_number(value, "counterfactual value")
    numbers = list(problem.numbers)
    numbers[index] = int(value)
    return replace(problem, numbers=tuple(numbers))


def alternatives(problem: Problem, index: int, rng: np.random.Generator, n: int = 3) -> list[int]:
    """Up to ``n`` other values for question number ``index`` that keep the problem valid, drawn by ``rng``.

    >>> alternatives(Problem((3, 4, 5), ("*", "+")), 1, np.random.default_rng(0), 3) != []
    True
    """
    ok = []
    for v in range(MAX_VALUE + 1):
        if v == problem.numbers[index]:
            continue
        try:
            counterfactual(problem, index, v)
        except TraceError:
            continue
        ok.append(v)
    if not ok:
        return []
    pick = rng.choice(len(ok), size=min(n, len(ok)), replace=False)
    return [ok[i] for i in sorted(pick)]


def vocabulary() -> list[str]:
    """Every token of the word-level tokenizer; ``"0".."99"`` are single tokens."""
    return SPECIAL + NUMBERS + MARKS + WORDS + NAMES + OBJECTS


def build_tokenizer():
    """A word-level HuggingFace tokenizer over :func:`vocabulary` (whitespace split, no hub).

    >>> tok = build_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("Tom has 42 apples .")["input_ids"])
    ['Tom', 'has', '42', 'apples', '.']
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(vocabulary())}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>",
                                   additional_special_tokens=["<bot>", "<eot>", "<latent>"])


def encode_tokens(tokens: Sequence[str]) -> list[int]:
    """Token strings to ids, naming any token outside the vocabulary (e.g. a multi-token number like ``100``).

    >>> encode_tokens(["Tom", "has", "7"])[:2] == [vocabulary().index("Tom"), vocabulary().index("has")]
    True
    """
    index = _INDEX
    out = []
    for t in tokens:
        if t not in index:
            if re.fullmatch(r"-?\d+(\.\d+)?", t):
                raise TraceError(f"number {t!r} is not a single token (only 0..{MAX_VALUE} are).")
            raise TraceError(f"token {t!r} is not in the arithmetic vocabulary.")
        out.append(index[t])
    return out


_INDEX = {t: i for i, t in enumerate(vocabulary())}
