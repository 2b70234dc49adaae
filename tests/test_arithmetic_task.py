"""The arithmetic word-problem task: seeded problems, single-token numbers, trace parsing, counterfactuals."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.zoo.tasks import arithmetic as ar


def _eval_chain(numbers, ops):
    """Independent re-computation with Python's own operators."""
    x = numbers[0]
    out = []
    for op, b in zip(ops, numbers[1:]):
        y = {"+": lambda: x + b, "-": lambda: x - b, "*": lambda: x * b, "/": lambda: x / b}[op]()
        out.append(y)
        x = y
    return out


def test_problems_are_seeded_and_in_range():
    a, b, c = ar.problems(200, seed=7), ar.problems(200, seed=7), ar.problems(200, seed=8)
    assert a == b and a != c
    lengths = {len(p.steps) for p in a}
    assert lengths == {2, 3, 4}
    for p in a:
        values = _eval_chain(p.numbers, p.ops)
        assert all(float(v).is_integer() and 0 <= v <= 99 for v in values)
        assert [s.result for s in p.steps] == [int(v) for v in values]
        assert p.answer == int(values[-1])


def test_every_number_is_one_token():
    tok = ar.build_tokenizer()
    for i in range(100):
        ids = tok(str(i))["input_ids"]
        assert len(ids) == 1 and tok.decode(ids) == str(i)
    p = ar.problems(1, seed=3)[0]
    ids = tok(p.question())["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.convert_ids_to_tokens(ids) == p.question().split()
    numbers_in_text = [int(t) for t in p.question().split() if t.isdigit()]
    assert tuple(numbers_in_text) == p.numbers


def test_trace_round_trip():
    for p in ar.problems(50, seed=1):
        assert ar.parse_trace(p.trace_text()) == p.steps
        assert re.fullmatch(r"(<<\d+[-+*/]\d+=\d+>>)+", p.trace_text())


@pytest.mark.parametrize("text, needle", [
    ("<<3*4=13>>", "'<<3*4=13>>' is wrong arithmetic: 3*4 is 12, not 13"),
    ("<<3*x=12>>", "'x'"),
    ("<<7/2=3>>", "no whole result"),
    ("<<3*4=12>> hello", "'hello'"),
    ("", "no <<a op b = c>> items"),
    ("<<3^4=81>>", "'<<3^4=81>>' does not parse"),
    ("<<50*3=150>>", "150"),
])
def test_bad_traces_name_the_item(text, needle):
    with pytest.raises(ar.TraceError) as err:
        ar.parse_trace(text)
    assert needle in str(err.value)


@pytest.mark.parametrize("value", [100, 1.5, -1, "7"])
def test_multi_token_numbers_are_rejected(value):
    with pytest.raises(ar.TraceError, match=re.escape(repr(value))):
        ar.Problem((value, 2), ("+",))
    with pytest.raises(ar.TraceError, match="100"):
        ar.encode_tokens(["Tom", "has", "100"])
    with pytest.raises(ar.TraceError, match=re.escape("'1.5'")):
        ar.encode_tokens(["1.5"])


def test_chain_leaving_range_is_rejected():
    with pytest.raises(ar.TraceError, match="50\\*3"):
        ar.Problem((50, 3), ("*",))


def test_counterfactual_recomputes_trace():
    p = ar.Problem((3, 4, 5), ("*", "+"))
    q = ar.counterfactual(p, 0, 6)
    assert q.trace_text() == "<<6*4=24>><<24+5=29>>" and q.answer == 29
    rng = np.random.default_rng(0)
    for p in ar.problems(30, seed=2):
        for idx in range(len(p.numbers)):
            for v in ar.alternatives(p, idx, rng, 3):
                q = ar.counterfactual(p, idx, v)
                assert q.numbers[idx] == v and q.numbers[:idx] == p.numbers[:idx]
                assert [s.result for s in q.steps] == [int(x) for x in _eval_chain(q.numbers, q.ops)]
    with pytest.raises(ar.TraceError, match="index 9"):
        ar.counterfactual(p, 9, 1)


@settings(max_examples=200, deadline=None)
@given(a=st.integers(0, 99), b=st.integers(0, 99), op=st.sampled_from(ar.OPS))
def test_apply_matches_python(a, b, op):
    r = ar.apply(op, (a, b))
    true = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
    ok = true is not None and float(true).is_integer() and 0 <= true <= 99
    assert r == (int(true) if ok else None)
    if ok:
        assert ar.parse_trace(f"<<{a}{op}{b}={r}>>")[0].result == r
