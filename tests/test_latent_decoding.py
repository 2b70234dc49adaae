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
