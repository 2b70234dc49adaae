"""The zoo's training loop: seeds kept apart, safetensors checkpoints that load_model reads, exact resume."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
import transformers as T

from tiny_models import V, char_tokenizer
from workbench import attention, load_model
from workbench.zoo.train import TrainConfig, seeded, train


def build():
    cfg = T.GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=16, vocab_size=V)
    return T.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")


def sample(rng: np.random.Generator, n: int) -> torch.Tensor:
    """Copy task: a random prefix of letters, repeated."""
    half = torch.from_numpy(rng.integers(10, 36, size=(n, 4)))
    return torch.cat([half, half], 1)


def lm_loss(model, ids):
    return model(input_ids=ids, labels=ids).loss


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_seeds_are_independent():
    a, b, c = seeded(build, 0), seeded(build, 0), seeded(build, 1)
    assert torch.equal(weights(a), weights(b)) and not torch.equal(weights(a), weights(c))
    assert torch.equal(sample(np.random.default_rng(5), 3), sample(np.random.default_rng(5), 3))


def test_training_lowers_loss_and_checkpoints_load(tmp_path):
    tok = char_tokenizer()
    cfg = TrainConfig(steps=60, batch_size=32, lr=3e-3, checkpoint_steps=(0, 30), data_seed=1)
    result = train(seeded(build, 0), lm_loss, sample, cfg, tmp_path / "run", tokenizer=tok, progress=False)
    assert sorted(result.checkpoints) == [0, 30, 60]
    assert result.losses[-10:].mean() < result.losses[:10].mean() - 0.3
    for step, folder in result.checkpoints.items():
        assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    model = load_model(result.final)          # a checkpoint is a model like any other
    assert attention(model, "abcdabcd").sizes["layer"] == 1
    assert not (tmp_path / "run" / "resume").exists()


def test_interrupted_run_resumes_to_identical_weights(tmp_path):
    cfg = TrainConfig(steps=40, batch_size=16, lr=3e-3, data_seed=7, resume_every=1000)
    straight = train(seeded(build, 3), lm_loss, sample, cfg, tmp_path / "a", progress=False)

    def interrupt_at_17(step, loss):
        if step == 17:
            os.kill(os.getpid(), signal.SIGINT)    # a real Ctrl-C, delivered mid-run

    first = seeded(build, 3)
    with pytest.raises(KeyboardInterrupt, match="after step 17"):
        train(first, lm_loss, sample, cfg, tmp_path / "b", progress=False, on_step=interrupt_at_17)
    assert (tmp_path / "b" / "resume" / "state.json").is_file()
    resumed = train(seeded(build, 99), lm_loss, sample, cfg, tmp_path / "b", progress=False)  # fresh init: overwritten
    np.testing.assert_array_equal(resumed.losses, straight.losses)
    a = T.AutoModelForCausalLM.from_pretrained(straight.final)
    b = T.AutoModelForCausalLM.from_pretrained(resumed.final)
    assert torch.equal(weights(a), weights(b))


def test_bad_config():
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match=r"checkpoint_steps must lie in 0..steps=10, got \[11\]"):
        TrainConfig(steps=10, checkpoint_steps=(11,))
