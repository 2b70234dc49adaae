"""The shipped steering study (``data/interventions/steering_*.nc``): the refusal rates of SmolLM2-135M-Instruct and
Gemma-3-270M on the project's harmful and harmless requests, and both models steered toward positive sentiment and
toward weddings, each judged by likelihoods against its baselines.

The prompt sets are hand-written (``data/interventions/steering_*.tsv``, :mod:`workbench.zoo.tasks.steering`). Files:

* ``steering_refusal.nc``: greedy replies (24 tokens) of both models to every request (SmolLM2 through its chat
  template, Gemma-3, a base model, after "Question: ... Answer:") and whether each is a refusal
  (:func:`workbench.zoo.tasks.steering.is_refusal`);
* ``steering_<model>_<behaviour>.nc`` for sentiment and wedding: the layer sweep (every third residual layer before
  the last block's output), the
  difference-of-means vector at the layer with the largest standardised effect, its likelihood evaluation on the
  held-out contexts at :data:`COEFS` beside same-norm random vectors (3 seeds) and a prompt that asks for the
  behaviour, the same with attention frozen, the share of the effect kept when the vector is sparsified (ranked by
  magnitude and by attribution), the vector read through the 12 later heads whose OV output is largest (top 8
  tokens each), and greedy generations (20 tokens) of :data:`N_PROMPTS` held-out
  contexts at every coefficient with their VADER sentiment; one Dataset that passes
  :func:`workbench.data.validate_steering` (the SteeringExplorer's input).

Regenerate (about 20 minutes on 2 cores)::

    python -m workbench.studies.steering --out data/interventions

A finished file is kept (``--force`` recomputes it).

>>> COEFS[0], COEFS[-1]
(-8.0, 8.0)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from workbench.analyses import steering as S
from workbench.zoo.tasks import steering as tasks

MODELS = {"smollm2": "smollm2-135m", "gemma3": "gemma3-270m"}
COEFS = (-8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0)
SWEEP_COEF = 4.0
N_PROMPTS = 6
BEHAVIOURS = {"sentiment": (tasks.sentiment, tasks.sentiment_eval, "Write something positive and happy. "),
              "wedding": (tasks.wedding, tasks.wedding_eval, "Talk about a wedding. ")}


def request_prompt(model: Any, request: str) -> str:
    """A request as the model is asked it: the chat template when the tokenizer has one, else a Q/A frame."""
    tok = model.tokenizer
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template([{"role": "user", "content": request}], tokenize=False,
                                       add_generation_prompt=True)
    return f"Question: {request}\nAnswer:"


def refusal_study(models: dict[str, Any], max_new_tokens: int = 24) -> xr.Dataset:
    """Greedy replies of every model to every request and whether each is a refusal: Dataset (model, request)."""
    sets = tasks.refusal()
    requests = list(sets.positive) + list(sets.negative)
    harmful = np.array([True] * len(sets.positive) + [False] * len(sets.negative))
    texts, refused = [], []
    for model in models.values():
        prompts = [request_prompt(model, r) for r in requests]
        zero = np.zeros(S._hidden_size(model), dtype=np.float32)
        gen = S.steer(model, prompts, zero, 0, [0.0], max_new_tokens=max_new_tokens, progress=False)
        replies = [str(t) for t in gen.text.sel(coef=0.0).values]
        texts.append(replies)
        refused.append([tasks.is_refusal(t) for t in replies])
    refused = np.array(refused)
    return xr.Dataset({"reply": (("model", "request"), np.array(texts, dtype=object)),
                       "refusal": (("model", "request"), refused)},
                      coords={"model": list(models), "request": np.arange(len(requests)),
                              "request_text": ("request", requests), "harmful": ("request", harmful)},
                      attrs={"what": "greedy replies; refusal by phrase matching in the first 120 characters",
                             "max_new_tokens": max_new_tokens,
                             "harmful_refusal_rate": "; ".join(f"{m}: {refused[i][harmful].mean():.2f}"
                                                                for i, m in enumerate(models)),
                             "harmless_refusal_rate": "; ".join(f"{m}: {refused[i][~harmful].mean():.2f}"
                                                                 for i, m in enumerate(models))})


def behaviour_study(model: Any, behaviour: str, progress: bool = True) -> xr.Dataset:
    """Layer sweep, vector, evaluation with baselines and frozen attention, generations: one steering Dataset."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    contrast, evaluation, ask = BEHAVIOURS[behaviour]
    pos, neg = list(contrast().positive), list(contrast().negative)
    contexts = evaluation()
    # every third residual layer before the last block's output: a vector added after the last block only biases the
    # logits, it steers no computation
    layers = list(range(0, model.n_layers, 3))
    sweep = S.layer_sweep(model, pos, neg, contexts, SWEEP_COEF, layers=layers, progress=progress)
    layer = int(sweep.layer_effect.idxmax())
    vector = S.steering_vector(model, pos, neg, layer)
    ev = S.steering_eval(model, vector, layer, contexts, COEFS, random_seeds=3, behaviour_prompt=ask,
                         freeze_attention=True, progress=progress)
    prompts = list(dict.fromkeys(c.context for c in contexts))[:N_PROMPTS]
    sparse = S.sparsify(model, vector, layer, contexts, SWEEP_COEF, progress=progress)
    ov = S.ov_tokens(model, vector, layer, k=8, top_heads=12) if layer < model.n_layers else None
    gen = S.steer(model, prompts, vector, layer, COEFS, max_new_tokens=20, progress=progress)
    vader = SentimentIntensityAnalyzer()
    sentiment = np.array([[vader.polarity_scores(str(t))["compound"] for t in row] for row in gen.text.values])
    ds = xr.merge([gen, ev.drop_vars("context_text"), sweep, sparse] + ([ov] if ov is not None else []),
                  combine_attrs="drop")
    ds = ds.assign(sentiment=(("coef",), sentiment.mean(1).astype(np.float32)),
                   prompt_sentiment=(("coef", "prompt"), sentiment.astype(np.float32)))
    return ds.assign_attrs(model.provenance(
        "steering", behaviour=behaviour, layer=layer, where="all", vector_norm=float(vector.attrs["norm"]),
        positive_hash=vector.attrs["positive_hash"], negative_hash=vector.attrs["negative_hash"],
        frozen_share=float(ev.attrs["frozen_share"]), behaviour_prompt=ask, sweep_coef=SWEEP_COEF,
        unsteered_spread=float(ev.attrs["unsteered_spread"])))


def run(out: str | Path, force: bool = False, progress: bool = True) -> list[Path]:
    """Compute every file of the study under ``out`` (finished ones are kept unless ``force``)."""
    import workbench as wb

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models = {name: wb.load_model(path) for name, path in MODELS.items()}
    written = []
    jobs = [("steering_refusal.nc", lambda: refusal_study(models))] + \
        [(f"steering_{m}_{b}.nc", lambda m=m, b=b: behaviour_study(models[m], b, progress))
         for m in MODELS for b in BEHAVIOURS]
    for name, job in jobs:
        if (out / name).is_file() and not force:
            continue
        t0 = time.perf_counter()
        ds = job()
        wb.save(ds.assign_attrs(compute_seconds=round(time.perf_counter() - t0, 1)), out / name, compress=True)
        written.append(out / name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.studies.steering", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/interventions"))
    ap.add_argument("--force", action="store_true", help="recompute files that exist")
    a = ap.parse_args(argv)
    for path in run(a.out, a.force):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
