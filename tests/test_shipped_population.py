"""The shipped Dyck population (data/dyck/population.nc) and its zoo representatives: the file is a valid population
of at least 60 trained models, and what it says about a representative model is recomputed from that model's shipped
checkpoint (accuracy on the shared evaluation sets, head scores, one ablation)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from transformers import GPT2LMHeadModel

import workbench as wb
from workbench.analyses import attention as A
from workbench.data import validate_population
from workbench.zoo import dyck
from workbench.zoo import population as P
from workbench.zoo.registry import zoo_dir


@pytest.fixture(scope="module")
def pop():
    return validate_population(wb.load(P.shipped_path()))


def test_shipped_population_is_complete(pop):
    done = pop.status.values == P.STATUS_DONE
    assert done.sum() >= 60
    settings = json.loads(pop.attrs["settings"])
    assert settings["steps"] >= 800
    grid = {(m.n_layers, m.n_heads, m.weight_decay) for m in P.grid()}
    shipped = set(zip(pop.n_layers.values.tolist(), pop.n_heads.values.tolist(), pop.weight_decay.values.tolist()))
    assert shipped == grid  # every setting of the paper's grid is present
    assert np.isfinite(pop.ood_accuracy.values[done]).all()


@pytest.mark.parametrize("name", ["dyck-hierarchical", "dyck-violation-detecting"])
def test_representative_checkpoint_reproduces_its_population_entry(pop, name):
    info = json.loads((zoo_dir() / name / "dyck.json").read_text())
    member = pop.sel(model=info["member"])
    settings = json.loads(pop.attrs["settings"])
    model = wb.load_model(name)
    assert (model.n_layers, model.n_heads) == (int(member.n_layers), int(member.n_heads))
    id_data, ood_data = dyck.eval_sets(settings["eval_size"])
    plain = GPT2LMHeadModel.from_pretrained(zoo_dir() / name)  # plain transformers, no nnsight
    assert dyck.accuracy(plain, id_data) == pytest.approx(float(member.id_accuracy), abs=1e-9)
    assert dyck.accuracy(plain, ood_data) == pytest.approx(float(member.ood_accuracy), abs=1e-9)
    scores = A.head_scores(model, id_data)
    stored = member.head_score.sel(split="id").values  # padded with NaN to the population's largest model
    np.testing.assert_allclose(scores.values, stored[: model.n_layers, : model.n_heads], atol=1e-9)
    assert np.isnan(stored[model.n_layers:]).all() and np.isnan(stored[:, model.n_heads:]).all()
    # the type the zoo name promises is the member's maximum score of that type
    t = info["type"]
    assert float(scores.sel(score=t).max()) == pytest.approx(info["max_id_score"][t])
