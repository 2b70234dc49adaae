"""Decoding the continuous thoughts of a latent-reasoning model (Coconut-style) through the vocabulary.

Dilgren & Wiegreffe, "Are Latent Reasoning Models Easily Interpretable?" (arXiv 2604.04902), at CPU scale on the
arithmetic zoo models (:mod:`workbench.zoo.latent`):

- :func:`latent_lens`: the logit lens (:mod:`workbench.analyses.lens`, one real nnsight trace over the continuous
  inputs) at every latent step and layer -> Dataset (problem, latent, layer, rank), the ``validate_latent`` contract.
  Latent ``j`` is the position whose last hidden state becomes continuous thought ``j`` (``<bot>`` for ``j = 0``), so
  its final-layer readout is exactly ``lm_head(thought_j)``.
- :func:`early_stopping`: force ``<eot>`` after n = 0..N thoughts and read the answer.
- :func:`backtrack` (gold trace known) and :func:`forward_chain` (no gold trace): search the position x rank grid of
  integers for a computation tree; trees are scored by (#question nodes, sum of 10*position + rank), lower is better.
- :func:`verify`: counterfactual checks of a forward-chained trace (change a question number to 3 other values,
  rerun, require the recomputed intermediate values to be top-1 at their positions).
- :func:`decode_latents`: all of it, with the per-problem JSON of the decoded trace and its verification.

Positions in traces: ``latent`` indexes the ``latent`` dim; ``latent == n_latents`` is the answer position (the
readout after the forced ``<eot> ###``), where the final step of a trace lands.

>>> import workbench as wb                                                     # doctest: +SKIP
>>> from workbench.zoo.tasks.arithmetic import problems                         # doctest: +SKIP
>>> ds = decode_latents(wb.load_model("latent-coconut"), problems(8, seed=1))   # doctest: +SKIP
>>> ds.token.dims                                                               # doctest: +SKIP
('problem', 'latent', 'layer', 'rank')
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from workbench.analyses.lens import project_layers
from workbench.backend.model import Batch, InputError, Model
from workbench.zoo import latent as zl
from workbench.zoo.tasks import arithmetic as ar

OP_NAMES = ar.OPS


# --------------------------------------------------------------------------------------------------- recognising
def latent_settings(model: Model) -> dict[str, int]:
    """The latent-mode settings of ``model`` (``config.workbench_latent``); a clear error for any other model.

    >>> latent_settings(wb.load_model("latent-cot"))                           # doctest: +SKIP
    Traceback (most recent call last):
    InputError: model 'zoo:latent-cot' has no latent mode ...
    """
    if not isinstance(model, Model):
        raise InputError(f"model must be a workbench Model (workbench.load_model(...)), got {type(model).__name__}.")
    settings = getattr(model.config, "workbench_latent", None)
    if not isinstance(settings, dict) or "n_latents" not in settings:
        raise InputError(f"model {model.name!r} has no latent mode: its config has no workbench_latent settings "
                         "(bot_id, eot_id, n_latents); expected a Coconut-style model such as 'latent-coconut'.")
    return settings


def _check_problems(problems: Any) -> list[ar.Problem]:
    if isinstance(problems, ar.Problem):
        return [problems]
    if not isinstance(problems, Sequence) or not problems:
        raise InputError(f"problems must be a non-empty list of arithmetic Problems, got {type(problems).__name__}.")
    for i, p in enumerate(problems):
        if not isinstance(p, ar.Problem):
            raise InputError(f"problems[{i}] must be an arithmetic Problem, got {type(p).__name__}.")
    return list(problems)


def _check_k(model: Model, k: Any) -> int:
    vocab = int(model.config.vocab_size)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}.")
    if k > vocab:
        raise InputError(f"k={k} is larger than {model.name!r}'s vocabulary of {vocab} tokens.")
    return int(k)


# ------------------------------------------------------------------------------------------------- lens on latents
@torch.no_grad()
def _latent_inputs(model: Model, problems: Sequence[ar.Problem], n: int) -> tuple[dict[str, torch.Tensor], int]:
    """Input embeddings ``question <bot> thought_1..thought_n <eot> ###`` (left-padded) and the <bot> column."""
    settings = latent_settings(model)
    hf = zl.hf_module(model)
    prefix, pmask = zl._left_pad([zl.question_ids(p) + [settings["bot_id"]] for p in problems])
    emb, mask, _, _ = zl.run_thoughts(hf, prefix, pmask, n)
    tail = torch.tensor([[settings["eot_id"], settings["answer_id"]]] * len(problems))
    emb = torch.cat([emb, hf.get_input_embeddings()(tail)], 1)
    mask = torch.cat([mask, torch.ones_like(tail)], 1)
    inputs = {"inputs_embeds": emb, "attention_mask": mask, "position_ids": zl._positions(mask)}
    return inputs, prefix.shape[1] - 1


def _as_batch(inputs: dict[str, torch.Tensor]) -> Batch:
    rows, width = inputs["attention_mask"].shape
    return Batch(inputs=inputs, token_ids=[], offsets=np.zeros(rows, dtype=int), single=False, texts=[])


def latent_lens(model: Model, problems: Sequence[ar.Problem], k: int = 10, batch_size: int = 64) -> xr.Dataset:
    """Top-k vocabulary projection of every latent step at every layer: Dataset (problem, latent, layer, rank).

    ``token`` (str), ``token_id``, ``prob``; ``entropy`` (problem, latent, layer); the answer position's final-layer
    top-k as ``answer_token``/``answer_prob`` (problem, rank); per problem ``question``, ``gold_trace``, ``answer``,
    ``predicted`` (the top-1 after the forced ``<eot> ###``), ``correct``, ``numbers`` (JSON list) and ``ops``.

    >>> ds = latent_lens(wb.load_model("latent-coconut"), ar.problems(4, seed=1), k=5)   # doctest: +SKIP
    >>> ds.token.sizes["rank"]                                                           # doctest: +SKIP
    5
    """
    settings = latent_settings(model)
    k = _check_k(model, k)
    problems = _check_problems(problems)
    n = int(settings["n_latents"])
    probs, ids, ents, ans_p, ans_i = [], [], [], [], []
    for start in range(0, len(problems), batch_size):
        chunk = problems[start: start + batch_size]
        inputs, bot = _latent_inputs(model, chunk, n)
        p, i, e = project_layers(model, _as_batch(inputs), k)  # (problem, layer, position, rank)
        probs.append(p[:, :, bot: bot + n])
        ids.append(i[:, :, bot: bot + n])
        ents.append(e[:, :, bot: bot + n])
        ans_p.append(p[:, -1, -1])  # the ### position predicts the answer
        ans_i.append(i[:, -1, -1])
    prob = np.concatenate(probs).transpose(0, 2, 1, 3)  # -> (problem, latent, layer, rank)
    tok = np.concatenate(ids).transpose(0, 2, 1, 3).astype(np.int64)
    ent = np.concatenate(ents).transpose(0, 2, 1)
    a_prob, a_ids = np.concatenate(ans_p), np.concatenate(ans_i).astype(np.int64)
    a_tok = model.token_strings(a_ids).astype(object)
    predicted = [_int_or_none(t) for t in a_tok[:, 0]]
    answers = [p.answer for p in problems]
    ds = xr.Dataset(
        {
            "token": (("problem", "latent", "layer", "rank"), model.token_strings(tok).astype(object)),
            "token_id": (("problem", "latent", "layer", "rank"), tok),
            "prob": (("problem", "latent", "layer", "rank"), prob.astype(np.float32)),
            "entropy": (("problem", "latent", "layer"), ent.astype(np.float32)),
            "answer_token": (("problem", "rank"), a_tok),
            "answer_prob": (("problem", "rank"), a_prob.astype(np.float32)),
            "question": ("problem", np.array([p.question() for p in problems], dtype=object)),
            "gold_trace": ("problem", np.array([p.trace_text() for p in problems], dtype=object)),
            "answer": ("problem", np.array([str(a) for a in answers], dtype=object)),
            "predicted": ("problem", np.array(["" if v is None else str(v) for v in predicted], dtype=object)),
            "correct": ("problem", np.array([v == a for v, a in zip(predicted, answers)])),
            "numbers": ("problem", np.array([json.dumps(list(p.numbers)) for p in problems], dtype=object)),
            "ops": ("problem", np.array(["".join(p.ops) for p in problems], dtype=object)),
        },
        coords={"problem": np.arange(len(problems)), "latent": np.arange(n),
                "layer": np.arange(model.n_layers + 1), "rank": np.arange(k)},
        attrs=model.provenance("latent_lens", k=k, n_latents=n,
                               latent_convention="latent j = position whose last hidden state is thought j "
                                                 "(<bot> for j=0); layer 0 = embeddings"),
    )
    return ds


def _int_or_none(token: Any) -> int | None:
    s = str(token).strip()
    return int(s) if s.isdigit() and int(s) <= ar.MAX_VALUE else None


def integer_grid(ds: xr.Dataset, problem: int, layer: int = -1) -> list[list[int | None]]:
    """Rows = latent positions, then the answer position; entries = the integer at each rank (None if not one).

    >>> integer_grid(ds, 0)[0][:3]                                                     # doctest: +SKIP
    [55, 54, None]
    """
    toks = ds.token.isel(problem=problem, layer=layer).values
    grid = [[_int_or_none(t) for t in row] for row in toks]
    if "answer_token" in ds:
        grid.append([_int_or_none(t) for t in ds.answer_token.isel(problem=problem).values])
    return grid


# ---------------------------------------------------------------------------------------------- early stopping
@torch.no_grad()
def early_stopping(model: Model, problems: Sequence[ar.Problem], batch_size: int = 128) -> xr.Dataset:
    """Answer after forcing ``<eot>`` at n = 0..N thoughts: Dataset with ``answer_at`` (problem, n_latents) and,
    per problem, ``first_match`` (first n whose answer equals the full-N answer) and ``stable_from`` (the n from
    which the answer no longer changes), following Dilgren & Wiegreffe's early-stopping analysis.

    >>> es = early_stopping(wb.load_model("latent-coconut"), ar.problems(4, seed=1))   # doctest: +SKIP
    >>> es.answer_at.dims                                                              # doctest: +SKIP
    ('problem', 'n_latents')
    """
    settings = latent_settings(model)
    problems = _check_problems(problems)
    n_max = int(settings["n_latents"])
    hf = zl.hf_module(model)
    table = np.full((len(problems), n_max + 1), -1, dtype=np.int64)
    for start in tqdm(range(0, len(problems), batch_size), desc="early stopping", leave=False):
        chunk = problems[start: start + batch_size]
        for n in range(n_max + 1):
            inputs, _ = _latent_inputs(model, chunk, n)
            logits = hf(**inputs).logits[:, -1]
            table[start: start + len(chunk), n] = [_int_or_none(t) if _int_or_none(t) is not None else -1
                                                   for t in model.token_strings(logits.argmax(-1).numpy())]
    final = table[:, -1:]
    match = table == final
    first = match.argmax(1)
    # stable_from: smallest n such that every n' >= n gives the final answer
    stable = n_max - np.cumprod(match[:, ::-1], axis=1).sum(1) + 1
    gold = np.array([p.answer for p in problems])
    return xr.Dataset(
        {"answer_at": (("problem", "n_latents"), table),
         "correct_at": (("problem", "n_latents"), table == gold[:, None]),
         "first_match": ("problem", first.astype(np.int64)),
         "stable_from": ("problem", stable.astype(np.int64))},
        coords={"problem": np.arange(len(problems)), "n_latents": np.arange(n_max + 1)},
        attrs=model.provenance("early_stopping", n_latents=n_max),
    )


# ------------------------------------------------------------------------------------------------- backtracking
@dataclass
class _Tree:
    score: tuple[int, int]
    steps: list[dict] = field(default_factory=list)
    position: int = -1
    rank: int = 0


def _gold_steps(trace: str | Sequence[ar.Step]) -> list[ar.Step]:
    return list(ar.parse_trace(trace) if isinstance(trace, str) else trace)


def backtrack(grid: Sequence[Sequence[int | None]], trace: str | Sequence[ar.Step], question: Sequence[int],
              k: int | None = None) -> dict | None:
    """Find the gold trace in an integer grid (rows = latent positions, last row = answer position).

    Every intermediate result must be in the top-k at some latent position, its operands at strictly earlier
    positions (intermediate operands recursively, leaf operands in the grid or, for question numbers, from the
    question); the final result must be in the top-k at the answer position, after all its operands. Among all
    trees the one with the lowest (#question nodes, sum 10*position + rank) is returned as a ``decoded_trace``
    dict (schema in the module docstring), or None.

    >>> grid = [[7, None], [12, 3], [None, None], [19, None]]     # 3 latent rows + answer row
    >>> backtrack(grid, "<<3*4=12>><<12+7=19>>", [3, 4, 7])["score"]
    [2, 40]
    """
    steps = _gold_steps(trace)
    k = k or max(len(r) for r in grid)
    rows = [list(r)[:k] for r in grid]
    answer_row = len(rows) - 1
    qset = {int(q) for q in question}
    producer = {s.result: i for i, s in enumerate(steps[:-1])}  # value -> index of the step that makes it

    def places(value: int, limit: int) -> list[tuple[int, int]]:
        return [(p, r) for p in range(min(limit, answer_row)) for r, v in enumerate(rows[p]) if v == value]

    memo: dict[tuple[int, int, int], list[_Tree]] = {}

    def operand(value: int, limit: int, user: int) -> list[_Tree]:
        key = (value, limit, user)
        if key in memo:
            return memo[key]
        out = []
        made_by = producer.get(value)
        if made_by is not None and made_by < user:  # an intermediate result: needs its own subtree
            step = steps[made_by]
            for pos, rank in places(value, limit):
                for kids in _best_children(step, pos, made_by):
                    node = {"result": value, "op": step.op, "latent": pos, "rank": rank, "layer": -1,
                            "operands": [_operand_json(c, v) for c, v in zip(kids, (step.a, step.b))]}
                    out.append(_Tree((sum(c.score[0] for c in kids), 10 * pos + rank + sum(c.score[1] for c in kids)),
                                     [s for c in kids for s in c.steps] + [node], pos, rank))
        else:
            for pos, rank in places(value, limit):
                out.append(_Tree((0, 10 * pos + rank), [], pos, rank))
            if value in qset:
                out.append(_Tree((1, 0), [], -1, 0))
        memo[key] = out
        return out

    def _best_children(step: ar.Step, pos: int, index: int) -> list[list[_Tree]]:
        options = [operand(step.a, pos, index), operand(step.b, pos, index)]
        if not all(options):
            return []
        return [[min(o, key=lambda t: t.score) for o in options]]  # the score is additive: best per operand

    last = steps[-1]
    best: _Tree | None = None
    for rank, v in enumerate(rows[answer_row]):
        if v != last.result:
            continue
        kids = [operand(last.a, answer_row, len(steps) - 1), operand(last.b, answer_row, len(steps) - 1)]
        if not all(kids):
            continue
        chosen = [min(o, key=lambda t: t.score) for o in kids]
        node = {"result": last.result, "op": last.op, "latent": answer_row, "rank": rank, "layer": -1,
                "operands": [_operand_json(c, v2) for c, v2 in zip(chosen, (last.a, last.b))]}
        tree = _Tree((sum(c.score[0] for c in chosen), 10 * answer_row + rank + sum(c.score[1] for c in chosen)),
                     [s for c in chosen for s in c.steps] + [node])
        if best is None or tree.score < best.score:
            best = tree
    if best is None:
        return None
    return {"method": "backtracking", "found": True, "answer": last.result, "matches_gold": True,
            "score": list(best.score), "steps": best.steps}


def _operand_json(tree: _Tree, value: int) -> dict:
    if tree.position < 0:
        return {"value": int(value), "source": "question", "latent": None, "rank": None}
    return {"value": int(value), "source": "latent", "latent": int(tree.position), "rank": int(tree.rank)}


def backtrack_all_trees(grid: Sequence[Sequence[int | None]], trace: str, question: Sequence[int]) -> list[tuple]:
    """Brute force: every assignment of (position, rank | question) to every node of the gold trace that satisfies
    the backtracking rules, with its score. Exponential; for tests on small grids.

    >>> len(backtrack_all_trees([[12], [19]], "<<3*4=12>><<12+7=19>>", [3, 4, 7]))
    1
    """
    steps = _gold_steps(trace)
    rows = [list(r) for r in grid]
    answer_row = len(rows) - 1
    qset = set(question)
    producer = {s.result: i for i, s in enumerate(steps[:-1])}
    cells = [(p, r, v) for p in range(answer_row) for r, v in enumerate(rows[p]) if v is not None]

    def options(value: int, limit: int, user: int) -> list:
        made_by = producer.get(value)
        out = []
        if made_by is not None and made_by < user:
            s = steps[made_by]
            for p, r, v in cells:
                if v == value and p < limit:
                    for a in options(s.a, p, made_by):
                        for b in options(s.b, p, made_by):
                            out.append((a[0] + b[0], 10 * p + r + a[1] + b[1]))
            return out
        for p, r, v in cells:
            if v == value and p < limit:
                out.append((0, 10 * p + r))
        if value in qset:
            out.append((1, 0))
        return out

    last = steps[-1]
    found = []
    for r, v in enumerate(rows[answer_row]):
        if v == last.result:
            for a, b in itertools.product(options(last.a, answer_row, len(steps) - 1),
                                          options(last.b, answer_row, len(steps) - 1)):
                found.append((a[0] + b[0], 10 * answer_row + r + a[1] + b[1]))
    return found


# ----------------------------------------------------------------------------------------------- forward chaining
def _is_trivial(op: str, operands: Sequence[int], result: int) -> bool:
    """x+0, x-0, x*1, x/1 and anything*0: steps that restate a value rather than compute one."""
    rest = operands[1:]
    if op in "+-" and 0 in rest or op == "+" and operands[0] == 0:
        return True
    if op in "*/" and 1 in rest or op == "*" and operands[0] == 1:
        return True
    return op == "*" and 0 in operands


def forward_chain(grid: Sequence[Sequence[int | None]], question: Sequence[int], answer: int | None,
                  max_operands: int = 2) -> dict | None:
    """Find a chain of steps from the question's numbers to ``answer`` without a gold trace.

    A step's result is the top-1 integer at position ``i+1`` (a latent position, or the answer position as the last
    row of ``grid``); it combines 2..``max_operands`` operands left to right with one of + - * /. The first step's
    operands are question numbers; each later step uses the previous step's result (cited from the top-k at ``i``
    when it is there, else as the top-1 at its own, earlier position) plus question numbers. Steps that restate a
    value (x+0, x*1, ...) are skipped. The last result must be ``answer``. Among all chains the longest wins (the
    most computation visible in the latents; otherwise a one-step shortcut from two question numbers would always
    score best), then the lowest (#question operands, sum 10*position + rank over the latent nodes).

    >>> grid = [[None], [12, 5], [19], [38]]   # latent rows 0..2, answer row
    >>> [s["result"] for s in forward_chain(grid, [3, 4, 7, 2], 38)["steps"]]
    [12, 19, 38]
    """
    if answer is None:
        return None
    rows = [list(r) for r in grid]
    qnums = [int(q) for q in question]
    best: dict[tuple[int, int, int], tuple[tuple[int, int], list[dict]]] = {}  # (pos, result, length) -> chain

    def steps_from(pos: int, result: int, prev: tuple[int, int] | None) -> list[tuple[tuple[int, int], dict]]:
        """All steps at ``pos`` making ``result`` from question numbers (and the previous result ``prev``)."""
        out = []
        extra = 0 if prev is None else 1
        for n_ops in range(2, max_operands + 1):
            n_q = n_ops - extra
            for qs in itertools.permutations(range(len(qnums)), n_q):
                q_ops = [{"value": qnums[j], "source": "question", "latent": None, "rank": None} for j in qs]
                slots = [None] if prev is None else range(n_ops)
                for slot in slots:
                    ops = list(q_ops)
                    if prev is not None:
                        p_pos, p_val = prev
                        here = [r for r, v in enumerate(rows[pos - 1]) if v == p_val]
                        cite = {"value": p_val, "source": "latent", "latent": pos - 1, "rank": here[0]} if here \
                            else {"value": p_val, "source": "latent", "latent": p_pos, "rank": 0}
                        ops.insert(slot, cite)
                    vals = [o["value"] for o in ops]
                    for op in OP_NAMES:
                        if ar.apply(op, vals) != result or _is_trivial(op, vals, result):
                            continue
                        score = (n_q, 10 * pos + sum(10 * o["latent"] + o["rank"] for o in ops
                                                     if o["source"] == "latent"))
                        out.append((score, {"result": int(result), "op": op, "latent": pos, "rank": 0, "layer": -1,
                                            "operands": ops}))
        return out

    for pos in range(1, len(rows)):
        result = rows[pos][0]
        if result is None:
            continue
        options: dict[int, list] = {1: [(sc, [st]) for sc, st in steps_from(pos, result, None)]}
        for (p_pos, p_val, length), (p_score, chain) in list(best.items()):
            if p_pos >= pos:
                continue
            for sc, st in steps_from(pos, result, (p_pos, p_val)):
                options.setdefault(length + 1, []).append(((p_score[0] + sc[0], p_score[1] + sc[1]), chain + [st]))
        for length, opts in options.items():
            if opts:
                best[(pos, result, length)] = min(opts, key=lambda o: o[0])
    ends = [(-length, v[0], v[1]) for (pos, res, length), v in best.items() if res == answer]
    if not ends:
        return None
    _, score, chain = min(ends, key=lambda v: (v[0], v[1]))
    return {"method": "forward_chaining", "found": True, "answer": int(answer), "matches_gold": None,
            "score": [int(score[0]), int(score[1])], "steps": chain}


# --------------------------------------------------------------------------------------------------- verification
def _recompute(steps: Sequence[dict], old: int, new: int) -> list[int | None]:
    """Values of a decoded chain after one question number ``old`` becomes ``new``."""
    values: list[int | None] = []
    for i, s in enumerate(steps):
        vals = []
        for o in s["operands"]:
            if o["source"] == "question" and o["value"] == old:
                vals.append(new)
            elif i > 0 and o["source"] == "latent" and o["value"] == steps[i - 1]["result"]:
                vals.append(values[-1])  # a chained step's latent operand is the previous step's result
            else:
                vals.append(o["value"])
        values.append(None if any(v is None for v in vals) else ar.apply(s["op"], vals))
    return values


def verify(model: Model, problem: ar.Problem, trace: dict, checks: int = 3, seed: int = 0) -> dict:
    """Counterfactual verification of a decoded trace: change the question number feeding its first step to
    ``checks`` other values, rerun the model, and check each step's recomputed value is top-1 at its position.

    Returns the ``verification`` dict (schema in the module docstring); ``verified_checks`` counts the
    counterfactual runs in which every step came out right. A trace with no question operand cannot be checked and
    gets ``verified_checks = 0``.

    >>> p = ar.Problem((3, 4, 7), ("*", "+"))                                           # doctest: +SKIP
    >>> ds = latent_lens(model, [p]); tr = forward_chain(integer_grid(ds, 0), p.numbers, 19)   # doctest: +SKIP
    >>> verify(model, p, tr)["verified_checks"] in (0, 1, 2, 3)                         # doctest: +SKIP
    True
    """
    steps = trace.get("steps") or []
    q_ops = [o for s in steps for o in s["operands"] if o["source"] == "question"]
    report = {"checks": checks, "steps": [{"latent": s["latent"], "result": s["result"], "verified": 0,
                                           "alternatives": []} for s in steps], "verified_checks": 0}
    if not steps or not q_ops:
        return report
    old = q_ops[0]["value"]
    index = list(problem.numbers).index(old) if old in problem.numbers else None
    if index is None:
        return report
    rng = np.random.default_rng(seed)
    values = [v for v in range(ar.MAX_VALUE + 1) if v != old]
    rng.shuffle(values)
    chosen, expected = [], []
    for v in values:
        try:
            ar.counterfactual(problem, index, v)
        except ar.TraceError:
            continue
        exp = _recompute(steps, old, v)
        if any(e is None for e in exp):
            continue
        chosen.append(v)
        expected.append(exp)
        if len(chosen) == checks:
            break
    if not chosen:
        return report
    variants = [ar.counterfactual(problem, index, v) for v in chosen]
    ds = latent_lens(model, variants, k=1)
    n = ds.sizes["latent"]
    all_ok = np.ones(len(chosen), dtype=bool)
    for j, s in enumerate(steps):
        for a, v in enumerate(chosen):
            top1 = str(ds.answer_token.values[a, 0] if s["latent"] >= n else
                       ds.token.values[a, s["latent"], -1, 0])
            ok = _int_or_none(top1) == expected[a][j]
            all_ok[a] &= ok
            report["steps"][j]["alternatives"].append({"question_value": int(v), "expected": int(expected[a][j]),
                                                       "top1": top1, "ok": bool(ok)})
        report["steps"][j]["verified"] = int(sum(x["ok"] for x in report["steps"][j]["alternatives"]))
    report["verified_checks"] = int(all_ok.sum())
    return report


# --------------------------------------------------------------------------------------------------- everything
def decode_latents(model: Model, problems: Sequence[ar.Problem], k: int = 10,
                   method: str = "forward_chaining", checks: int = 3, seed: int = 0) -> xr.Dataset:
    """:func:`latent_lens` plus, per problem, the decoded trace (``backtracking`` against the gold trace, or
    ``forward_chaining`` with ``checks`` counterfactual verifications) as JSON in ``decoded_trace`` and
    ``verification``, and ``verified_checks``; ``gold_found`` (backtracking success) is always added.

    >>> ds = decode_latents(wb.load_model("latent-coconut"), ar.problems(4, seed=1))   # doctest: +SKIP
    >>> json.loads(ds.decoded_trace.values[0])["method"]                               # doctest: +SKIP
    'forward_chaining'
    """
    if method not in ("backtracking", "forward_chaining"):
        raise InputError(f"method must be 'backtracking' or 'forward_chaining', got {method!r}.")
    problems = _check_problems(problems)
    ds = latent_lens(model, problems, k=k)
    final = ds.sizes["layer"] - 1
    traces, verifs, vcount, gold = [], [], [], []
    for i, p in enumerate(tqdm(problems, desc="decoding", leave=False)):
        grid = integer_grid(ds, i)
        bt = backtrack(grid, p.steps, p.numbers, k)
        gold.append(bt is not None)
        pred = _int_or_none(ds.predicted.values[i])
        if method == "backtracking":
            tr = bt or _not_found("backtracking", p.answer)
            ver = {"checks": 0, "steps": [], "verified_checks": 0}
        else:
            tr = forward_chain(grid, p.numbers, pred) or _not_found("forward_chaining", pred)
            if tr["found"]:
                tr["matches_gold"] = _same_values(tr, p)
                ver = verify(model, p, tr, checks, seed + i)
            else:
                ver = {"checks": checks, "steps": [], "verified_checks": 0}
        for s in tr.get("steps") or []:
            s["layer"] = final
        traces.append(json.dumps(tr))
        verifs.append(json.dumps(ver))
        vcount.append(ver["verified_checks"])
    ds["decoded_trace"] = ("problem", np.array(traces, dtype=object))
    ds["verification"] = ("problem", np.array(verifs, dtype=object))
    ds["verified_checks"] = ("problem", np.array(vcount, dtype=np.int64))
    ds["gold_found"] = ("problem", np.array(gold))
    ds.attrs.update(method=method, checks=checks)
    return ds


def _not_found(method: str, answer: int | None) -> dict:
    return {"method": method, "found": False, "answer": answer, "matches_gold": None, "score": None, "steps": []}


def _same_values(trace: dict, problem: ar.Problem) -> bool:
    return [s["result"] for s in trace["steps"]] == [s.result for s in problem.steps]


def gold_baseline(ds: xr.Dataset, problems: Sequence[ar.Problem], seed: int = 0, per_problem: int = 5) -> float:
    """Share of (problem, other problem's gold trace) pairs that backtracking "finds": the chance level of the
    decode rate. Other traces have the same number of steps and at least one result value the problem's own trace
    lacks (as in Dilgren & Wiegreffe).

    >>> gold_baseline(ds, probs)                                                       # doctest: +SKIP
    0.05
    """
    rng = np.random.default_rng(seed)
    k = ds.sizes["rank"]
    hits = total = 0
    for i, p in enumerate(problems):
        own = {s.result for s in p.steps}
        pool = [q for j, q in enumerate(problems) if j != i and len(q.steps) == len(p.steps)
                and not {s.result for s in q.steps} <= own]
        if not pool:
            continue
        grid = integer_grid(ds, i)
        for j in rng.choice(len(pool), size=min(per_problem, len(pool)), replace=False):
            total += 1
            hits += backtrack(grid, pool[j].steps, p.numbers, k) is not None
    return hits / total if total else float("nan")
