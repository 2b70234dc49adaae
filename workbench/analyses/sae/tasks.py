"""The formal-language tasks SAEs are trained and judged on: token samples with ground-truth labels, and the scalar
the model's answer depends on.

A task is a :class:`Task`: ``samples(n_strings, seed)`` gives the contract dict of ``workbench.zoo.dyck2.samples``
(``text``, padded ``ids``, and per real token ``string``, ``position``, ``token``, ``char`` and the labels), and
``label`` (per string, 1 = a word of the language), and ``readout(logits, ids)`` the per-string scalar (the class
logit difference at ``[end]``) from the model's logits, so a traced run with an intervention can be scored.
:func:`get_task` knows ``"dyck2"`` (the Dyck-2 zoo model, ``workbench.zoo.dyck2``), ``"dyck2-lm"`` (the same task,
also scored on the next-bracket margin, :func:`next_bracket_margin`) and ``"dyck"`` (the Dyck-1 classifiers, e.g.
``dyck-hierarchical``), whose labels are computed here from the strings with the same definitions.

>>> t = get_task("dyck"); s = t.samples(2, seed=0)
>>> sorted(k for k in s if k in ("depth", "top_type", "violation"))
['depth', 'top_type', 'violation']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workbench.analyses.sae.architectures import SAEError

#: Ground-truth labels: binary (AUROC), categorical (one-vs-rest AUROC per value name) or ordinal (|Pearson r|).
LABEL_KINDS: dict[str, str] = {"depth": "ordinal", "top_type": "categorical", "violation": "binary"}
TOP_TYPE_NAMES: dict[int, str] = {1: "round", 2: "square"}


@dataclass(frozen=True)
class Task:
    """A token-labelled task: how to draw samples and read the model's answer from its logits."""

    name: str
    samples: Callable[[int, int], dict[str, Any]]
    readout: Callable[[torch.Tensor, np.ndarray], torch.Tensor]
    string_label: Callable[[dict[str, Any]], np.ndarray]
    labels: tuple[str, ...] = ("depth", "top_type", "violation")
    top_types: tuple[int, ...] = (1, 2)
    #: Further per-string outputs scored beside the answer (their causal effects get the name as a suffix).
    readouts: dict[str, Callable[[torch.Tensor, np.ndarray], torch.Tensor]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------------- Dyck-1
def _dyck1_labels(s: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per character of a Dyck-1 string: depth (running count, may go below 0), top-of-stack type (1 while an
    unmatched ``(`` is open, else 0) and violation (a ``)`` closed nothing at or before this character)."""
    depth, top, viol = [], [], []
    d, open_, bad = 0, 0, False
    for c in s:
        d += 1 if c == "(" else -1
        if c == "(":
            open_ += 1
        elif open_ == 0:
            bad = True
        else:
            open_ -= 1
        depth.append(d)
        top.append(1 if open_ > 0 else 0)
        viol.append(bad)
    return np.array(depth, dtype=np.int64), np.array(top, dtype=np.int64), np.array(viol, dtype=bool)


def flatten_samples(strings: list[str], ids: np.ndarray, end: np.ndarray, token_text: list[str],
                    label_fn: Callable[[str], tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The contract dict for ``[start] s [end]`` inputs: per real token its string, position, token text, char
    (-1 for ``[start]``/``[end]``) and labels (``[start]``: depth 0, no top, no violation; ``[end]``: those of the last
    character, and a violation also when brackets are left open)."""
    cols: dict[str, list] = {k: [] for k in ("string", "position", "token", "char", "depth", "top_type", "violation")}
    for i, s in enumerate(strings):
        d, t, v = label_fn(s)
        n = len(s)
        for p in range(int(end[i]) + 1):
            c = p - 1 if 1 <= p <= n else -1
            if p == 0:
                lab = (0, 0, False)
            elif c >= 0:
                lab = (int(d[c]), int(t[c]), bool(v[c]))
            else:
                last = (int(d[-1]), int(t[-1]), bool(v[-1])) if n else (0, 0, False)
                lab = (last[0], last[1], last[2] or last[1] != 0)
            cols["string"].append(i)
            cols["position"].append(p)
            cols["token"].append(token_text[int(ids[i, p])])
            cols["char"].append(c)
            cols["depth"].append(lab[0])
            cols["top_type"].append(lab[1])
            cols["violation"].append(lab[2])
    out: dict[str, Any] = {"text": list(strings), "ids": ids}
    for k, v in cols.items():
        dtype = object if k == "token" else bool if k == "violation" else np.int64
        out[k] = np.array(v, dtype=dtype)
    return out


def _dyck1_task() -> Task:
    from workbench.zoo import dyck
    from workbench.zoo.tasks import dyck as dtask

    inv = {v: k for k, v in dyck.VOCAB.items()}
    token_text = [inv[i] for i in range(len(inv))]

    def samples(n_strings: int, seed: int) -> dict[str, Any]:
        data = dtask.id_set(np.random.default_rng([int(seed), 28]), int(n_strings))
        ids, end = dtask.encode(data.strings, dyck.VOCAB, dyck.PAD_ID)
        out = flatten_samples(list(data.strings), ids, end, token_text, _dyck1_labels)
        out["label"] = np.asarray(data.labels, dtype=np.int64)
        return out

    def readout(logits: torch.Tensor, ids: np.ndarray) -> torch.Tensor:
        end = torch.as_tensor((np.asarray(ids) == dyck.VOCAB["[end]"]).argmax(1))
        rows = logits[torch.arange(logits.shape[0]), end]
        return rows[:, dyck.TRUE_ID] - rows[:, dyck.FALSE_ID]

    return Task("dyck", samples, readout, lambda s: np.asarray(s["label"]), top_types=(1,))


# ------------------------------------------------------------------------------------------------------- Dyck-2
def _dyck2_task() -> Task:
    from workbench.zoo import dyck2

    def readout(logits: torch.Tensor, ids: np.ndarray) -> torch.Tensor:
        return dyck2.output_from_logits(logits, torch.as_tensor(np.asarray(ids))).float()

    return Task("dyck2", lambda n, seed: dyck2.samples(int(n), int(seed)), readout,
                lambda s: np.asarray(s["label"], dtype=np.int64), top_types=(1, 2))


def next_bracket_margin(logits: torch.Tensor, ids: np.ndarray) -> torch.Tensor:
    """Mean over the positions of a string where an open bracket is on the stack (before any violation and before
    ``[end]``) of logit(the closer that matches it) - logit(the other closer): how well the next-token head knows the
    top of the stack. 0 for a string with no such position.

    >>> from workbench.zoo import dyck2
    >>> ids = np.array([[dyck2.VOCAB[t] for t in ("[start]", "(", "[", "]", ")", "[end]")]])
    >>> logits = torch.zeros(1, 6, len(dyck2.VOCAB)); logits[0, :, dyck2.VOCAB[")"]] = 1.0
    >>> round(float(next_bracket_margin(logits, ids)[0]), 4)  # after "(": +1; after "([": -1; after "([]": +1
    0.3333
    """
    from workbench.zoo import dyck2

    v = dyck2.VOCAB
    close = {v["("]: v[")"], v["["]: v["]"]}
    other = {v[")"]: v["]"], v["]"]: v[")"]}
    ids = np.asarray(ids)
    rows, cols, right, wrong = [], [], [], []
    for r, row in enumerate(ids):
        stack: list[int] = []
        for p, t in enumerate(row):
            t = int(t)
            if t == v["[end]"] or t == v["[pad]"]:
                break
            if t in close:
                stack.append(close[t])
            elif t in other:
                if not stack or stack[-1] != t:
                    break  # a violation: the prefix is no longer a word's
                stack.pop()
            if stack:
                rows.append(r)
                cols.append(p)
                right.append(stack[-1])
                wrong.append(other[stack[-1]])
    out = torch.zeros(ids.shape[0])
    if rows:
        r, c = torch.as_tensor(rows), torch.as_tensor(cols)
        margin = logits[r, c, torch.as_tensor(right)] - logits[r, c, torch.as_tensor(wrong)]
        out.index_add_(0, r, margin.float())
        out /= torch.bincount(r, minlength=ids.shape[0]).clamp_min(1).float()
    return out


def _dyck2_lm_task() -> Task:
    base = _dyck2_task()
    return Task("dyck2-lm", base.samples, base.readout, base.string_label, top_types=(1, 2),
                readouts={"next_bracket": next_bracket_margin})


TASKS: dict[str, Callable[[], Task]] = {"dyck": _dyck1_task, "dyck2": _dyck2_task, "dyck2-lm": _dyck2_lm_task}
#: Which task each zoo model is trained on.
MODEL_TASKS: dict[str, str] = {"dyck2": "dyck2", "dyck2-lm": "dyck2-lm", "dyck-hierarchical": "dyck",
                               "dyck-nonnegative": "dyck", "dyck-sign-matching": "dyck",
                               "dyck-violation-detecting": "dyck"}


def get_task(name: str) -> Task:
    """The task called ``name`` (``"dyck2"``, ``"dyck2-lm"``, ``"dyck"``), or a zoo model's task by the model's name.

    >>> get_task("dyck-hierarchical").name
    'dyck'
    """
    key = MODEL_TASKS.get(name, name)
    if key not in TASKS:
        raise SAEError(f"task must be one of {sorted(TASKS)} or a zoo model of {sorted(MODEL_TASKS)}, got {name!r}.")
    return TASKS[key]()


def label_names(task: Task) -> list[str]:
    """The ``label`` coord: ``depth``, ``top_type=round`` (and ``=square`` on Dyck-2), ``violation``.

    >>> label_names(get_task("dyck"))
    ['depth', 'top_type=round', 'violation']
    """
    out = []
    for lab in task.labels:
        if LABEL_KINDS[lab] == "categorical":
            out += [f"{lab}={TOP_TYPE_NAMES[v]}" for v in task.top_types]
        else:
            out.append(lab)
    return out


def label_matrix(samples: dict[str, Any], names: list[str]) -> np.ndarray:
    """(sample, label) float array of each named label's values (0/1 for binary and one-vs-rest ones).

    >>> s = get_task("dyck").samples(1, 0); label_matrix(s, ["depth"]).shape[1]
    1
    """
    n = len(samples["string"])
    cols = []
    for name in names:
        base, _, value = name.partition("=")
        if base not in samples:
            raise SAEError(f"samples lack the label {base!r} that label {name!r} needs.")
        v = np.asarray(samples[base])
        if v.shape != (n,):
            raise SAEError(f"label {base!r} has {v.shape[0] if v.ndim else 0} values but there are {n} samples; "
                           "give one per token occurrence.")
        if value:
            code = {nm: c for c, nm in TOP_TYPE_NAMES.items()}[value]
            v = v == code
        cols.append(v.astype(np.float64))
    return np.stack(cols, axis=1) if cols else np.zeros((n, 0))


__all__ = ["Task", "get_task", "label_names", "label_matrix", "flatten_samples", "next_bracket_margin", "LABEL_KINDS",
           "TOP_TYPE_NAMES"]
