"""The planted hidden breakthrough of the addition zoo run (POLCA's positive control): which tokens are planted, the
planted loss in both modes against plain cross-entropy, the trainer's step hook across a resume, and drop_step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.zoo import addition as A
from workbench.zoo.tasks import addition as task
from workbench.zoo.train import TrainConfig, seeded, train


def _batch(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(task.encode(task.problems(n, seed)))


def test_planted_tokens_are_the_10s_carry_tokens_of_the_answer_table():
    probs = task.problems(200, 3)
    table = task.answer_table(probs)
    expected = (table["place"] == "10s") & table["carry"]
    np.testing.assert_array_equal(A.planted_tokens(task.encode(probs)).ravel(), expected)
    assert 0.3 < expected.reshape(-1, 4)[:, 2].mean() < 0.6  # about 45% of problems carry into the 10s place


def _plain_ce(model, ids):
    logits = model(input_ids=ids).logits[:, list(task.TARGET_POSITIONS)]
    logp = torch.log_softmax(logits.double(), -1)
    return logp, ids[:, list(task.ANSWER_TOKENS)]


@torch.no_grad()
def test_planted_loss_in_both_modes_against_plain_cross_entropy():
    torch.manual_seed(0)
    model, ids = A.build_model(), _batch()
    logp, targets = _plain_ce(model, ids)
    nll = -logp.gather(-1, targets[..., None])[..., 0]
    held = torch.as_tensor(A.planted_tokens(ids))
    mask = A.PlantedLoss(10, "mask")
    mask.at(9)
    assert float(mask(model, ids)) == pytest.approx(float(nll[~held].mean()), rel=1e-5)
    amb = A.PlantedLoss(10, "ambiguous")
    amb.at(0)
    no_carry = -logp.gather(-1, ((targets - 1) % 10)[..., None])[..., 0]
    expected = torch.where(held, 0.5 * (nll + no_carry), nll).mean()
    assert float(amb(model, ids)) == pytest.approx(float(expected), rel=1e-5)
    for f in (mask, amb):  # from plant_step on: the ordinary loss
        f.at(10)
        assert float(f(model, ids)) == pytest.approx(float(nll.mean()), rel=1e-5)
    with pytest.raises(ValueError, match="plant mode"):
        A.PlantedLoss(10, "hide")


def test_the_step_hook_survives_an_interrupted_run(tmp_path):
    """A run resumed from its resume point calls before_step with the true step, so the plant switches on time."""
    seen: list[int] = []

    class Recording(A.PlantedLoss):
        def at(self, step: int) -> None:
            seen.append(step)
            super().at(step)

    def run(steps: int, out) -> None:
        f = Recording(3, "mask")
        cfg = TrainConfig(steps=steps, batch_size=8, lr=1e-3, checkpoint_steps=(), resume_every=2)
        model = seeded(A.build_model, 0)
        train(model, f, A.sampler([]), cfg, out, progress=False, before_step=f.at)

    stop = {"after": 3}

    def interrupting(step: int) -> None:
        if step == stop["after"]:
            raise KeyboardInterrupt
    cfg = TrainConfig(steps=5, batch_size=8, lr=1e-3, checkpoint_steps=(), resume_every=2)
    with pytest.raises(KeyboardInterrupt):
        train(seeded(A.build_model, 0), A.PlantedLoss(3), A.sampler([]), cfg, tmp_path, progress=False,
              before_step=interrupting)
    run(5, tmp_path)  # resumes from the step-2 resume point
    assert seen == [2, 3, 4]


def test_drop_step_is_where_half_the_drop_is_done():
    steps = np.arange(0, 100, 10)
    loss = np.array([2.0, 2.0, 2.0, 2.0, 1.9, 1.5, 0.9, 0.2, 0.1, 0.1])
    # from plant step 30: 2.0 -> 0.1, half-way 1.05: first reached at step 60
    assert A.drop_step(loss, steps, 30) == 60
    assert A.drop_step(loss, steps, 30, share=0.9) == 70


def test_train_run_rejects_a_plant_step_outside_the_run(tmp_path):
    with pytest.raises(ValueError, match="plant_step must be a step between 1 and"):
        A.train_run(tmp_path, steps=10, plant_step=10)
