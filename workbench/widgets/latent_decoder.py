"""LatentDecoder: the logit-lens grid of one latent-reasoning problem, with its decoded trace drawn on top.

Two kinds of Dataset are accepted:

* **latent** (:func:`workbench.data.validate_latent`): ``token``/``token_id``/``prob`` on (problem, latent, layer, rank)
  plus optional per-problem ``question``, ``gold_trace``, ``answer``, ``predicted``, ``correct``, ``decoded_trace``,
  ``verification`` (JSON text) and ``verified_checks``. Columns are latent steps; a problem picker with filters
  (correct / decoded / verified) chooses the problem. The decoded trace (Dilgren & Wiegreffe 2026, "Are Latent
  Reasoning Models Easily Interpretable?", arXiv 2604.04902: backtracking / forward chaining, counterfactual
  verification) is drawn as arrows from operand cells (or numbers in the question) to result cells.
* **lens** (:func:`workbench.data.validate_logit_lens`): the plain logit lens of nostalgebraist (2020) on
  (layer, position, rank) for any model and prompt; columns are positions labelled with ``input_token``, and a
  ``prompt`` dim gets a prompt picker (the ``problem`` trait then indexes prompts).

The selected problem's grid travels to the browser as binary buffers (``_serialize``): probabilities as uint8
codes, token strings as float32 indices into a per-problem string table. One update is checked against
``MAX_MESSAGE_BYTES``. Offline mode: when every problem's grid fits ``offline_budget`` bytes (default 8 MB), all of
them are in the synced state (``_all``, in a message of its own), so a saved or exported page switches problems and
filters with no kernel; otherwise a page without a kernel says which problems need one (``_offline``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from workbench.data import DataModelError, validate_latent, validate_logit_lens
from workbench.widgets._offline import OFFLINE_BUDGET, check_budget, offline_status
from workbench.widgets._serialize import MAX_MESSAGE_BYTES, MessageTooLarge, encode_float, quantize_unit

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: Filter terms; a filter is ``"all"`` or several terms joined by commas (all must hold), e.g. ``"correct,decoded"``.
FILTER_TERMS: tuple[str, ...] = ("correct", "incorrect", "decoded", "not decoded", "verified", "not verified")
#: Longest label (characters) sent for a token, input token or picker entry.
MAX_LABEL_CHARS: int = 60
_OPS = ("+", "-", "*", "/")
_NUMBER = re.compile(r"\d+")


# ----------------------------------------------------------------------------------------------------- input kinds
def detect_kind(ds: Any) -> str:
    """``"latent"`` or ``"lens"``; anything else raises :class:`DataModelError` naming what came and what was expected.

    >>> import numpy as np, xarray as xr
    >>> d = ("problem", "latent", "layer", "rank")
    >>> ds = xr.Dataset({v: (d, np.zeros((1, 2, 3, 4))) for v in ("token_id", "prob")})
    >>> detect_kind(ds.assign(token=(d, np.full((1, 2, 3, 4), "a", dtype=object))))
    'latent'
    """
    try:
        validate_latent(ds)
        return "latent"
    except DataModelError as e:
        latent_err = str(e)
    try:
        validate_logit_lens(ds)
        return "lens"
    except DataModelError as e:
        lens_err = str(e)
    if isinstance(ds, xr.Dataset):
        came = f"dims ({', '.join(map(str, ds.dims))}) and variables {sorted(map(str, ds.data_vars))}"
    else:
        came = f"a {type(ds).__name__}"
    raise DataModelError(
        "LatentDecoder needs a latent-decoding Dataset (token, token_id, prob on (problem, latent, layer, rank)) or a "
        f"logit-lens Dataset (token, token_id, prob on (layer, position, rank), entropy on (layer, position)); got {came}."
        f" As latent decoding: {latent_err} As logit lens: {lens_err}"
    )


# --------------------------------------------------------------------------------------------------- trace parsing
def _fail(problem: int, var: str, msg: str) -> DataModelError:
    return DataModelError(f"{var} of problem {problem} {msg}")


def _load_json(text: Any, problem: int, var: str) -> dict[str, Any] | None:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    if not isinstance(text, str):
        raise _fail(problem, var, f"must be JSON text, got {type(text).__name__}.")
    if text.strip() in ("", "null"):
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(problem, var, f"is not valid JSON ({e.msg} at character {e.pos}): {text[:60]!r}.") from None
    if not isinstance(obj, dict):
        raise _fail(problem, var, f"must be a JSON object, got {type(obj).__name__}: {text[:60]!r}.")
    return obj


def _int(obj: dict, key: str, problem: int, var: str, where: str, *, lo: int = 0, hi: int | None = None,
         nullable: bool = False) -> int | None:
    v = obj.get(key, None) if nullable else obj.get(key, KeyError)
    if v is KeyError:
        raise _fail(problem, var, f"{where} lacks {key!r}; it has {sorted(obj)}.")
    if v is None and nullable:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(problem, var, f"{where}.{key} must be an integer, got {v!r}.")
    if v < lo or (hi is not None and v >= hi):
        raise _fail(problem, var, f"{where}.{key}={v} is out of range: expected {lo} <= {key} < {hi}.")
    return v


def parse_trace(text: Any, problem: int, n_latent: int, n_layers: int, n_rank: int) -> dict[str, Any] | None:
    """Check one ``decoded_trace`` JSON text against the shared schema; return it as a dict (None for no trace).

    Every latent / layer / rank index is checked against the grid, so an arrow can never point outside it (``n_latent``
    counts the answer column when there is one; a negative ``layer`` counts from the last, as in Python). Errors are
    :class:`DataModelError` naming the problem and the field.

    >>> t = parse_trace('{"method": "backtracking", "found": true, "steps": []}', 0, 6, 4, 10)
    >>> t["found"], t["steps"]
    (True, [])
    """
    var = "decoded_trace"
    obj = _load_json(text, problem, var)
    if obj is None:
        return None
    method = obj.get("method", "")
    if method not in ("backtracking", "forward_chaining", ""):
        raise _fail(problem, var, f"has method {method!r}; expected 'backtracking' or 'forward_chaining'.")
    found = obj.get("found", False)
    if not isinstance(found, bool):
        raise _fail(problem, var, f"has found={found!r}; expected true or false.")
    steps = obj.get("steps", [])
    if not isinstance(steps, list):
        raise _fail(problem, var, f"has steps of type {type(steps).__name__}; expected a list.")
    out_steps = []
    for i, s in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(s, dict):
            raise _fail(problem, var, f"{where} must be an object, got {s!r:.60}.")
        op = s.get("op")
        if op not in _OPS:
            raise _fail(problem, var, f"{where}.op is {op!r}; expected one of {_OPS}.")
        step = {
            "result": _int(s, "result", problem, var, where, lo=-(2**53)),
            "op": op,
            "latent": _int(s, "latent", problem, var, where, hi=n_latent),
            "rank": _int(s, "rank", problem, var, where, hi=n_rank),
            "layer": _int(s, "layer", problem, var, where, lo=-n_layers, hi=n_layers) % n_layers,  # -1 = last
            "operands": [],
        }
        ops = s.get("operands", [])
        if not isinstance(ops, list):
            raise _fail(problem, var, f"{where}.operands must be a list, got {ops!r:.60}.")
        for j, o in enumerate(ops):
            w = f"{where}.operands[{j}]"
            if not isinstance(o, dict):
                raise _fail(problem, var, f"{w} must be an object, got {o!r:.60}.")
            src = o.get("source")
            if src not in ("question", "latent"):
                raise _fail(problem, var, f"{w}.source is {src!r}; expected 'question' or 'latent'.")
            operand = {"value": _int(o, "value", problem, var, w, lo=-(2**53)), "source": src,
                       "latent": _int(o, "latent", problem, var, w, hi=n_latent, nullable=src == "question"),
                       "rank": _int(o, "rank", problem, var, w, hi=n_rank, nullable=src == "question")}
            step["operands"].append(operand)
        out_steps.append(step)
    score = obj.get("score")
    answer = obj.get("answer")
    return {"method": method, "found": found, "answer": answer if isinstance(answer, int) else None,
            "matches_gold": obj.get("matches_gold"), "score": score if isinstance(score, list) else None,
            "steps": out_steps}


def parse_verification(text: Any, problem: int) -> dict[str, Any] | None:
    """Check one ``verification`` JSON text (``checks``, ``steps[].latent/result/verified``, ``verified_checks``).

    >>> parse_verification('{"checks": 3, "steps": [{"latent": 1, "result": 12, "verified": 2}], "verified_checks": 2}',
    ...                    0)["steps"][0]["verified"]
    2
    """
    var = "verification"
    obj = _load_json(text, problem, var)
    if obj is None:
        return None
    checks = _int(obj, "checks", problem, var, "the object", lo=1)
    steps = obj.get("steps", [])
    if not isinstance(steps, list):
        raise _fail(problem, var, f"has steps of type {type(steps).__name__}; expected a list.")
    out = []
    for i, s in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(s, dict):
            raise _fail(problem, var, f"{where} must be an object, got {s!r:.60}.")
        alts = s.get("alternatives", [])
        out.append({"latent": _int(s, "latent", problem, var, where),
                    "result": _int(s, "result", problem, var, where, lo=-(2**53)),
                    "verified": _int(s, "verified", problem, var, where, hi=checks + 1),
                    "alternatives": alts if isinstance(alts, list) else []})
    vc = obj.get("verified_checks")
    return {"checks": checks, "steps": out, "verified_checks": vc if isinstance(vc, int) else None}


def question_segments(question: str) -> list[dict[str, Any]]:
    """Split a question into text and integer segments, so the front end can box numbers and aim arrows at them.

    >>> question_segments("3 boxes of 4")
    [{'text': '3', 'value': 3}, {'text': ' boxes of ', 'value': None}, {'text': '4', 'value': 4}]
    """
    out: list[dict[str, Any]] = []
    pos = 0
    for m in _NUMBER.finditer(question):
        if m.start() > pos:
            out.append({"text": question[pos:m.start()], "value": None})
        out.append({"text": m.group(), "value": int(m.group())})
        pos = m.end()
    if pos < len(question):
        out.append({"text": question[pos:], "value": None})
    return out


def _resolve(trace: dict[str, Any], segments: list[dict[str, Any]], n_layers: int) -> None:
    """Give each operand the cell or question segment its arrow starts from (in place).

    A latent operand has no layer in the schema: it is the layer of an earlier step with that result at that latent
    step, else the last layer (the paper's vocabulary projection reads the final layer). A question operand points at
    the first segment holding its value that no earlier operand used (None when the question lacks it).
    """
    used: set[int] = set()
    for k, step in enumerate(trace["steps"]):
        for o in step["operands"]:
            o["layer"] = None
            o["segment"] = None
            if o["source"] == "latent":
                earlier = [s for s in trace["steps"][:k] if s["latent"] == o["latent"] and s["result"] == o["value"]]
                o["layer"] = earlier[-1]["layer"] if earlier else n_layers - 1
            else:
                hits = [i for i, s in enumerate(segments) if s["value"] == o["value"]]
                free = [i for i in hits if i not in used] or hits
                if free:
                    o["segment"] = free[0]
                    used.add(free[0])


# --------------------------------------------------------------------------------------------------------- helpers
def _item(ds: xr.Dataset, var: str, i: int, dim: str) -> Any:
    if var not in ds.variables or dim not in ds[var].dims:
        return None
    v = ds[var].isel({dim: i}).values
    return v.item() if hasattr(v, "item") else v


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _truthy(v: Any) -> bool | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes")
    return bool(v)


def parse_filter(value: str) -> tuple[str, ...]:
    """The terms of a filter string (``"all"`` -> ()); unknown terms or contradictions raise ValueError.

    >>> parse_filter("correct, not verified")
    ('correct', 'not verified')
    """
    if not isinstance(value, str):
        raise ValueError(f"filter must be a string, got {type(value).__name__}.")
    terms = tuple(t.strip().replace("_", " ").replace("-", " ") for t in value.split(",") if t.strip())
    if terms in ((), ("all",)):
        return ()
    bad = [t for t in terms if t not in FILTER_TERMS]
    if bad:
        raise ValueError(f"filter {value!r} has unknown term(s) {bad}; expected 'all' or comma-separated terms from "
                         f"{list(FILTER_TERMS)}.")
    for a in ("correct", "decoded", "verified"):
        if a in terms and (("incorrect" if a == "correct" else f"not {a}") in terms):
            raise ValueError(f"filter {value!r} asks for both {a!r} and its opposite.")
    return terms


# ---------------------------------------------------------------------------------------------------------- widget
class LatentDecoder(anywidget.AnyWidget):
    """Latent-step x layer grid of top-k decoded tokens with the decoded trace drawn over it.

    ``LatentDecoder(ds, problem=0, filter="all", offline_budget=8_000_000)``: ``ds`` passes
    :func:`workbench.data.validate_latent` or :func:`workbench.data.validate_logit_lens`. ``problem`` (the problem,
    or the prompt of a lens Dataset) and ``filter`` (``"all"`` or terms from :data:`FILTER_TERMS` joined by commas)
    are synced both ways. When every problem's grid fits ``offline_budget`` bytes (at most one message, 8 MiB), all
    of them are in the saved state and a saved or exported page switches problems without a kernel.

    >>> import workbench as wb                                                     # doctest: +SKIP
    >>> wb.LatentDecoder(wb.logit_lens(wb.load_model("smollm2-135m"), "The capital of France is"))  # doctest: +SKIP
    """

    _esm = _STATIC / "latent_decoder.js"
    _css = _STATIC / "latent_decoder.css"

    problem = traitlets.Int(0).tag(sync=True)
    filter = traitlets.Unicode("all").tag(sync=True)
    mode = traitlets.Unicode("latent").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    n_problems = traitlets.Int(0).tag(sync=True)
    _items = traitlets.List(traitlets.Dict()).tag(sync=True)  # picker entries: index, label, flags
    _visible = traitlets.List(traitlets.Int()).tag(sync=True)  # problems that pass the filter
    _view = traitlets.Dict().tag(sync=True)  # the shown problem: labels, strings, info, trace, buffer metas
    _prob = traitlets.Bytes(b"").tag(sync=True)
    _tok = traitlets.Bytes(b"").tag(sync=True)
    _ent = traitlets.Bytes(b"").tag(sync=True)
    _all = traitlets.Dict().tag(sync=True)  # offline mode: str(problem) -> {"view", "prob", "tok", "ent"}, when all fit
    _offline = traitlets.Dict().tag(sync=True)

    def __init__(self, ds: Any, problem: int = 0, filter: str = "all",  # noqa: A002
                 offline_budget: int = OFFLINE_BUDGET, **kwargs: Any) -> None:
        self._offline_budget = check_budget(offline_budget, limit=MAX_MESSAGE_BYTES)
        kind = detect_kind(ds)
        self._ready = False
        self._kind = kind
        if kind == "latent":
            self._ds = ds.transpose("problem", "layer", "latent", "rank", ...)
            self._dim, self._col = "problem", "latent"
        else:
            lead = ("prompt",) if "prompt" in ds.dims else ()
            self._ds = ds.transpose(*lead, "layer", "position", "rank", ...)
            self._dim, self._col = ("prompt" if lead else None), "position"
        n = int(self._ds.sizes[self._dim]) if self._dim else 1
        if n == 0 or 0 in (int(self._ds.sizes[d]) for d in ("layer", self._col, "rank")):
            raise DataModelError(f"LatentDecoder got an empty dim: sizes {dict(self._ds.sizes)}.")
        self._n = n
        # the answer position (after the forced end of thought) as one more column, read out at the last layer only
        self._answer_col = kind == "latent" and all(
            v in self._ds.data_vars and set(self._ds[v].dims) == {"problem", "rank"} for v in ("answer_token", "answer_prob"))
        self._check_problem(problem)
        terms = self._terms(filter)
        self._traces: list[dict[str, Any] | None] = []
        self._checks: list[dict[str, Any] | None] = []
        items = self._build_items()  # parses every trace: malformed JSON fails here, not on a later click
        super().__init__(**kwargs)
        with self.hold_sync():
            self.mode, self.n_problems, self._items = kind, n, items
            self.title = str(self._ds.attrs.get("model", "") or "")
            self.filter = ",".join(terms) if terms else "all"
            self._visible = self.visible(terms)
            self.problem = int(problem)
            self._load()
        self._load_offline()
        self._ready = True

    # -------------------------------------------------------------------------------------------------- checks
    def _check_problem(self, value: Any) -> int:
        what = "problem" if self._kind == "latent" else "prompt"
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise DataModelError(f"problem must be an integer index, got {value!r}.")
        if not 0 <= int(value) < self._n:
            raise DataModelError(f"problem={value} is out of range: the Dataset has {self._n} {what}(s), "
                                 f"so expected 0 <= problem < {self._n}.")
        return int(value)

    def _terms(self, value: str) -> tuple[str, ...]:
        try:
            terms = parse_filter(value)
        except ValueError as e:
            raise DataModelError(str(e)) from None
        if terms and self._kind == "lens":
            raise DataModelError(f"filter {value!r} needs a latent-decoding Dataset; a logit-lens Dataset only has 'all'.")
        return terms

    @traitlets.validate("problem")
    def _validate_problem(self, proposal: dict[str, Any]) -> int:
        try:
            return self._check_problem(proposal["value"])
        except DataModelError as e:
            raise traitlets.TraitError(str(e)) from None

    @traitlets.validate("filter")
    def _validate_filter(self, proposal: dict[str, Any]) -> str:
        try:
            terms = self._terms(proposal["value"])
        except DataModelError as e:
            raise traitlets.TraitError(str(e)) from None
        return ",".join(terms) if terms else "all"

    @traitlets.observe("problem")
    def _on_problem(self, change: dict[str, Any]) -> None:
        if getattr(self, "_ready", False) and change["old"] != change["new"]:
            self._load()

    @traitlets.observe("filter")
    def _on_filter(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_ready", False):
            return
        vis = self.visible(parse_filter(change["new"]))
        with self.hold_sync():
            self._visible = vis
            if vis and self.problem not in vis:
                self.problem = vis[0]

    # ----------------------------------------------------------------------------------------------- picker
    def _build_items(self) -> list[dict[str, Any]]:
        ds, items = self._ds, []
        n_lat, n_lay, n_rank = (int(ds.sizes[d]) for d in (self._col, "layer", "rank"))
        n_lat += int(self._answer_col)
        for i in range(self._n):
            if self._kind == "lens":
                text = self._lens_text(i)
                label = text or f"prompt {i}"
                items.append({"index": i, "label": f"{i}: {label}"[:MAX_LABEL_CHARS]})
                self._traces.append(None)
                self._checks.append(None)
                continue
            trace = parse_trace(_item(ds, "decoded_trace", i, "problem"), i, n_lat, n_lay, n_rank)
            check = parse_verification(_item(ds, "verification", i, "problem"), i)
            self._traces.append(trace)
            self._checks.append(check)
            vc = _item(ds, "verified_checks", i, "problem")
            if vc is None and check is not None:
                vc = check["verified_checks"]
            vc = None if vc is None or (isinstance(vc, float) and np.isnan(vc)) else int(vc)
            correct = _truthy(_item(ds, "correct", i, "problem"))
            question = _text(_item(ds, "question", i, "problem"))
            items.append({"index": i, "label": f"{i}: {question}"[:MAX_LABEL_CHARS] if question else f"problem {i}",
                          "correct": correct, "decoded": bool(trace and trace["found"]),
                          "verified": bool(vc and vc > 0), "verified_checks": vc})
        return items

    def _lens_text(self, i: int) -> str:
        """A lens prompt's text: the ``text`` coord, else its input tokens joined (single-prompt lenses lack it)."""
        ds = self._ds.isel({self._dim: i}) if self._dim else self._ds
        if "text" in ds.coords and ds["text"].ndim == 0:
            return _text(ds["text"].item())
        if "input_token" in ds.coords:
            return "".join(_text(t) for t in np.asarray(ds["input_token"].values, dtype=object).ravel())
        return ""

    def visible(self, terms: tuple[str, ...] | str = ()) -> list[int]:
        """Problems that pass a filter (terms or a filter string); ``correct`` needs a ``correct`` variable.

        >>> w.visible("correct,decoded")                                              # doctest: +SKIP
        [0, 2]
        """
        if isinstance(terms, str):
            terms = self._terms(terms)
        out = []
        for it in self._items:
            ok = True
            for t in terms:
                neg = t.startswith("not ") or t == "incorrect"
                key = {"incorrect": "correct"}.get(t, t.removeprefix("not "))
                val = it.get(key)
                ok &= val is not None and bool(val) != neg
            if ok:
                out.append(int(it["index"]))
        return out

    # ------------------------------------------------------------------------------------------------ payload
    def payload(self, i: int) -> tuple[dict[str, Any], bytes, bytes, bytes]:
        """The view (JSON) and buffers (prob codes, token indices, entropy) of one problem; only this one travels.

        Padding positions of a multi-prompt lens (empty input token, all-NaN probabilities) are dropped.
        """
        i = self._check_problem(i)
        ds = self._ds.isel({self._dim: i}) if self._dim else self._ds
        prob = np.asarray(ds["prob"].values, dtype=np.float32)  # (layer, col, rank)
        tokens = np.asarray(ds["token"].values, dtype=object)
        keep = np.arange(prob.shape[1])
        if self._kind == "lens":
            labels_in = (np.asarray(ds["input_token"].values, dtype=object) if "input_token" in ds.coords
                         else np.array([""] * prob.shape[1], dtype=object))
            pad = np.all(np.isnan(prob), axis=(0, 2)) & (labels_in == "")
            keep = np.flatnonzero(~pad)
            prob, tokens = prob[:, keep], tokens[:, keep]
            cols = ([_text(t)[:MAX_LABEL_CHARS] for t in labels_in[keep]] if "input_token" in ds.coords
                    else [str(int(p)) for p in keep])
        else:
            cols = [f"z{v}" for v in (ds.coords["latent"].values if "latent" in ds.coords else keep)]
            ent = (np.asarray(ds["entropy"].transpose("layer", "latent").values, dtype=np.float32)
                   if "entropy" in ds.data_vars and set(ds["entropy"].dims) == {"layer", "latent"} else None)
            if self._answer_col:
                n_l, _, n_k = prob.shape
                a_prob = np.full((n_l, 1, n_k), np.nan, np.float32)
                a_prob[-1, 0] = np.asarray(ds["answer_prob"].transpose("rank").values, dtype=np.float32)
                a_tok = np.full((n_l, 1, n_k), "", dtype=object)
                a_tok[-1, 0] = np.asarray(ds["answer_token"].transpose("rank").values, dtype=object)
                prob, tokens = np.concatenate([prob, a_prob], axis=1), np.concatenate([tokens, a_tok], axis=1)
                ent = None if ent is None else np.concatenate([ent, np.full((n_l, 1), np.nan, np.float32)], axis=1)
                cols.append("answer")
        strings, idx = np.unique(np.array([_text(t)[:MAX_LABEL_CHARS] for t in tokens.ravel()], dtype=object),
                                 return_inverse=True)
        pmeta, pbuf = quantize_unit(prob)
        tmeta, tbuf = encode_float(idx.reshape(prob.shape).astype(np.float32))
        emeta, ebuf = {}, b""
        if self._kind == "lens" and "entropy" in ds:
            emeta, ebuf = encode_float(np.asarray(ds["entropy"].values, dtype=np.float32)[:, keep])
        elif self._kind == "latent" and ent is not None:
            emeta, ebuf = encode_float(ent)
        rows = [str(v) for v in (ds.coords["layer"].values if "layer" in ds.coords else range(prob.shape[0]))]
        view: dict[str, Any] = {
            "problem": i, "mode": self._kind, "rows": rows, "cols": cols, "strings": strings.tolist(),
            "prob_meta": dict(pmeta), "tok_meta": dict(tmeta), "ent_meta": dict(emeta),
        }
        if self._kind == "latent":
            question = _text(_item(self._ds, "question", i, "problem"))
            segments = question_segments(question)
            trace = self._traces[i]
            if trace is not None:
                trace = json.loads(json.dumps(trace))  # a copy the resolution may annotate
                _resolve(trace, segments, prob.shape[0])
            view.update({
                "question": question, "segments": segments, "trace": trace, "verification": self._checks[i],
                "info": {k: _text(_item(self._ds, k, i, "problem")) for k in ("gold_trace", "answer", "predicted")}
                | {k: self._items[i].get(k) for k in ("correct", "verified_checks")},
            })
        else:
            view["text"] = self._lens_text(i)
        total = len(pbuf) + len(tbuf) + len(ebuf) + len(json.dumps(view))
        if total > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(f"problem {i} needs {total:,} bytes, over the {MAX_MESSAGE_BYTES:,}-byte message cap; "
                                  "select fewer positions or ranks (ds.isel(...)) first.")
        return view, pbuf, tbuf, ebuf

    def offline_payloads(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every problem's payload (``{str(i): {"view", "prob", "tok", "ent"}}``) when together they fit the offline
        budget, with the ``_offline`` status; ``({}, status)`` when they do not (counting stops at the budget)."""
        what = "every problem's grid" if self._kind == "latent" else "every prompt's grid"
        out: dict[str, Any] = {}
        total = 0
        for i in range(self._n):
            view, pbuf, tbuf, ebuf = self.payload(i)
            total += len(pbuf) + len(tbuf) + len(ebuf) + len(json.dumps(view))
            if total > self._offline_budget:
                return {}, {**offline_status(total, self._offline_budget, what, at_least=i < self._n - 1),
                            "problems": "kernel"}
            out[str(i)] = {"view": view, "prob": pbuf, "tok": tbuf, "ent": ebuf}
        return out, {**offline_status(total, self._offline_budget, what), "problems": "state"}

    def _load_offline(self) -> None:
        """Every problem into the state when they fit the budget, in a message of its own."""
        payloads, status = self.offline_payloads()
        with self.hold_sync():
            self._all, self._offline = payloads, status

    def _load(self) -> None:
        view, pbuf, tbuf, ebuf = self.payload(self.problem)
        with self.hold_sync():
            self._prob, self._tok, self._ent = pbuf, tbuf, ebuf
            self._view = view


__all__ = ["LatentDecoder", "FILTER_TERMS", "detect_kind", "parse_trace", "parse_verification", "parse_filter",
           "question_segments"]
