"""The Coconut-style zoo model: continuous-thought forward against a plain re-implementation, the loss, training
through the project's loop, and the three shipped checkpoints (loadable by name, small, latent beats no-CoT)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from workbench import load_model
from workbench.zoo import latent as zl
from workbench.zoo import registry
from workbench.zoo.tasks import arithmetic as ar
from workbench.zoo.train import TrainConfig, seeded, train

NAMES = ("latent-coconut", "latent-cot", "latent-nocot")


@pytest.fixture(scope="module")
def coconut():
    return load_model("latent-coconut")


def _thoughts_plain(hf, problem, n):
    """Continuous thoughts one problem at a time, no padding, no cache: the full sequence re-run each pass."""
    ids = torch.tensor([zl.question_ids(problem) + [zl.BOT]])
    emb = hf.get_input_embeddings()(ids)
    thoughts = []
    for _ in range(n):
        h = hf(inputs_embeds=emb, output_hidden_states=True).hidden_states[-1][:, -1:]
        thoughts.append(h)
        emb = torch.cat([emb, h], 1)
    return emb, torch.cat(thoughts, 1)


def test_cached_batched_thoughts_equal_plain_loop(coconut):
    hf = zl.hf_module(coconut)
    probs = ar.problems(5, seed=11)  # different lengths -> left padding
    prefix, pmask = zl._left_pad([zl.question_ids(p) + [zl.BOT] for p in probs])
    with torch.no_grad():
        emb, mask, _, _ = zl.run_thoughts(hf, prefix, pmask, 4)
        for i, p in enumerate(probs):
            _, plain = _thoughts_plain(hf, p, 4)
            torch.testing.assert_close(emb[i, -4:], plain[0], atol=2e-5, rtol=1e-4)
    assert mask[:, -4:].all()


def test_coconut_loss_matches_manual_cross_entropy():
    torch.manual_seed(0)
    hf = zl.build_model(n_layer=2, n_embd=32, n_head=2).eval()
    probs = ar.problems(3, seed=4)
    batch = zl.coconut_batch(probs, stage=1)
    loss = zl.coconut_loss(hf, batch)
    total, count = 0.0, 0
    for p in probs:
        emb, _ = _thoughts_plain(hf, p, zl.n_thoughts(1))
        tail = [zl.EOT] + ar.encode_tokens(zl.target_tokens(p, "coconut", 1))
        full = torch.cat([emb, hf.get_input_embeddings()(torch.tensor([tail]))], 1)
        logits = hf(inputs_embeds=full).logits[0]
        start = emb.shape[1]
        logp = torch.log_softmax(logits[start:-1], -1)
        target = torch.tensor(tail[1:])
        total = total - logp[torch.arange(len(target)), target].sum()
        count += len(target)
    torch.testing.assert_close(loss, total / count, atol=1e-5, rtol=1e-5)
    loss.backward()  # gradients reach the question embedding through the thoughts
    assert hf.get_input_embeddings().weight.grad[zl.question_ids(probs[0])].abs().sum() > 0
    # stage 1 removes exactly the first written step
    assert zl.target_tokens(probs[0], "coconut", 1)[:7] == probs[0].trace_tokens()[7:14]


def test_coconut_trains_through_project_loop_and_reloads(tmp_path):
    torch.set_num_threads(1)
    model = seeded(lambda: zl.build_model(n_layer=1, n_embd=16, n_head=2), 0)
    model.config.workbench_latent = zl.latent_settings(4)
    cfg = TrainConfig(steps=4, batch_size=4, lr=1e-3, data_seed=1)
    res = train(model, zl.coconut_loss, zl._sampler(lambda ps: zl.coconut_batch(ps, 2)), cfg, tmp_path,
                ar.build_tokenizer(), progress=False)
    assert np.isfinite(res.losses).all() and len(res.losses) == 4
    loaded = load_model(res.final)
    assert loaded.config.workbench_latent["n_latents"] == 4
    assert zl.answers(loaded, ar.problems(3, seed=2), "coconut").shape == (3,)


def test_training_sampler_never_draws_held_out_problems():
    held = {(p.numbers, p.ops) for p in zl.held_out(1000)}
    sample = zl._sampler(lambda ps: ps)
    rng = np.random.default_rng(0)
    drawn = [p for _ in range(20) for p in sample(rng, 50)]
    assert not {(p.numbers, p.ops) for p in drawn} & held


def test_shipped_checkpoints_are_small_and_marked():
    total = 0
    for name in NAMES:
        assert name in registry.names()
        folder = registry.path(name)
        for f in folder.iterdir():
            assert f.stat().st_size < 5 * 2**20, f
            total += f.stat().st_size
        cfg = json.loads((folder / "config.json").read_text())
        assert ("workbench_latent" in cfg) == (name == "latent-coconut")
    assert total < 15 * 2**20
    settings = json.loads((registry.path("latent-coconut") / "config.json").read_text())["workbench_latent"]
    assert settings["n_latents"] == zl.N_LATENTS and settings["bot_id"] == ar.vocabulary().index("<bot>")


def test_latent_model_beats_no_cot_on_held_out():
    probs = zl.held_out(200)
    gold = np.array([p.answer for p in probs])
    acc = {}
    for name, mode in zip(NAMES, ("coconut", "cot", "nocot")):
        pred = zl.answers(load_model(name), probs, mode)
        acc[mode] = float((pred == gold).mean())
    assert acc["coconut"] > acc["nocot"] + 0.10, acc
    assert acc["cot"] > acc["nocot"], acc


def test_answers_rejects_unknown_mode(coconut):
    with pytest.raises(ValueError, match="mode must be one of"):
        zl.answers(coconut, ar.problems(1, seed=0), "latent")


def test_hf_module_is_plain_torch(coconut):
    assert isinstance(zl.hf_module(coconut), nn.Module)
