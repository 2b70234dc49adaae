"""data/interventions/ is what `python -m workbench.studies.interventions` computes today: one pair of the shipped
SmolLM2 factual and IOI maps recomputed from scratch (the study's own pair choice), the accuracy of the first IOI
pairs, the multiple-choice vocabulary projection of the first prompts, and every shipped map passes the data
contract."""

from __future__ import annotations

import numpy as np
import pytest

import workbench as wb
from workbench.analyses import patching as P
from workbench.studies import interventions as S
from workbench.zoo.tasks import interventions as iv

pytestmark = pytest.mark.slow


def shipped(name):
    return wb.load(S.shipped_dir() / f"{name}.nc")


@pytest.mark.parametrize("task, pick", [("factual", S.factual_pairs), ("ioi", S.ioi_pairs)])
def test_first_pair_of_each_map_recomputes(smollm2, task, pick):
    ds = wb.validate_patching(shipped(f"smollm2_{task}"))
    pairs = pick(smollm2)
    assert [p.clean for p in pairs] == list(ds.clean.values)
    fresh = P.patch(smollm2, pairs[:1], sites=("resid", "mlp"), progress=False)
    for site in ("resid", "mlp"):
        np.testing.assert_allclose(fresh.metric.sel(site=site)[0], ds.metric.sel(site=site)[0], atol=2e-4)
    assert list(fresh.token.values[0]) == list(ds.token.values[0])


def test_accuracy_of_the_first_ioi_pairs(smollm2):
    acc = shipped("accuracy").sel(model="smollm2", set="ioi")
    fresh = P.pair_metrics(smollm2, iv.ioi()[:6], progress=False)
    np.testing.assert_allclose(fresh.clean_metric.values, acc.clean_logit_diff.values[:6], atol=2e-4)
    np.testing.assert_allclose(fresh.corrupted_metric.values, acc.corrupted_logit_diff.values[:6], atol=2e-4)


def test_mcqa_lens_of_the_first_prompts(smollm2):
    from workbench.analyses.lens import answer_lens

    lens = shipped("smollm2_mcqa_lens")
    prompts = [p.clean for p in iv.mcqa()[:3]]
    fresh = answer_lens(smollm2, prompts, S.LETTERS)
    np.testing.assert_allclose(fresh.values, lens.answer_prob.values[:3], atol=1e-5)


def test_every_attribution_map_carries_its_correlation():
    for model in S.MODELS:
        for task in ("factual", "ioi"):
            est = wb.validate_patching(shipped(f"{model}_{task}_attribution"))
            exact = shipped(f"{model}_{task}")
            again = P.with_correlation(est.drop_vars(["pearson_r", "head_pearson_r"], errors="ignore"), exact)
            np.testing.assert_allclose(again.pearson_r.values, est.pearson_r.values, atol=1e-6)
