"""Metrics of an intervention: one number per run, read off the logits at the final position.

An intervention (a patch, a steering vector) is judged by how it moves a metric between two reference runs, so the
metric is its own object: it names the answer tokens it reads, checks each is one token of the model's vocabulary,
and becomes a plain function ``logits (runs, vocab) -> (runs,)`` of torch operations that also runs inside a remote
trace (it captures token ids, never the model or its tokenizer).

>>> logit_diff(" Mary", " John").name
"logit_diff(' Mary', ' John')"
>>> import torch
>>> f = Metric("custom", fn=lambda logits: logits[:, 0]).bind(None)
>>> f(torch.tensor([[2.0, 1.0], [0.5, 3.0]])).tolist()
[2.0, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


class MetricError(ValueError):
    """A metric that cannot be used with this model: an answer that is not one token, a callable of the wrong
    shape. The message names the argument, what was expected and what came."""


@dataclass(frozen=True)
class Metric:
    """A scalar per run from the final position's logits: ``kind`` is ``"logit_diff"`` (``tokens[0]`` minus
    ``tokens[1]``), ``"prob"`` (softmax probability of ``tokens[0]``) or ``"callable"`` (``fn`` on the logits)."""

    name: str
    kind: str = "callable"
    tokens: tuple[str, ...] = ()
    fn: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, compare=False)

    def token_ids(self, model: Any) -> tuple[int, ...]:
        """The id of each answer token under ``model``'s tokenizer; an answer that is not one token is an error."""
        ids = []
        for text in self.tokens:
            found = model.tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(found) != 1:
                pieces = [model.tokenizer.decode([i]) for i in found]
                raise MetricError(f"{self.name}: the answer {text!r} is {len(found)} tokens under {model.name!r}'s "
                                  f"tokenizer ({pieces}); a metric reads one token per answer (mind the leading "
                                  "space).")
            ids.append(int(found[0]))
        return tuple(ids)

    def bind(self, model: Any) -> Callable[[torch.Tensor], torch.Tensor]:
        """The metric as ``logits (runs, vocab) -> (runs,)`` for ``model``."""
        if self.kind == "callable":
            if self.fn is None:
                raise MetricError(f"metric {self.name!r} has no function to call.")
            return self.fn
        ids = self.token_ids(model)
        if self.kind == "logit_diff":
            right, wrong = ids
            return lambda logits: logits[:, right] - logits[:, wrong]
        if self.kind == "prob":
            (answer,) = ids
            return lambda logits: torch.softmax(logits.float(), dim=-1)[:, answer]
        raise MetricError(f"metric kind must be 'logit_diff', 'prob' or 'callable', got {self.kind!r}.")


def logit_diff(right: str, wrong: str) -> Metric:
    """The logit of ``right`` minus the logit of ``wrong`` at the final position (both one token, with the leading
    space the tokenizer sees): the standard patching metric (Wang et al. 2022, arXiv 2211.00593).

    >>> logit_diff(" Paris", " Rome").tokens
    (' Paris', ' Rome')
    """
    for arg, value in (("right", right), ("wrong", wrong)):
        if not isinstance(value, str) or not value:
            raise MetricError(f"logit_diff's {arg} must be a non-empty token string such as ' Paris', got {value!r}.")
    return Metric(f"logit_diff({right!r}, {wrong!r})", "logit_diff", (right, wrong))


def prob(answer: str) -> Metric:
    """The probability of ``answer`` (one token) at the final position.

    >>> prob(" Paris").name
    "prob(' Paris')"
    """
    if not isinstance(answer, str) or not answer:
        raise MetricError(f"prob's answer must be a non-empty token string such as ' Paris', got {answer!r}.")
    return Metric(f"prob({answer!r})", "prob", (answer,))


def as_metric(metric: Any, what: str = "metric") -> Metric:
    """A :class:`Metric` from a Metric or a callable on the final position's logits.

    >>> as_metric(lambda logits: logits[:, 3]).kind
    'callable'
    """
    if isinstance(metric, Metric):
        return metric
    if callable(metric):
        return Metric(getattr(metric, "__name__", "metric").replace("<lambda>", "callable"), "callable", fn=metric)
    raise MetricError(f"{what} must be wb.logit_diff(right, wrong), wb.prob(answer) or a callable on the final "
                      f"position's logits, got {type(metric).__name__}.")


def check_shape(fn: Callable[[torch.Tensor], torch.Tensor], vocab: int, name: str) -> None:
    """Call ``fn`` on dummy logits of 3 runs and insist on one finite-typed number per run, before any work is done.

    >>> check_shape(lambda logits: logits.sum(), 5, "total")
    Traceback (most recent call last):
    ...
    workbench.analyses.metrics.MetricError: metric 'total' must return one value per run, shape (3,) for logits of shape (3, 5); it returned shape ().
    """
    logits = torch.zeros(3, vocab)
    try:
        out = fn(logits)
    except Exception as e:  # noqa: BLE001 - the user's function; say what it did
        raise MetricError(f"metric {name!r} failed on logits of shape (3, {vocab}): {type(e).__name__}: {e}") from None
    shape = tuple(getattr(out, "shape", ()))
    if not isinstance(out, torch.Tensor) or shape != (3,):
        raise MetricError(f"metric {name!r} must return one value per run, shape (3,) for logits of shape (3, {vocab});"
                          f" it returned {'shape ' + str(shape) if isinstance(out, torch.Tensor) else type(out).__name__}.")
