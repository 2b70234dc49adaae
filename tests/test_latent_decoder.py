"""LatentDecoder's Python side: state from a latent-decoding Dataset and from a real logit lens, per-problem slicing
(only one problem's grid in the state), binary serialization, filters, trace/verification JSON parsing (malformed ->
clear errors), and bad input. The browser side is in tests/browser/test_latent_decoder_lab.py.

``make_latent`` builds a synthetic Dataset that follows the ``validate_latent`` contract and the trace JSON schema
shared with the analysis (see workbench/widgets/latent_decoder.py); the browser test imports it too.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_latent
from workbench.widgets import LatentDecoder
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, MessageTooLarge, decode
from workbench.widgets.latent_decoder import parse_filter, parse_trace, parse_verification, question_segments

DIMS = ("problem", "latent", "layer", "rank")
HIGH, LOW = 0.9, 0.05  # planted probabilities: result cells (last layer) / the (layer 0, latent 0) cell


def _problem(p: int, rng: np.random.Generator) -> dict:
    a, b, c = 2 + p, 3 + 2 * p, 5 + 3 * p
    r1, r2 = a * b, a * b + c
    return {"a": a, "b": b, "c": c, "r1": r1, "r2": r2,
            "question": f"Ann has {a} bags of {b} apples and finds {c} more. How many apples?",
            "gold": f"<<{a}*{b}={r1}>><<{r1}+{c}={r2}>>"}


def make_latent(n_problems: int = 4, n_latent: int = 6, n_layers: int = 4, k: int = 5, seed: int = 0) -> xr.Dataset:
    """Synthetic latent-decoding Dataset, four kinds of problem (cycled):

    0: correct, trace found, verified 3/3 and 2/3; results a*b at latent 1, then a*b+c at latent 3 (last layer, rank 0).
    1: incorrect, trace found at latent 2 and at the answer position (latent == n_latent, layer -1, as
       workbench.analyses.latent writes it), verified 0/3; 2: correct, not found; 3: incorrect, no trace ("").
    Every other cell holds a random number token with top-1 probability <= 0.3; cell (layer 0, latent 0) has LOW.
    Like the analysis, it also carries ``entropy`` (problem, latent, layer) and the answer position's top-k as
    ``answer_token`` / ``answer_prob`` (problem, rank), whose top-1 is the prediction.
    """
    rng = np.random.default_rng(seed)
    tokens = np.empty((n_problems, n_latent, n_layers, k), dtype=object)
    prob = np.zeros((n_problems, n_latent, n_layers, k), np.float32)
    q, gold, ans, pred, correct, traces, checks, vcs = [], [], [], [], [], [], [], []
    for p in range(n_problems):
        info = _problem(p, rng)
        kind = p % 4
        raw = rng.dirichlet(np.ones(k * 3), size=(n_latent, n_layers))[..., :k]
        raw = np.sort(raw, axis=-1)[..., ::-1] * 0.3 / np.maximum(raw.max(-1, keepdims=True), 1e-9)
        prob[p] = raw.astype(np.float32)
        tokens[p] = rng.integers(0, 100, size=(n_latent, n_layers, k)).astype(str).astype(object)
        prob[p, 0, 0, 0] = LOW
        l1, l2 = (1, 3) if kind != 1 else (2, n_latent)
        last = n_layers - 1
        if kind in (0, 1):
            for lat, val in ((l1, info["r1"]), (l2, info["r2"])):
                if lat < n_latent:
                    tokens[p, lat, last, 0] = str(val)
                    prob[p, lat, last, 0] = HIGH
            steps = [
                {"result": info["r1"], "op": "*", "latent": l1, "rank": 0, "layer": last if kind == 0 else -1,
                 "operands": [{"value": info["a"], "source": "question", "latent": None, "rank": None},
                              {"value": info["b"], "source": "question", "latent": None, "rank": None}]},
                {"result": info["r2"], "op": "+", "latent": l2, "rank": 0, "layer": last if kind == 0 else -1,
                 "operands": [{"value": info["r1"], "source": "latent", "latent": l1, "rank": 0},
                              {"value": info["c"], "source": "question", "latent": None, "rank": None}]},
            ]
            verified = (3, 2) if kind == 0 else (0, 0)
            traces.append(json.dumps({"method": "backtracking", "found": True, "answer": info["r2"],
                                      "matches_gold": True, "score": [3, 10 * l1 + 10 * l2], "steps": steps}))
            checks.append(json.dumps({"checks": 3, "verified_checks": min(verified), "steps": [
                {"latent": s["latent"], "result": s["result"], "verified": v,
                 "alternatives": [{"question_value": 7, "expected": 1, "top1": "1", "ok": i < v} for i in range(3)]}
                for s, v in zip(steps, verified)]}))
            vcs.append(min(verified))
        elif kind == 2:
            traces.append(json.dumps({"method": "backtracking", "found": False, "answer": None, "matches_gold": None,
                                      "score": None, "steps": []}))
            checks.append("")
            vcs.append(0)
        else:
            traces.append("")
            checks.append("")
            vcs.append(0)
        q.append(info["question"])
        gold.append(info["gold"])
        ans.append(str(info["r2"]))
        ok = kind in (0, 2)
        pred.append(str(info["r2"] if ok else info["r2"] + 1))
        correct.append(ok)
    ans_tok = rng.integers(0, 100, size=(n_problems, k)).astype(str).astype(object)
    ans_tok[:, 0] = pred
    ans_prob = np.sort(rng.uniform(0, 0.05, size=(n_problems, k)), axis=1)[:, ::-1].astype(np.float32)
    ans_prob[:, 0] = 0.8
    entropy = rng.uniform(0, 4, size=(n_problems, n_latent, n_layers)).astype(np.float32)
    per = lambda v: ("problem", np.array(v, dtype=object))  # noqa: E731
    ds = xr.Dataset(
        {"token": (DIMS, tokens), "token_id": (DIMS, np.vectorize(int)(tokens).astype(np.int64)),
         "prob": (DIMS, prob), "entropy": (DIMS[:3], entropy), "answer_token": (("problem", "rank"), ans_tok),
         "answer_prob": (("problem", "rank"), ans_prob), "question": per(q), "gold_trace": per(gold), "answer": per(ans),
         "predicted": per(pred), "correct": ("problem", np.array(correct)), "decoded_trace": per(traces),
         "verification": per(checks), "verified_checks": ("problem", np.array(vcs, np.int64))},
        coords={"problem": np.arange(n_problems), "latent": np.arange(n_latent), "layer": np.arange(n_layers),
                "rank": np.arange(k)},
        attrs={"model": "synthetic-coconut"},
    )
    return validate_latent(ds)


def view_arrays(w: LatentDecoder) -> tuple[np.ndarray, np.ndarray]:
    """What the front end decodes: probabilities (layer, col, rank) and token strings, from the synced state."""
    v = w._view
    prob = decode(v["prob_meta"], w._prob)
    idx = decode(v["tok_meta"], w._tok).astype(int)
    return prob, np.asarray(v["strings"], dtype=object)[idx]


# ------------------------------------------------------------------------------------------------ latent mode
def test_state_holds_only_the_selected_problem_and_matches_the_dataset():
    ds = make_latent()
    w = LatentDecoder(ds, problem=1)
    assert (w.mode, w.n_problems, w.problem, w.filter) == ("latent", 4, 1, "all")
    prob, toks = view_arrays(w)
    want = ds.isel(problem=1).transpose("layer", "latent", "rank")
    assert prob.shape == (4, 7, 5)  # 6 latent steps + the answer position
    # uint8 quantisation: |error| <= 1/508, independently of the encoder
    assert np.abs(prob[:, :6] - want.prob.values).max() <= 1 / 508 + 1e-7
    assert (toks[:, :6] == want.token.values.astype(str)).all()
    # the answer column: read out at the last layer only (NaN, "" below), top-1 = the prediction
    assert np.isnan(prob[:3, 6]).all() and (toks[:3, 6] == "").all()
    assert np.abs(prob[3, 6] - ds.answer_prob.values[1]).max() <= 1 / 508 + 1e-7 and toks[3, 6, 0] == "24"
    ent = decode(w._view["ent_meta"], w._ent)
    np.testing.assert_array_equal(ent[:, :6], ds.entropy.values[1].T)
    assert np.isnan(ent[:, 6]).all()
    # only one problem travels: the buffers are one problem's size
    assert len(w._prob) == 4 * 7 * 5 and len(w._tok) == 4 * 7 * 5 * 4
    v = w._view
    assert v["problem"] == 1 and v["cols"] == [f"z{i}" for i in range(6)] + ["answer"]
    assert v["rows"] == ["0", "1", "2", "3"]
    # the trace's last step lands on the answer column; layer -1 means the last layer
    assert [(s["latent"], s["layer"]) for s in v["trace"]["steps"]] == [(2, 3), (6, 3)]
    assert v["info"]["gold_trace"] == "<<3*5=15>><<15+8=23>>"
    assert v["info"]["correct"] is False and v["info"]["predicted"] == "24"


def test_picking_another_problem_reslices():
    ds = make_latent()
    w = LatentDecoder(ds)
    p0 = view_arrays(w)[0]
    assert p0[3, 1, 0] == pytest.approx(HIGH, abs=1 / 508)
    w.problem = 1
    p1, t1 = view_arrays(w)
    assert w._view["problem"] == 1
    assert p1[3, 1, 0] < 0.31 and p1[3, 2, 0] == pytest.approx(HIGH, abs=1 / 508)
    assert t1[3, 2, 0] == "15" and t1[3, 6, 0] == "24"


def test_trace_is_resolved_to_cells_and_question_numbers():
    w = LatentDecoder(make_latent())
    v = w._view
    segs = v["segments"]
    assert "".join(s["text"] for s in segs) == v["question"]
    s1, s2 = v["trace"]["steps"]
    # question operands point at the segments holding 2 and 3; the latent operand at the step that produced 6
    assert [segs[o["segment"]]["value"] for o in s1["operands"]] == [2, 3]
    assert s2["operands"][0]["source"] == "latent" and s2["operands"][0]["layer"] == 3
    assert segs[s2["operands"][1]["segment"]]["value"] == 5
    assert [s["verified"] for s in v["verification"]["steps"]] == [3, 2]


def test_filters_select_problems_and_move_the_selection():
    w = LatentDecoder(make_latent(8))
    flags = [(it["correct"], it["decoded"], it["verified"]) for it in w._items]
    assert flags[:4] == [(True, True, True), (False, True, False), (True, False, False), (False, False, False)]
    assert w.visible("correct") == [0, 2, 4, 6]
    assert w.visible("incorrect,decoded") == [1, 5]
    assert w.visible("verified") == [0, 4]
    assert w.visible("not verified, not decoded") == [2, 3, 6, 7]
    w.problem = 1
    w.filter = "correct"
    assert w._visible == [0, 2, 4, 6] and w.problem == 0 and w._view["problem"] == 0
    w.filter = "all"
    assert w._visible == list(range(8)) and w.problem == 0
    with pytest.raises(traitlets.TraitError, match="unknown term"):
        w.filter = "shiny"
    with pytest.raises(ValueError, match="opposite"):
        parse_filter("correct,incorrect")


def test_problem_out_of_range_is_a_clear_error():
    ds = make_latent()
    with pytest.raises(DataModelError, match=r"problem=4 is out of range: the Dataset has 4 problem\(s\)"):
        LatentDecoder(ds, problem=4)
    with pytest.raises(DataModelError, match="problem must be an integer"):
        LatentDecoder(ds, problem="2")
    w = LatentDecoder(ds)
    with pytest.raises(traitlets.TraitError, match="problem=-1 is out of range"):
        w.problem = -1
    assert w.problem == 0


def test_neither_kind_of_dataset_names_what_came_and_what_was_expected():
    bad = xr.Dataset({"prob": (("problem", "step"), np.zeros((2, 3)))})
    with pytest.raises(DataModelError) as e:
        LatentDecoder(bad)
    msg = str(e.value)
    assert "(problem, step)" in msg and "['prob']" in msg
    assert "(problem, latent, layer, rank)" in msg and "(layer, position, rank)" in msg
    with pytest.raises(DataModelError, match="got a DataArray"):
        LatentDecoder(xr.DataArray(np.zeros(3)))


@pytest.mark.parametrize("text, match", [
    ("{not json", r"decoded_trace of problem 2 is not valid JSON \(Expecting property name"),
    ("[1, 2]", "must be a JSON object, got list"),
    ('{"found": "yes", "steps": []}', "found='yes'"),
    ('{"found": true, "steps": [{"result": 1, "op": "^"}]}', r"steps\[0\]\.op is '\^'"),
    ('{"found": true, "steps": [{"result": 1, "op": "+", "latent": 9, "rank": 0, "layer": 0}]}',
     r"steps\[0\]\.latent=9 is out of range: expected 0 <= latent < 6"),
    ('{"found": true, "steps": [{"result": 1, "op": "+", "latent": 1, "rank": 0}]}', r"lacks 'layer'"),
    ('{"found": true, "steps": [{"result": 1, "op": "+", "latent": 1, "rank": 0, "layer": 0, '
     '"operands": [{"value": 3, "source": "latent", "latent": null, "rank": 0}]}]}',
     r"operands\[0\]\.latent must be an integer, got None"),
])
def test_malformed_trace_json_is_a_clear_error(text, match):
    with pytest.raises(DataModelError, match=match):
        parse_trace(text, 2, 6, 4, 5)
    ds = make_latent()
    traces = ds.decoded_trace.values.copy()
    traces[2] = text
    with pytest.raises(DataModelError, match="problem 2"):  # at construction, not on a later click
        LatentDecoder(ds.assign(decoded_trace=("problem", traces)))


def test_verification_parsing():
    with pytest.raises(DataModelError, match=r"verification of problem 0 is not valid JSON"):
        parse_verification('{"checks": 3,', 0)
    with pytest.raises(DataModelError, match=r"steps\[0\]\.verified=4 is out of range"):
        parse_verification('{"checks": 3, "steps": [{"latent": 0, "result": 1, "verified": 4}]}', 0)
    assert parse_verification("", 0) is None and parse_trace(None, 0, 1, 1, 1) is None


def test_question_segments_cover_the_text():
    q = "12 eggs, 3 boxes and 045 more"
    segs = question_segments(q)
    assert "".join(s["text"] for s in segs) == q
    assert [s["value"] for s in segs if s["value"] is not None] == [12, 3, 45]


def test_minimal_dataset_without_optional_variables():
    ds = make_latent()[["token", "token_id", "prob"]].drop_vars(["latent", "layer"])
    w = LatentDecoder(ds, problem=3)
    assert w._view["trace"] is None and w._view["question"] == "" and w._items[3]["correct"] is None
    assert w._view["cols"] == [f"z{i}" for i in range(6)] and w._view["ent_meta"] == {}
    assert w.visible("correct") == []


def test_too_large_problem_is_refused():
    n = MAX_MESSAGE_BYTES // (4 * 5) + 1  # 4 layers x (uint8 prob + float32 index) per latent: beyond the cap
    ds = xr.Dataset({"token": (DIMS, np.full((1, n, 4, 1), "a", dtype=object)),
                     "token_id": (DIMS, np.zeros((1, n, 4, 1), np.int64)),
                     "prob": (DIMS, np.zeros((1, n, 4, 1), np.float32))})
    with pytest.raises(MessageTooLarge, match="message cap"):
        LatentDecoder(ds)


# ------------------------------------------------------------------------------------------------- lens mode
@pytest.fixture(scope="module")
def tiny_lens(tok):
    from tiny_models import tiny_model

    from workbench import load_model, logit_lens

    model = load_model(tiny_model("gpt2"), tok)
    return logit_lens(model, ["2+3=5", "hello there"], k=4), logit_lens(model, "abc", k=3)


def test_lens_mode_from_a_real_logit_lens(tiny_lens):
    multi, single = tiny_lens
    w = LatentDecoder(multi, problem=1)
    assert (w.mode, w.n_problems) == ("lens", 2)
    v = w._view
    n_tok = int((multi.input_token.isel(prompt=1).values != "").sum())
    assert v["cols"] == [str(t) for t in multi.input_token.isel(prompt=1).values[:n_tok]]  # padding dropped
    prob, toks = view_arrays(w)
    want = multi.isel(prompt=1, position=slice(0, n_tok)).transpose("layer", "position", "rank")
    assert prob.shape == want.prob.shape
    assert np.abs(prob - want.prob.values).max() <= 1 / 508 + 1e-7
    assert (toks == want.token.values.astype(str)).all()
    ent = decode(v["ent_meta"], w._ent)
    np.testing.assert_array_equal(ent, want.entropy.values.astype(np.float32))
    # independent check of the top-1 probabilities: they are a softmax's max, so in (1/vocab, 1]
    assert (want.prob.values[..., 0] > 1 / 105).all() and (want.prob.values[..., 0] <= 1 + 1e-6).all()
    assert [it["label"] for it in w._items] == ["0: 2+3=5", "1: hello there"]
    w.problem = 0
    assert w._view["cols"] == list("2+3=5")

    s = LatentDecoder(single)
    assert s.n_problems == 1 and s._view["cols"] == ["a", "b", "c"] and s._view["text"] == "abc"
    with pytest.raises(DataModelError, match="only has 'all'"):
        LatentDecoder(single, filter="correct")
    with pytest.raises(DataModelError, match=r"1 prompt\(s\)"):
        LatentDecoder(single, problem=1)


def test_lens_mode_on_smollm2(smollm2):
    from workbench import logit_lens

    lens = logit_lens(smollm2, "The capital of France is", k=5)
    w = LatentDecoder(lens)
    prob, toks = view_arrays(w)
    ids = smollm2.tokenizer("The capital of France is")["input_ids"]
    assert w._view["cols"] == [smollm2.tokenizer.decode([i]) for i in ids]
    assert prob.shape == (smollm2.n_layers + 1, len(ids), 5)
    assert toks[-1, -1, 0] == " Paris"
    assert np.abs(prob - lens.prob.transpose("layer", "position", "rank").values).max() <= 1 / 508 + 1e-7
    assert [it["label"] for it in w._items] == ["0: The capital of France is"] and w.n_problems == 1
