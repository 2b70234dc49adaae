"""The addition task (POLCA's) and the shipped `addition` zoo model: problems, carries checked by long addition
written independently, the tokenizer, clear errors for malformed problems, and the shipped model's accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from workbench.zoo import addition as A
from workbench.zoo.tasks import addition as task


def long_addition(a: int, b: int) -> list[bool]:
    """Carry into each place (1000s, 100s, 10s, 1s), by column addition from the right."""
    carries, carry = [], 0
    for k in range(3):  # ones, tens, hundreds
        s = (a // 10 ** k) % 10 + (b // 10 ** k) % 10 + carry
        carry = int(s >= 10)
        carries.append(bool(carry))  # carry out of place k = carry into place k+1
    return [carries[2], carries[1], carries[0], False]


@given(st.integers(0, 999), st.integers(0, 999))
def test_problem_text_and_carries(a, b):
    p = task.Problem(a, b)
    assert p.text() == f"{a:03d}+{b:03d}={a + b:04d}" and len(p.text()) == task.SEQ_LEN
    assert list(p.carries()) == long_addition(a, b)
    assert task.parse(p.text()) == p
    t = task.answer_table([p])
    assert t["digit"].tolist() == [int(ch) for ch in f"{a + b:04d}"]
    assert [p.text()[i] for i in t["token"]] == list(f"{a + b:04d}")
    assert (t["position"] + 1 == t["token"]).all()


def test_seeded_distinct_problems_and_exclusion():
    a, b = task.problems(50, seed=3), task.problems(50, seed=3)
    assert a == b and len(set(a)) == 50
    c = task.problems(50, seed=4, exclude=a)
    assert not set(a) & set(c)


def test_tokenizer_is_one_token_per_character():
    tok = task.build_tokenizer()
    text = "457+168=0625"
    ids = tok(text)["input_ids"]
    assert ids == task.encode([task.parse(text)])[0].tolist()
    assert tok.decode(ids) == text
    assert [tok.convert_ids_to_tokens(i) for i in ids] == list(text)


@pytest.mark.parametrize("bad, message", [
    ("457+168=0626", "has the wrong sum: 457 \\+ 168 = 0625, not 0626"),
    ("457+168=625", "must look like '123\\+456=0579'"),
    ("4a7+168=0625", "must look like"),
])
def test_malformed_text_is_named(bad, message):
    with pytest.raises(task.AdditionError, match=message):
        task.parse(bad)


def test_malformed_problem_is_named():
    with pytest.raises(task.AdditionError, match="a must be an integer in 0..999, got 1000"):
        task.Problem(1000, 1)
    with pytest.raises(task.AdditionError, match="b must be an integer in 0..999, got 2.5"):
        task.Problem(1, 2.5)
    with pytest.raises(task.AdditionError, match="text must be a string"):
        task.parse(123)


def test_shipped_model_adds():
    import json

    from workbench.zoo import registry

    path = registry.path("addition")
    meta = json.loads((path / "training.json").read_text())
    model = __import__("transformers").AutoModelForCausalLM.from_pretrained(path)
    assert sum(p.numel() for p in model.parameters()) == meta["parameters"] < 500_000
    val = A.validation_problems()
    res = A.evaluate(model, val)
    assert res["accuracy"] == pytest.approx(meta["validation"]["accuracy"], abs=1e-6) and res["accuracy"] > 0.95
    # and by generation (greedy, digit by digit), not only teacher-forced
    ids = torch.as_tensor(task.encode(val[:200]))[:, :8]
    with torch.no_grad():
        for _ in range(4):
            nxt = model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], 1)
    answers = ["".join(task.VOCAB[i] for i in row[8:]) for row in ids.tolist()]
    assert np.mean([s == p.answer_digits() for s, p in zip(answers, val[:200])]) > 0.95
