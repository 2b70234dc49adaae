"""Prompt pairs for interventions (activation patching, attribution patching): a clean prompt, a corrupted prompt of
the same token length, and the answer the clean prompt should get against the one the corrupted prompt should get.

Three sets ship as tab-separated files in ``data/interventions/`` (``$WORKBENCH_DATA/interventions`` overrides it),
written for this project and checked under both the SmolLM2 and the Gemma-3 tokenizer (:func:`check_pairs`):
``factual`` (a relation template filled with two subjects), ``ioi`` (indirect-object identification, the subject
swapped) and ``mcqa`` (formatted multiple choice, the correct option moved to another letter).

>>> Pair("When Mary and John went to the store, John gave a drink to",
...      "When Mary and John went to the store, Mary gave a drink to", " Mary", " John").answer
' Mary'
>>> {name: len(load(name)) >= 40 for name in SETS}
{'factual': True, 'ioi': True, 'mcqa': True}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pair:
    """One clean/corrupted prompt pair. ``answer`` is the token the clean prompt should be completed with and
    ``wrong`` the one the corrupted prompt points to (both with their leading space, as the tokenizer sees them);
    either may be empty for a metric that names its own tokens."""

    clean: str
    corrupted: str
    answer: str = ""
    wrong: str = ""


SETS = ("factual", "ioi", "mcqa")
COLUMNS = {
    "factual": ("relation", "template", "subject", "answer", "corrupted_subject", "wrong"),
    "ioi": ("template", "io", "s"),
    "mcqa": ("question", "A", "B", "C", "D", "answer", "wrong"),
}
LETTERS = "ABCD"


def data_dir() -> Path:
    """Where the task files live: ``$WORKBENCH_DATA/interventions`` or the repository's ``data/interventions``.

    >>> data_dir().name
    'interventions'
    """
    root = Path(os.environ["WORKBENCH_DATA"]) if os.environ.get("WORKBENCH_DATA") else \
        Path(__file__).resolve().parents[3] / "data"
    return root / "interventions"


def read_table(filename: str, columns: tuple[str, ...], *, what: str = "intervention task",
               items: str = "pairs") -> tuple[Path, list[tuple[int, dict[str, str]]]]:
    """``(path, [(line number, row)])`` of the tab-separated file ``filename`` in :func:`data_dir`: ``#`` lines and
    blank lines skipped, the first other line the header (it must be ``columns``), every field non-empty and
    stripped. Errors name the file and line; ``what`` and ``items`` word them (shared with
    :mod:`workbench.zoo.tasks.steering`).

    >>> path, table = read_table("ioi.tsv", COLUMNS["ioi"])
    >>> table[0]
    (4, {'template': 'When {IO} and {S} went to the store, {S2} gave a drink to', 'io': 'Thomas', 's': 'Alice'})
    """
    path = data_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"no {what} file {path}; set WORKBENCH_DATA to a folder that holds "
                                f"interventions/{filename}, or restore it in the repository's data/.")
    header, rows = None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            header = tuple(f.strip() for f in fields)
            if header != columns:
                raise ValueError(f"{path}, line {number}: the header should be the tab-separated columns "
                                 f"{list(columns)}, not {list(header)}.")
            continue
        if len(fields) != len(columns):
            raise ValueError(f"{path}, line {number}: expected {len(columns)} tab-separated fields "
                             f"({', '.join(columns)}), got {len(fields)}.")
        row = dict(zip(columns, (f.strip() for f in fields)))
        empty = [c for c, v in row.items() if not v]
        if empty:
            raise ValueError(f"{path}, line {number}: empty field {empty[0]!r}.")
        rows.append((number, row))
    if not rows:
        raise ValueError(f"{path} has no {items}: it needs a header line {list(columns)} and at least one line below.")
    return path, rows


def _read(name: str) -> tuple[Path, list[tuple[int, dict[str, str]]]]:
    """``(path, [(line number, row)])`` of set ``name``'s file (:func:`read_table`)."""
    if name not in SETS:
        raise ValueError(f"{name!r} is not an intervention task set; choose from {list(SETS)}.")
    return read_table(f"{name}.tsv", COLUMNS[name])


def rows(name: str) -> list[dict[str, str]]:
    """The table behind set ``name``, one dict per pair in file order (to group pairs by relation or template).

    >>> sorted({row["relation"] for row in rows("factual")})
    ['capital', 'city_country', 'company', 'landmark']
    """
    return [row for _, row in _read(name)[1]]


def _fill(path: Path, number: int, template: str, **values: str) -> str:
    """``template`` with each ``{KEY}`` replaced by its value; each must occur exactly once."""
    for key, value in values.items():
        slot = "{" + key + "}"
        if template.count(slot) != 1:
            raise ValueError(f"{path}, line {number}: the template must hold {slot} exactly once: {template!r}.")
        template = template.replace(slot, value)
    return template


def factual() -> list[Pair]:
    """Factual recall: a relation template ("{subject} is located in the city of") filled with a subject (clean,
    answer: its true completion) and with another subject of the same token length (corrupted, ``wrong``: the other
    subject's completion), over four relations (landmark -> city, country -> capital, city -> country, company ->
    country).

    >>> factual()[0]
    Pair(clean='The Eiffel Tower is located in the city of', corrupted='The Colosseum is located in the city of', \
answer=' Paris', wrong=' Rome')
    """
    path, table = _read("factual")
    pairs = []
    for number, row in table:
        if row["answer"] == row["wrong"]:
            raise ValueError(f"{path}, line {number}: answer and wrong are both {row['answer']!r}.")
        pairs.append(Pair(_fill(path, number, row["template"], subject=row["subject"]),
                          _fill(path, number, row["template"], subject=row["corrupted_subject"]),
                          " " + row["answer"], " " + row["wrong"]))
    return pairs


def ioi() -> list[Pair]:
    """Indirect-object identification: "When {IO} and {S} went to the store, {S2} gave a drink to" with the subject
    at {S2} (clean, answer: the indirect object ``io``) and with ``io`` at {S2} (corrupted: ``s`` becomes the indirect
    object, ``wrong`` = ``s``). Six templates, both name orders (ABBA and BABA).

    >>> ioi()[0].clean, ioi()[0].corrupted
    ('When Thomas and Alice went to the store, Alice gave a drink to', \
'When Thomas and Alice went to the store, Thomas gave a drink to')
    """
    path, table = _read("ioi")
    pairs = []
    for number, row in table:
        io, s, template = row["io"], row["s"], row["template"]
        if io == s:
            raise ValueError(f"{path}, line {number}: io and s are both {io!r}.")
        pairs.append(Pair(_fill(path, number, template, IO=io, S=s, S2=s),
                          _fill(path, number, template, IO=io, S=s, S2=io), " " + io, " " + s))
    return pairs


def mcqa_prompt(question: str, options: list[str]) -> str:
    """The formatted multiple-choice prompt: question, four options labelled A-D, then ``Answer:``.

    >>> print(mcqa_prompt("What is 2 + 2?", ["3", "4", "5", "6"]))
    Question: What is 2 + 2?
    A. 3
    B. 4
    C. 5
    D. 6
    Answer:
    """
    lines = [f"Question: {question}"] + [f"{letter}. {option}" for letter, option in zip(LETTERS, options)]
    return "\n".join(lines + ["Answer:"])


def mcqa() -> list[Pair]:
    """Formatted multiple choice: the question with its options as written (clean, answer: the correct letter) and
    with the correct option swapped with the one at letter ``wrong`` (corrupted: the correct option now sits there).

    >>> pair = mcqa()[0]
    >>> pair.answer, pair.wrong, pair.corrupted.splitlines()[1:3]
    (' A', ' B', ['A. Berlin', 'B. Paris'])
    """
    path, table = _read("mcqa")
    pairs = []
    for number, row in table:
        answer, wrong = row["answer"], row["wrong"]
        if answer not in LETTERS or wrong not in LETTERS or answer == wrong:
            raise ValueError(f"{path}, line {number}: answer and wrong must be two different letters of A-D, "
                             f"not {answer!r} and {wrong!r}.")
        options = [row[letter] for letter in LETTERS]
        swapped = list(options)
        i, j = LETTERS.index(answer), LETTERS.index(wrong)
        swapped[i], swapped[j] = options[j], options[i]
        pairs.append(Pair(mcqa_prompt(row["question"], options), mcqa_prompt(row["question"], swapped),
                          " " + answer, " " + wrong))
    return pairs


def load(name: str) -> list[Pair]:
    """The pairs of set ``name`` (one of :data:`SETS`).

    >>> len(load("ioi"))
    48
    """
    loaders = {"factual": factual, "ioi": ioi, "mcqa": mcqa}
    if name not in loaders:
        raise ValueError(f"{name!r} is not an intervention task set; choose from {list(SETS)}.")
    return loaders[name]()


def check_pairs(pairs: list[Pair], tokenizer) -> list[str]:
    """The problems of ``pairs`` under ``tokenizer`` (an HF tokenizer, or any callable returning ``input_ids``), one
    sentence each; empty when every pair is usable for patching: clean and corrupted the same number of tokens,
    ``answer`` and ``wrong`` one token each and different, and that token unchanged when appended to its prompt.

    >>> import re
    >>> words = lambda text, add_special_tokens=False: {"input_ids": re.findall(r" ?[^ ]+", text)}
    >>> check_pairs([Pair("The Eiffel Tower is in", "The Colosseum is in", " Paris", " Rome")], words)
    ['pair 0: clean has 5 tokens, corrupted 4.']
    >>> check_pairs([Pair("The Louvre is in", "The Kremlin is in", " Paris", " Paris")], words)
    ["pair 0: answer and wrong are both ' Paris'."]
    """
    def ids(text: str) -> list:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    problems = []
    for i, pair in enumerate(pairs):
        clean, corrupted = ids(pair.clean), ids(pair.corrupted)
        if len(clean) != len(corrupted):
            problems.append(f"pair {i}: clean has {len(clean)} tokens, corrupted {len(corrupted)}.")
        if pair.answer == pair.wrong:
            problems.append(f"pair {i}: answer and wrong are both {pair.answer!r}.")
        for field, token, prompt, prompt_ids in (("answer", pair.answer, pair.clean, clean),
                                                 ("wrong", pair.wrong, pair.corrupted, corrupted)):
            token_ids = ids(token)
            if len(token_ids) != 1:
                problems.append(f"pair {i}: {field} {token!r} is {len(token_ids)} tokens, not one.")
            elif ids(prompt + token) != prompt_ids + token_ids:
                problems.append(f"pair {i}: {field} {token!r} tokenizes differently after its prompt.")
    return problems
