"""The Dyck-1 task (METHODS D): generators, labels, lengths, depth profiles, bad input, tokenizer and model folder."""

from __future__ import annotations

import re

import numpy as np
import pytest

from workbench.zoo.tasks import dyck as task


def _nested_by_hand(s: str) -> bool:
    """Independent check: repeatedly delete "()" until nothing changes; nested iff the string vanishes."""
    while "()" in s:
        s = s.replace("()", "")
    return s == ""


def _depths_by_hand(s: str) -> list[int]:
    out, d = [], 0
    for c in s:
        d += 1 if c == "(" else -1
        out.append(d)
    return out


def test_generators_make_the_right_kinds():
    rng = np.random.default_rng(0)
    for n in (2, 4, 10, 40):
        for _ in range(30):
            s = task.nested(rng, n)
            assert len(s) == n and _nested_by_hand(s)
            u = task.unequal(rng, n)
            assert len(u) == n and u.count("(") != u.count(")") and not _nested_by_hand(u)
            o = task.equal_not_nested(rng, n)
            assert len(o) == n and o.count("(") == o.count(")") and not _nested_by_hand(o)


def test_nested_sampler_is_uniform_over_dyck_words():
    # Dyck words of 6 brackets: Catalan(3) = 5, each should appear ~1/5 of the time
    rng = np.random.default_rng(1)
    counts: dict[str, int] = {}
    for _ in range(5000):
        s = task.nested(rng, 6)
        counts[s] = counts.get(s, 0) + 1
    assert len(counts) == 5
    freqs = np.array(list(counts.values())) / 5000
    assert np.all(np.abs(freqs - 0.2) < 0.03)


def test_sets_are_balanced_seeded_and_have_paper_lengths():
    a, b, c = task.id_set(3, 2000), task.id_set(3, 2000), task.id_set(4, 2000)
    assert a.strings == b.strings and a.strings != c.strings
    assert a.labels.mean() == 0.5
    for s, y in zip(a.strings, a.labels):
        assert _nested_by_hand(s) == bool(y)
        if not y:
            assert s.count("(") != s.count(")")  # FALSE = neither nested nor equal-count
    lengths = np.array([len(s) for s in a.strings])
    assert np.all(lengths % 2 == 0) and lengths.min() >= 2 and lengths.max() <= 40
    k = (lengths - 2) / 2  # should be Binomial(19, 0.5): mean 9.5, variance 4.75
    assert abs(k.mean() - 9.5) < 0.2 and abs(k.var() - 4.75) < 0.6
    ood = task.ood_set(5, 500)
    assert ood.labels.sum() == 0 and ood.kind == "ood"
    assert all(s.count("(") == s.count(")") and not _nested_by_hand(s) for s in ood.strings)


def test_depth_profile_matches_hand_count():
    rng = np.random.default_rng(2)
    for _ in range(50):
        s = task.unequal(rng, 2 * int(rng.integers(1, 20)))
        d = task.depth_profile(s)
        assert isinstance(d, np.ndarray) and d.tolist() == _depths_by_hand(s)
    assert [len(x) for x in task.id_set(0, 5).depths()] == [len(s) for s in task.id_set(0, 5).strings]


@pytest.mark.parametrize("bad, char, pos", [("(()x)", "'x'", 3), ("[(]", "'['", 0), ("() ", "' '", 2)])
def test_bad_characters_are_named_with_their_position(bad, char, pos):
    with pytest.raises(task.DyckInputError, match=re.escape(f"{char} at position {pos}")):
        task.depth_profile(bad)
    with pytest.raises(task.DyckInputError, match=r"strings\[1\]"):
        task.encode(["()", bad], {"(": 2, ")": 3, "[start]": 4, "[end]": 5}, 6)


def test_bad_lengths_are_rejected():
    with pytest.raises(ValueError, match="n must be an even int"):
        task.nested(0, 5)


def test_tokenizer_and_model_folder_work_with_the_workbench(tmp_path):
    from transformers import AutoTokenizer

    import workbench
    from workbench.zoo import dyck

    tok = dyck.make_tokenizer()
    ids = tok("[start](())[end]")["input_ids"]
    assert ids == [dyck.VOCAB[t] for t in ["[start]", "(", "(", ")", ")", "[end]"]]
    assert tok.convert_ids_to_tokens([dyck.FALSE_ID, dyck.TRUE_ID]) == ["False", "True"]
    model = dyck.build_model(2, 4, init_seed=0)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path)("[start]()[end]")["input_ids"] == [4, 2, 3, 5]
    handle = workbench.load_model(tmp_path)
    att = workbench.attention(handle, "[start](())[end]")
    assert dict(att.sizes) == {"layer": 2, "head": 4, "query": 6, "key": 6}
    assert att.query_token.values.tolist() == ["[start]", "(", "(", ")", ")", "[end]"]
    # the classifier's prediction equals argmax of logits 0/1 at [end] of a plain HF forward
    import torch

    x = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=x).logits[0, -1, :2]
    assert dyck.predict(model, ["(())"])[0] == int(logits.argmax())
    # a different init seed gives different weights; the same seed the same
    w = lambda m: next(m.parameters()).detach()  # noqa: E731
    assert torch.equal(w(dyck.build_model(2, 4, 0)), w(model))
    assert not torch.equal(w(dyck.build_model(2, 4, 1)), w(model))
    with pytest.raises(ValueError, match="n_heads must divide"):
        dyck.build_model(2, 3)
