"""data/interventions/steering_*.nc is what `python -m workbench.studies.steering` computes today: the sentiment
vector and its per-context scores recomputed from scratch on SmolLM2, the shipped Datasets pass the contract, and the
refusal file's verdicts follow from its replies."""

from __future__ import annotations

import numpy as np
import pytest

import workbench as wb
from workbench.analyses import steering as S
from workbench.zoo.tasks import steering as tasks

pytestmark = pytest.mark.slow


def shipped(name):
    return wb.load(tasks.data_dir() / f"steering_{name}.nc")


@pytest.mark.parametrize("model", ["smollm2", "gemma3"])
@pytest.mark.parametrize("behaviour", ["sentiment", "wedding"])
def test_shipped_studies_pass_the_contract(model, behaviour):
    ds = wb.validate_steering(shipped(f"{model}_{behaviour}"))
    assert "ov_token" in ds and ds.sizes["ov"] == 12
    assert ds.attrs["layer"] in ds.layer.values.tolist()
    assert int(ds.layer_effect.idxmax()) == ds.attrs["layer"]  # the layer was picked by the sweep


def test_sentiment_scores_recompute(smollm2):
    ds = shipped("smollm2_sentiment")
    contrast, contexts = tasks.sentiment(), tasks.sentiment_eval()
    layer = int(ds.attrs["layer"])
    v = S.steering_vector(smollm2, list(contrast.positive), list(contrast.negative), layer)
    assert abs(float(np.linalg.norm(v.values)) - ds.attrs["vector_norm"]) < 1e-3
    ev = S.steering_eval(smollm2, v, layer, contexts[:6], [0.0, 4.0], random_seeds=0, progress=False)
    np.testing.assert_allclose(ev.per_context.values, ds.per_context.sel(coef=[0.0, 4.0]).values[:, :6], atol=2e-3)


def test_refusal_verdicts_follow_from_the_replies():
    r = shipped("refusal")
    verdicts = np.array([[tasks.is_refusal(str(t)) for t in row] for row in r.reply.values])
    np.testing.assert_array_equal(verdicts, r.refusal.values)
    assert r.harmful.values.sum() >= 32 and (~r.harmful.values).sum() >= 32
