"""The shipped Dyck population (data/dyck/population.nc) and its zoo representatives: the file is a valid population
of at least 60 trained models, and what it says about a representative model is recomputed from that model's shipped
checkpoint (accuracy on the shared evaluation sets, head scores, one ablation)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from transformers import GPT2LMHeadModel

import workbench as wb
from workbench.analyses import attention as A
from workbench.data import validate_population
from workbench.zoo import dyck
from workbench.studies import dyck as P
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


REPRESENTATIVES = ["dyck-violation-detecting", "dyck-nonnegative", "dyck-sign-matching", "dyck-hierarchical"]


@pytest.mark.parametrize("name", REPRESENTATIVES)
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


def test_representatives_are_distinct_models_chosen_by_the_documented_rule(pop):
    """No two zoo folders hold the same weights (sha256 of model.safetensors), each folder is
    the member representatives() picks for its type, and that member's best head of the type is the population's
    highest score of that type."""
    digests = {}
    for name in REPRESENTATIVES:
        folder = zoo_dir() / name
        digests[name] = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        assert wb.load_model(name).n_layers >= 1  # every name still loads
    assert len(set(digests.values())) == len(REPRESENTATIVES), digests
    chosen = P.representatives(pop)
    best = pop.head_score.sel(split="id").max(("layer", "head"))
    for name in REPRESENTATIVES:
        info = json.loads((zoo_dir() / name / "dyck.json").read_text())
        assert name == "dyck-" + info["type"].replace("_", "-") and chosen[info["type"]] == info["member"]
        top = float(best.sel(score=info["type"]).max())
        assert float(best.sel(model=info["member"], score=info["type"])) == top
