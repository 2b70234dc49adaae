"""Latent decoding: the tree searches on hand-built grids (known answers, brute force) and, on the real shipped
Coconut model, the vocabulary projection against plain torch, early stopping, counterfactual verification."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from workbench.analyses import latent as la
from workbench.backend.model import InputError
from workbench.zoo.tasks import arithmetic as ar

# ----------------------------------------------------------------------------------------------- backtracking


def test_backtrack_hand_built_grid():
    # gold: 3*4=12, 12+7=19, 19-5=14 ; latent rows 0..3, last row = answer position
    grid = [
        [3, 8, None],       # 0
        [12, 4, None],      # 1
        [5, 19, 11],        # 2
        [None, None, 19],   # 3
        [14, 13, None],     # answer
    ]
    tree = la.backtrack(grid, "<<3*4=12>><<12+7=19>><<19-5=14>>", [3, 4, 7, 5])
    assert tree["found"] and tree["method"] == "backtracking"
    by_result = {s["result"]: s for s in tree["steps"]}
    assert by_result[12]["latent"] == 1 and by_result[12]["rank"] == 0
    # 12's operands: 3 from latent 0 (rank 0), 4 only from the question (4 at latent 1 is not strictly earlier)
    assert [(o["source"], o["latent"]) for o in by_result[12]["operands"]] == [("latent", 0), ("question", None)]
    assert by_result[19]["latent"] == 2 and by_result[19]["rank"] == 1       # earliest placement wins
    assert by_result[14]["latent"] == 4 and by_result[14]["rank"] == 0
    # 7 only in the question; 5 at latent 2 rank 0 is cheaper than the question node
    assert tree["score"] == [2, (10 * 0 + 0) + (10 * 1 + 0) + (10 * 2 + 1) + (10 * 2 + 0) + (10 * 4 + 0)]
    # a missing intermediate value: not found
    assert la.backtrack([[3], [4], [14]], "<<3*4=12>><<12+2=14>>", [3, 4, 2]) is None
    # the answer must be at the answer position, after its operands
    assert la.backtrack([[12], [14], [None]], "<<3*4=12>><<12+2=14>>", [3, 4, 2]) is None


def _random_grid(rng, rows, k, values):
    return [[int(v) if rng.random() < 0.6 else None for v in rng.choice(values, size=k)] for _ in range(rows)]


@pytest.mark.parametrize("seed", range(40))
def test_backtrack_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    p = ar.problems(1, seed=seed, min_steps=2, max_steps=3)[0]
    values = sorted({x for s in p.steps for x in (s.a, s.b, s.result)} | {int(rng.integers(100))})
    grid = _random_grid(rng, 5, 3, values)
    grid.append([p.answer, int(rng.integers(100)), None])
    trees = la.backtrack_all_trees(grid, p.trace_text(), p.numbers)
    found = la.backtrack(grid, p.trace_text(), p.numbers, k=3)
    if not trees:
        assert found is None
    else:
        assert tuple(found["score"]) == min(trees)
        # the returned tree is consistent with the grid: every node's value sits at its (latent, rank)
        for s in found["steps"]:
            assert grid[s["latent"]][s["rank"]] == s["result"]
            for o in s["operands"]:
                if o["source"] == "latent":
                    assert o["latent"] < s["latent"] and grid[o["latent"]][o["rank"]] == o["value"]
                else:
                    assert o["value"] in p.numbers


# ------------------------------------------------------------------------------------------- forward chaining
def _brute_chains(grid, question, answer):
    """Every chain by exhaustive enumeration of position subsets and operand choices (independent of the DP)."""
    rows = len(grid)
    out = []
    for m in range(1, rows):
        for positions in itertools.combinations(range(1, rows), m):
            if any(grid[p][0] is None for p in positions) or grid[positions[-1]][0] != answer:
                continue
            partial = [((0, 0), None)]  # (score, previous (pos, value))
            for t, pos in enumerate(positions):
                result = grid[pos][0]
                nxt = []
                for score, prev in partial:
                    if t == 0:
                        choices = [(list(qs), 2) for qs in itertools.permutations(question, 2)]
                        lat = 0
                    else:
                        p_pos, p_val = prev
                        ranks = [r for r, v in enumerate(grid[pos - 1]) if v == p_val]
                        lat = 10 * (pos - 1) + ranks[0] if ranks else 10 * p_pos
                        choices = [([q, p_val], 1) for q in question] + [([p_val, q], 1) for q in question]
                    for vals, nq in choices:
                        for op in ar.OPS:
                            if ar.apply(op, vals) == result and not la._is_trivial(op, vals, result):
                                nxt.append(((score[0] + nq, score[1] + 10 * pos + lat), (pos, result)))
                partial = nxt
            out += [(-m, s) for s, _ in partial]
    return out


def test_forward_chain_hand_built_grid():
    q = [6, 3, 2, 9]
    grid = [[None, 6], [18, 9, 2], [20, 16], [11, 18], [11]]   # 6*3=18, 18+2=20, 20-9=11 (latent 3 is earlier than the answer row)
    tr = la.forward_chain(grid, q, 11)
    assert [(s["result"], s["op"], s["latent"]) for s in tr["steps"]] == [(18, "*", 1), (20, "+", 2), (11, "-", 3)]
    second = tr["steps"][1]["operands"]
    assert {"value": 18, "source": "latent", "latent": 1, "rank": 0} in second
    assert la.forward_chain(grid, q, 12) is None
    assert la.forward_chain(grid, q, None) is None


@pytest.mark.parametrize("seed", range(30))
def test_forward_chain_equals_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    p = ar.problems(1, seed=seed, min_steps=2, max_steps=3)[0]
    values = [s.result for s in p.steps] + [int(v) for v in rng.integers(0, 100, 3)]
    grid = _random_grid(rng, 4, 2, values)
    for i, s in enumerate(p.steps):   # plant the gold results at some positions, with noise elsewhere
        if rng.random() < 0.8:
            grid[min(1 + i, 3)][0] = s.result
    grid.append([p.answer, None])
    brute = _brute_chains(grid, list(p.numbers), p.answer)
    tr = la.forward_chain(grid, p.numbers, p.answer)
    if not brute:
        assert tr is None
    else:
        assert tr is not None and (-len(tr["steps"]), tuple(tr["score"])) == min(brute)
        assert tr["steps"][-1]["result"] == p.answer
        for s in tr["steps"]:
            assert grid[s["latent"]][0] == s["result"]
            assert ar.apply(s["op"], [o["value"] for o in s["operands"]]) == s["result"]


def test_recompute_follows_the_chain():
    steps = [{"result": 12, "op": "*", "latent": 1, "operands": [
        {"value": 3, "source": "question"}, {"value": 4, "source": "question"}]},
        {"result": 19, "op": "+", "latent": 3, "operands": [
            {"value": 12, "source": "latent", "latent": 2}, {"value": 7, "source": "question"}]}]
    assert la._recompute(steps, 3, 5) == [20, 27]
    assert la._recompute(steps, 7, 1) == [12, 13]


# ------------------------------------------------------------------------------------------ on the real model
@pytest.fixture(scope="module")
def coconut():
    from workbench import load_model

    return load_model("latent-coconut")


@pytest.fixture(scope="module")
def probs():
    from workbench.zoo.latent import held_out

    return held_out(24)


@pytest.fixture(scope="module")
def decoded(coconut, probs):
    return la.decode_latents(coconut, probs, k=10)


def test_projection_matches_plain_torch(coconut, probs):
    from workbench.zoo import latent as zl

    ds = la.latent_lens(coconut, probs[:4], k=5)
    hf = zl.hf_module(coconut)
    n = ds.sizes["latent"]
    for i, p in enumerate(probs[:4]):
        ids = torch.tensor([zl.question_ids(p) + [zl.BOT]])
        emb = hf.get_input_embeddings()(ids)
        with torch.no_grad():
            for _ in range(n):  # plain continuous-thought loop, no padding, no cache
                emb = torch.cat([emb, hf(inputs_embeds=emb, output_hidden_states=True).hidden_states[-1][:, -1:]], 1)
            hs = hf(inputs_embeds=emb, output_hidden_states=True).hidden_states
            bot = ids.shape[1] - 1
            for layer in range(len(hs)):
                h = hs[layer][0, bot: bot + n]
                x = h if layer == len(hs) - 1 else hf.transformer.ln_f(h)  # HF's last entry is already ln_f'ed
                probs_t = torch.softmax(hf.lm_head(x), -1)
                top = probs_t.topk(5, -1)
                np.testing.assert_allclose(ds.prob.values[i, :, layer], top.values.numpy(), atol=1e-5)
                assert (ds.token_id.values[i, :, layer] == top.indices.numpy()).all()
        # the final-layer readout of latent j is lm_head(thought j)
        thought = emb[0, bot + 1: bot + 1 + n]
        assert (hf.lm_head(thought).argmax(-1).numpy() == ds.token_id.values[i, :, -1, 0]).all()
    assert list(ds.token.dims) == ["problem", "latent", "layer", "rank"]


def test_decoded_dataset_contract_and_round_trip(decoded, tmp_path):
    import workbench as wb
    from workbench.data import validate_latent

    validate_latent(decoded)
    for raw, ver in zip(decoded.decoded_trace.values, decoded.verification.values):
        tr, v = json.loads(raw), json.loads(ver)
        assert tr["method"] == "forward_chaining" and set(tr) >= {"found", "answer", "matches_gold", "score", "steps"}
        for s in tr["steps"]:
            assert set(s) == {"result", "op", "latent", "rank", "layer", "operands"}
            assert ar.apply(s["op"], [o["value"] for o in s["operands"]]) == s["result"]
        assert v["verified_checks"] == sum(
            all(s["alternatives"][a]["ok"] for s in v["steps"]) for a in range(len(v["steps"][0]["alternatives"]))
        ) if v["steps"] and v["steps"][0]["alternatives"] else v["verified_checks"] == 0
    path = tmp_path / "latent.nc"
    wb.save(decoded, path)
    back = wb.load(path)
    assert (back.token.values == decoded.token.values).all()
    assert list(back.decoded_trace.values) == list(decoded.decoded_trace.values)


def test_verification_reruns_counterfactuals(coconut, decoded, probs):
    rows = [i for i, raw in enumerate(decoded.decoded_trace.values) if json.loads(raw)["found"]]
    assert rows, "forward chaining found no trace on 24 held-out problems"
    i = rows[0]
    tr, ver = json.loads(decoded.decoded_trace.values[i]), json.loads(decoded.verification.values[i])
    q = [o for s in tr["steps"] for o in s["operands"] if o["source"] == "question"][0]["value"]
    index = list(probs[i].numbers).index(q)
    alt = ver["steps"][-1]["alternatives"][0]
    variant = ar.counterfactual(probs[i], index, alt["question_value"])
    again = la.latent_lens(coconut, [variant], k=1)
    pos = ver["steps"][-1]["latent"]
    top1 = again.answer_token.values[0, 0] if pos >= again.sizes["latent"] else again.token.values[0, pos, -1, 0]
    assert top1 == alt["top1"]
    assert alt["expected"] == la._recompute(tr["steps"], q, alt["question_value"])[-1]


def test_early_stopping(coconut, probs, decoded):
    es = la.early_stopping(coconut, probs[:12])
    n = es.sizes["n_latents"] - 1
    assert (es.answer_at.values[:, n] == [int(x) if x else -1 for x in decoded.predicted.values[:12]]).all()
    for row, first, stable in zip(es.answer_at.values, es.first_match.values, es.stable_from.values):
        final = row[-1]
        assert first == min(j for j in range(n + 1) if row[j] == final)
        assert stable == min(j for j in range(n + 1) if all(row[j:] == final))
        assert first <= stable


def test_bad_input(coconut):
    from workbench import load_model

    with pytest.raises(InputError, match="no latent mode"):
        la.latent_lens(load_model("latent-cot"), ar.problems(1, seed=0))
    with pytest.raises(InputError, match="larger than"):
        la.latent_lens(coconut, ar.problems(1, seed=0), k=10_000)
    with pytest.raises(InputError, match="problems"):
        la.latent_lens(coconut, ["Tom has 3 apples ."])
    with pytest.raises(ar.TraceError, match="'x'"):
        la.backtrack([[12], [19]], "<<3*x=12>>", [3])
    with pytest.raises(InputError, match="method"):
        la.decode_latents(coconut, ar.problems(1, seed=0), method="magic")


def test_gold_decoding_rates(coconut, decoded, probs):
    gold = decoded.gold_found.values
    for i, p in enumerate(probs):  # gold_found is exactly "backtracking finds the gold trace"
        assert gold[i] == (la.backtrack(la.integer_grid(decoded, i), p.trace_text(), p.numbers) is not None)
    base = la.gold_baseline(decoded, probs)
    assert 0.0 <= base <= 1.0


def test_shipped_decoding_matches_a_fresh_run(coconut, decoded):
    """data/latent/coconut_heldout60.nc (regenerated by the command in the report) is the current models' output."""
    from pathlib import Path

    import workbench as wb
    from workbench.data import validate_latent

    shipped = validate_latent(wb.load(Path(__file__).resolve().parents[1] / "data/latent/coconut_heldout60.nc"))
    assert shipped.sizes["problem"] == 60
    n = 24  # `decoded` holds the first 24 of the same held-out problems
    assert (shipped.token_id.values[:n] == decoded.token_id.values).all()
    # float32 through 8 fed-back latent steps: a fresh run on another CPU (or thread count) differs by up to ~2e-6;
    # a regenerated model would differ by far more than 1e-5
    np.testing.assert_allclose(shipped.prob.values[:n], decoded.prob.values, atol=1e-5)
    assert list(shipped.decoded_trace.values[:n]) == list(decoded.decoded_trace.values)
    assert list(shipped.verification.values[:n]) == list(decoded.verification.values)
