"""The Dyck-2 task and zoo model: labels against an independent recomputation, generator properties, bad input, the
tokenizer and char mapping, and the shipped model's accuracy on fresh strings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.zoo import dyck2
from workbench.zoo.tasks import dyck2 as task

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "zoo" / "dyck2"


def _is_dyck2_by_hand(s: str) -> bool:
    """Independent check: delete "()" and "[]" until nothing changes; a Dyck-2 word vanishes."""
    while "()" in s or "[]" in s:
        s = s.replace("()", "").replace("[]", "")
    return s == ""


def _labels_by_hand(text: str, char: int, token: str) -> tuple[int, int, bool]:
    """Independent recomputation of one token's labels from the string alone, without a stack.

    The prefix p = text[:char+1] (the whole text at [end], nothing at [start]). A prefix is valid iff the
    "()"/"[]"-reduced prefix has no closing bracket; after the first invalid point everything is a violation.
    depth/top_type: the open brackets left after matching each closing bracket with the nearest earlier unmatched
    opening one (any type), found by scanning for unmatched openings with a counter per position."""
    if token == "[start]":
        return 0, 0, False
    p = text if char < 0 else text[: char + 1]
    # violation: some prefix of p reduces to something holding a closing bracket
    violation = False
    for k in range(1, len(p) + 1):
        q = p[:k]
        while "()" in q or "[]" in q:
            q = q.replace("()", "").replace("[]", "")
        if ")" in q or "]" in q:
            violation = True
            break
    # the brackets still open: an opening bracket at i is open iff no later closing bracket brings the running
    # count (opens - closes, counted from i, clamped like a stack that ignores closes on empty) back below it
    open_at = []
    for i, c in enumerate(p):
        if c in "([":
            level, closed = 0, False
            for d in p[i + 1:]:
                level += 1 if d in "([" else -1
                if level < 0:
                    closed = True
                    break
            if not closed:
                open_at.append(i)
    depth = len(open_at)
    top = 0 if not open_at else (1 if p[open_at[-1]] == "(" else 2)
    if token == "[end]":
        violation = violation or depth > 0
    return depth, top, violation


def test_labels_match_an_independent_recomputation():
    d = dyck2.samples(300, seed=5)
    for k in range(len(d["string"])):
        text = d["text"][d["string"][k]]
        got = (int(d["depth"][k]), int(d["top_type"][k]), bool(d["violation"][k]))
        assert got == _labels_by_hand(text, int(d["char"][k]), str(d["token"][k])), (text, k)
        assert got == task.token_labels(text, int(d["char"][k]), str(d["token"][k]))
    # violation at [end] is the class label, and an independent one
    ends = d["token"] == "[end]"
    assert np.array_equal(d["violation"][ends], d["label"] == 0)
    assert [_is_dyck2_by_hand(s) for s in d["text"]] == (d["label"] == 1).tolist()
    # every label value occurs
    assert set(d["top_type"].tolist()) == {0, 1, 2} and d["violation"].any() and (~d["violation"]).any()
    assert d["depth"].max() >= 4


@pytest.mark.parametrize("s, depth, top, violation", [
    ("", [], [], []),
    ("([])", [1, 2, 1, 0], [1, 2, 1, 0], [0, 0, 0, 0]),
    ("(]", [1, 0], [1, 0], [0, 1]),
    (")(", [0, 1], [0, 1], [1, 1]),
    ("[(", [1, 2], [2, 1], [0, 0]),
])
def test_char_labels_by_hand(s, depth, top, violation):
    lab = task.char_labels(s)
    assert lab["depth"].tolist() == depth and lab["top_type"].tolist() == top
    assert lab["violation"].astype(int).tolist() == violation


def test_generators_make_the_right_kinds():
    rng = np.random.default_rng(0)
    for n in (4, 10, 24):
        for _ in range(40):
            s = task.balanced(rng, n)
            assert len(s) == n and _is_dyck2_by_hand(s)
            w = task.wrong_type(rng, n)
            lab = task.char_labels(w)
            assert len(w) == n and not _is_dyck2_by_hand(w) and lab["depth"][-1] == 0 and lab["violation"][-1]
            # one closing bracket swapped back makes it a Dyck-2 word
            assert any(_is_dyck2_by_hand(w[:i] + {")": "]", "]": ")"}[c] + w[i + 1:])
                       for i, c in enumerate(w) if c in ")]")
            u = task.unclosed(rng, n)
            lab = task.char_labels(u)
            assert len(u) == n and not lab["violation"].any() and lab["depth"][-1] == 2
            z = task.depth0(rng, n)
            steps = np.cumsum([1 if c in "([" else -1 for c in z])
            assert len(z) == n and steps[-1] == 0 and steps.min() < 0 and not _is_dyck2_by_hand(z)


def test_balanced_sampler_is_uniform_over_dyck2_words():
    # Dyck-2 words of 4 brackets: Catalan(2) * 2^2 = 8, each ~1/8 of the time
    rng = np.random.default_rng(1)
    counts: dict[str, int] = {}
    for _ in range(8000):
        s = task.balanced(rng, 4)
        counts[s] = counts.get(s, 0) + 1
    assert len(counts) == 8
    assert np.all(np.abs(np.array(list(counts.values())) / 8000 - 1 / 8) < 0.02)


def test_sets_are_seeded_balanced_and_short_enough():
    a, b, c = task.make_set(3, 900), task.make_set(3, 900), task.make_set(4, 900)
    assert a.strings == b.strings and a.strings != c.strings
    assert a.labels.mean() == 0.5
    assert {k: a.kinds.count(k) for k in task.NEGATIVE_KINDS} == {k: 150 for k in task.NEGATIVE_KINDS}
    assert [_is_dyck2_by_hand(s) for s in a.strings] == a.labels.astype(bool).tolist()
    lengths = np.array([len(s) for s in a.strings])
    assert lengths.min() >= 2 and lengths.max() <= task.MAX_BRACKETS and np.all(lengths % 2 == 0)
    assert lengths.max() + 2 <= dyck2.N_POSITIONS


@pytest.mark.parametrize("bad, char, pos", [("(()x)", "'x'", 3), ("{}", "'{'", 0), ("() ", "' '", 2)])
def test_bad_characters_are_named_with_their_position(bad, char, pos):
    with pytest.raises(task.Dyck2InputError, match=re.escape(f"{char} at position {pos}")):
        task.char_labels(bad)
    with pytest.raises(task.Dyck2InputError, match=r"strings\[1\]"):
        task.encode(["()", bad], dyck2.VOCAB, dyck2.PAD_ID)


def test_bad_arguments_get_one_sentence_errors():
    with pytest.raises(ValueError, match="n must be an even int"):
        task.balanced(0, 5)
    with pytest.raises(ValueError, match="size must be an int >= 1"):
        task.make_set(0, 0)
    with pytest.raises(task.Dyck2InputError, match="must be a string"):
        task.check_brackets(["("])
    with pytest.raises(task.Dyck2InputError, match="char=1 must index the token"):
        task.token_labels("()", 1, "(")
    with pytest.raises(ValueError, match="n_strings must be an int >= 1"):
        dyck2.samples(0)
    with pytest.raises(ValueError, match="same length"):
        dyck2.accuracy(dyck2.build_model(), ["()"], [1, 0])
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        dyck2.accuracy(dyck2.build_model(), ["()"], [2])
    with pytest.raises(ValueError, match=r"\[end\] token"):
        dyck2.output(dyck2.build_model(), [[6, 2, 3, 8]])
    with pytest.raises(ValueError, match="n_head must divide"):
        dyck2.build_model(2, 3)
    with pytest.raises(ValueError, match="unknown settings"):
        dyck2.train_run("/nonexistent", steps_=3)


def test_tokenization_and_char_mapping_round_trip():
    tok = dyck2.make_tokenizer()
    d = dyck2.samples(40, seed=2)
    for i, s in enumerate(d["text"]):
        hf = tok(task.to_text(s))["input_ids"]
        row = d["ids"][i]
        assert hf == row[: len(s) + 2].tolist() and np.all(row[len(s) + 2:] == dyck2.PAD_ID)
        assert d["end"][i] == len(s) + 1 and row[d["end"][i]] == dyck2.END_ID
        assert tok.decode(hf) == task.to_text(s)
    for k in range(len(d["string"])):
        s, ch, t = d["text"][d["string"][k]], int(d["char"][k]), str(d["token"][k])
        assert dyck2.TOKENS[d["ids"][d["string"][k], d["position"][k]]] == t
        if ch >= 0:
            assert s[ch] == t and d["position"][k] == ch + 1
        else:
            assert t in ("[start]", "[end]")
    n_real = sum(len(s) + 2 for s in d["text"])
    assert all(len(d[key]) == n_real for key in ("string", "position", "token", "char", "depth", "top_type",
                                                  "violation"))
    assert np.array_equal(dyck2.samples(40, seed=2)["ids"], d["ids"])  # seeded


def test_output_is_the_end_logit_difference_of_a_plain_forward():
    model = dyck2.build_model(init_seed=3).eval()
    d = dyck2.samples(6, seed=1)
    with torch.no_grad():
        got = dyck2.output(model, d["ids"])
        for i, s in enumerate(d["text"]):  # one string at a time, no padding at all
            x = torch.from_numpy(d["ids"][i: i + 1, : len(s) + 2])
            logits = model(input_ids=x).logits[0, -1]
            assert torch.allclose(got[i], logits[1] - logits[0], atol=1e-5)
    assert dyck2.predict(model, d["text"]).tolist() == (got > 0).long().tolist()


@pytest.mark.skipif(not (SHIPPED / "config.json").is_file(), reason="data/zoo/dyck2 is not shipped in this checkout")
def test_shipped_model_is_accurate_on_fresh_strings():
    import workbench
    from workbench.zoo import registry

    assert "dyck2" in registry.names()
    model, tok = dyck2.load()
    data = task.make_set(np.random.default_rng([777, 9]), 1200)  # not the training or the training.json seeds
    acc = dyck2.accuracy(model, data.strings, data.labels)
    assert acc >= 0.97
    kinds = np.asarray(data.kinds)
    right = dyck2.predict(model, data.strings) == data.labels
    assert all(right[kinds == k].mean() >= 0.9 for k in task.GENERATORS)
    meta = json.loads((SHIPPED / "training.json").read_text())
    assert meta["regenerate"].endswith("python -m workbench.zoo.dyck2 --out data/zoo")
    assert abs(meta["validation"]["accuracy"] - acc) < 0.02
    assert {p.name for p in SHIPPED.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json",
                                                   "training.json"}
    assert not list(SHIPPED.glob("*.bin")) and not list(SHIPPED.glob("*.pt"))
    # the workbench loads it by name and traces it
    handle = workbench.load_model("dyck2")
    att = workbench.attention(handle, "[start]([])[end]")
    assert att.query_token.values.tolist() == ["[start]", "(", "[", "]", ")", "[end]"]


def test_lm_objective_is_the_answer_plus_next_token_cross_entropy_over_words():
    """lm_loss_fn (dyck2-lm's objective) against a plain loop: the [end] answer's cross-entropy plus the mean
    next-token cross-entropy over the real tokens of the Dyck-2 words only (near misses add nothing)."""
    model = dyck2.build_model(init_seed=4)
    ids, labels = dyck2.sample_batch(np.random.default_rng(3), 8)
    with torch.no_grad():
        logits = model(input_ids=ids).logits.double()
        terms = []
        for r in range(len(ids)):
            if labels[r] != 1:
                continue
            end = int((ids[r] == dyck2.END_ID).nonzero()[0])
            for p in range(end):  # predict ids[r, p + 1] from position p, up to [end] itself
                terms.append(-torch.log_softmax(logits[r, p], -1)[ids[r, p + 1]])
        want = float(dyck2.loss_fn(model, (ids, labels))) + float(torch.stack(terms).mean())
        assert float(dyck2.lm_loss_fn(model, (ids, labels))) == pytest.approx(want, rel=1e-5)
    assert dyck2.regenerate_command("answer").endswith("python -m workbench.zoo.dyck2 --out data/zoo")
    assert dyck2.regenerate_command("lm").endswith("python -m workbench.zoo.dyck2 --lm --out data/zoo")
    with pytest.raises(ValueError, match=r"objective must be one of \['answer', 'lm'\], got 'next'"):
        dyck2.train_run("/nonexistent", objective="next")


LM_SHIPPED = ROOT / "data" / "zoo" / "dyck2-lm"


@pytest.mark.skipif(not (LM_SHIPPED / "config.json").is_file(), reason="data/zoo/dyck2-lm is not shipped")
def test_shipped_lm_model_answers_and_predicts_the_closing_bracket():
    from workbench.zoo import registry

    assert "dyck2-lm" in registry.names()
    folder = registry.path("dyck2-lm")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    data = task.make_set(np.random.default_rng([778, 9]), 600)
    assert dyck2.accuracy(model, data.strings, data.labels) >= 0.97
    meta = json.loads((LM_SHIPPED / "training.json").read_text())
    assert meta["regenerate"].endswith("python -m workbench.zoo.dyck2 --lm --out data/zoo")
    assert "next-token" in meta["objective"] and meta["settings"] == dyck2.DEFAULTS
    # inside a word, the matching closer outscores the other one wherever a bracket is open (a plain stack)
    words = [s for s, y in zip(data.strings, data.labels) if y == 1][:100]
    ids, _ = task.encode(words, dyck2.VOCAB, dyck2.PAD_ID)
    with torch.no_grad():
        logits = model(input_ids=torch.from_numpy(ids)).logits
    right = total = 0
    v = dyck2.VOCAB
    for r, s in enumerate(words):
        stack = []
        for p, c in enumerate(s, start=1):
            stack = stack[:-1] if c in ")]" else [*stack, ")" if c == "(" else "]"]
            if stack:
                want, other = v[stack[-1]], v["]" if stack[-1] == ")" else ")"]
                right += int(logits[r, p, want] > logits[r, p, other])
                total += 1
    assert total > 500 and right / total >= 0.99
