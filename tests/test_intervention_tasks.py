"""The shipped prompt-pair sets for activation patching (data/interventions/*.tsv): sizes, well-formed corruptions,
equal token lengths and one-token answers under both real tokenizers, and one-sentence errors for broken files."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from workbench.zoo.tasks import interventions as iv
from workbench.zoo.tasks.interventions import Pair, check_pairs


def words(text, add_special_tokens=False):
    """A stand-in tokenizer: one token per space-led word."""
    return {"input_ids": re.findall(r" ?[^ ]+", text)}


@pytest.mark.parametrize("name", iv.SETS)
def test_each_set_has_at_least_40_pairs_with_distinct_answers(name):
    pairs = iv.load(name)
    assert len(pairs) >= 40, f"{name}: {len(pairs)} pairs"
    assert all(isinstance(p, Pair) for p in pairs)
    assert all(p.answer != p.wrong for p in pairs), [p for p in pairs if p.answer == p.wrong]
    assert all(p.clean != p.corrupted for p in pairs), [p for p in pairs if p.clean == p.corrupted]
    assert all(p.answer.startswith(" ") and p.wrong.startswith(" ") for p in pairs)
    assert len({(p.clean, p.corrupted) for p in pairs}) == len(pairs), f"{name} repeats a pair"


def test_load_names_the_loaders():
    assert iv.load("factual") == iv.factual() and iv.load("ioi") == iv.ioi() and iv.load("mcqa") == iv.mcqa()
    with pytest.raises(ValueError, match="not an intervention task set"):
        iv.load("sentiment")


def test_factual_corrupts_only_the_subject_over_several_relations():
    table, pairs = iv.rows("factual"), iv.factual()
    assert len({row["relation"] for row in table}) >= 3
    for row, pair in zip(table, pairs):
        prefix, suffix = row["template"].split("{subject}")
        assert pair.clean == prefix + row["subject"] + suffix
        assert pair.corrupted == prefix + row["corrupted_subject"] + suffix
        assert row["subject"] != row["corrupted_subject"]
    assert pairs[0] == Pair("The Eiffel Tower is located in the city of", "The Colosseum is located in the city of",
                            " Paris", " Rome")


def test_ioi_has_three_templates_and_swaps_only_the_subject():
    table, pairs = iv.rows("ioi"), iv.ioi()
    assert len({row["template"] for row in table}) >= 3
    for pair in pairs:
        clean, corrupted = pair.clean.split(" "), pair.corrupted.split(" ")
        changed = [(a, b) for a, b in zip(clean, corrupted) if a != b]
        assert len(clean) == len(corrupted) and changed == [(pair.wrong[1:], pair.answer[1:])], pair
        # both names are introduced before the swap, the indirect object once in clean and twice in corrupted
        assert pair.clean.count(pair.answer[1:]) == 1 and pair.corrupted.count(pair.answer[1:]) == 2, pair
        assert pair.clean.count(pair.wrong[1:]) == 2 and pair.corrupted.count(pair.wrong[1:]) == 1, pair


def test_mcqa_moves_the_correct_option_to_the_wrong_letter_with_every_letter_used():
    pairs = iv.mcqa()
    assert set(Counter(p.answer for p in pairs)) == {" A", " B", " C", " D"}
    assert set(Counter(p.wrong for p in pairs)) == {" A", " B", " C", " D"}
    for pair in pairs:
        def options(prompt):
            lines = prompt.splitlines()
            assert lines[0].startswith("Question: ") and lines[-1] == "Answer:" and len(lines) == 6, prompt
            return {line[0]: line[3:] for line in lines[1:5]}

        clean, corrupted = options(pair.clean), options(pair.corrupted)
        assert pair.clean.splitlines()[0] == pair.corrupted.splitlines()[0]
        assert sorted(clean.values()) == sorted(corrupted.values()) and len(set(clean.values())) == 4
        assert clean[pair.answer[1]] == corrupted[pair.wrong[1]]  # the correct option moved
        assert [k for k in "ABCD" if clean[k] != corrupted[k]] == sorted({pair.answer[1], pair.wrong[1]})


def test_check_pairs_reports_each_problem():
    assert check_pairs([Pair("a b c", "d e f", " x", " y")], words) == []
    problems = check_pairs([Pair("a b c", "d e", " x y", " x y")], words)
    assert problems == ["pair 0: clean has 3 tokens, corrupted 2.", "pair 0: answer and wrong are both ' x y'.",
                        "pair 0: answer ' x y' is 2 tokens, not one.", "pair 0: wrong ' x y' is 2 tokens, not one."]
    # a token that merges with the end of its prompt is not the token the last position predicts
    glued = check_pairs([Pair("a b", "c d", "x", " y")], words)
    assert glued == ["pair 0: answer 'x' tokenizes differently after its prompt."]


@pytest.fixture(scope="module", params=["smollm2-135m", "gemma3-270m"])
def real_tokenizer(request):
    if request.param == "smollm2-135m":
        return request.getfixturevalue("smollm2").tokenizer
    import workbench as wb

    return wb.load_model(request.param).tokenizer


@pytest.mark.slow
@pytest.mark.parametrize("name", iv.SETS)
def test_every_pair_is_well_formed_under_both_real_tokenizers(name, real_tokenizer):
    for letter in " A", " B", " C", " D":
        assert len(real_tokenizer(letter, add_special_tokens=False)["input_ids"]) == 1
    assert check_pairs(iv.load(name), real_tokenizer) == []


def write(tmp_path, name, text):
    folder = tmp_path / "interventions"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_workbench_data_points_the_loaders_elsewhere(tmp_path, monkeypatch):
    write(tmp_path, "ioi", "# a comment\ntemplate\tio\ts\n\nThen, {IO} and {S} met. {S2} waved to\tAnna\tTom\n")
    monkeypatch.setenv("WORKBENCH_DATA", str(tmp_path))
    assert iv.ioi() == [Pair("Then, Anna and Tom met. Tom waved to", "Then, Anna and Tom met. Anna waved to",
                             " Anna", " Tom")]


def test_a_missing_file_names_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no intervention task file .*interventions/mcqa\.tsv"):
        iv.mcqa()


@pytest.mark.parametrize("name, text, message", [
    ("ioi", "# c\ntemplate\tio\ts\nWhen {IO} and {S} left, {S2} waved to\tAnna\n",
     r"ioi\.tsv, line 3: expected 3 tab-separated fields \(template, io, s\), got 2\."),
    ("ioi", "# c\ntemplate\tname\ts\n", r"ioi\.tsv, line 2: the header should be"),
    ("ioi", "# c\ntemplate\tio\ts\nWhen {IO} and {S} left, Tom waved to\tAnna\tTom\n",
     r"ioi\.tsv, line 3: the template must hold \{S2\} exactly once"),
    ("ioi", "# c\ntemplate\tio\ts\nWhen {IO} and {S} left, {S2} waved to\tTom\tTom\n",
     r"ioi\.tsv, line 3: io and s are both 'Tom'"),
    ("ioi", "# only a comment\n", r"ioi\.tsv has no pairs"),
    ("factual", "relation\ttemplate\tsubject\tanswer\tcorrupted_subject\twrong\n"
                "capital\tThe capital of {subject} is\tFrance\tParis\tItaly\t\n",
     r"factual\.tsv, line 2: empty field 'wrong'"),
    ("factual", "relation\ttemplate\tsubject\tanswer\tcorrupted_subject\twrong\n"
                "capital\tThe capital of {subject} is\tFrance\tParis\tItaly\tParis\n",
     r"factual\.tsv, line 2: answer and wrong are both 'Paris'"),
    ("mcqa", "question\tA\tB\tC\tD\tanswer\twrong\nWhat is 2 + 2?\t3\t4\t5\t6\tB\tE\n",
     r"mcqa\.tsv, line 2: answer and wrong must be two different letters of A-D, not 'B' and 'E'"),
    ("mcqa", "question\tA\tB\tC\tD\tanswer\twrong\nWhat is 2 + 2?\t3\t4\t5\t6\tB\tB\n",
     r"mcqa\.tsv, line 2: answer and wrong must be two different letters"),
])
def test_a_malformed_file_names_the_file_and_line(tmp_path, monkeypatch, name, text, message):
    write(tmp_path, name, text)
    monkeypatch.setenv("WORKBENCH_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=message):
        iv.load(name)
