"""Head ablations through nnsight: own pattern = no change; uniform = a hand-written GPT-2 forward with the pattern
replaced; ablation_effects as xarray."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import workbench
from workbench.analyses import attention as A
from workbench.zoo import dyck
from workbench.zoo.tasks import dyck as task

STRINGS = ["()", ")(()", "(()))(", "())(()((", "((()))()))"]  # distinct lengths: one string per length


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-layer, 2-head classifier whose attention is sharpened so patterns are far from uniform."""
    hf = dyck.build_model(2, 2, init_seed=11)
    with torch.no_grad():
        for blk in hf.transformer.h:
            blk.attn.c_attn.weight[:, :128] *= 25.0  # q and k columns
    folder = tmp_path_factory.mktemp("dyck-tiny")
    hf.save_pretrained(folder)
    dyck.make_tokenizer().save_pretrained(folder)
    return hf.eval(), workbench.load_model(folder)


def _gelu(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _ln(x, ln):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias


def _hand_forward(hf, s, replace):
    """GPT-2 written out by hand for one string; ``replace[(layer, head)]`` is an (S, S) pattern used instead of
    softmax(QK^T)."""
    ids, _ = task.encode([s], dyck.VOCAB, dyck.PAD_ID)
    ids = torch.from_numpy(ids[0])
    S = len(ids)
    tr = hf.transformer
    x = tr.wte.weight[ids] + tr.wpe.weight[:S]
    causal = torch.tril(torch.ones(S, S, dtype=torch.bool))
    for l, blk in enumerate(tr.h):
        H = blk.attn.num_heads
        dh = x.shape[-1] // H
        qkv = _ln(x, blk.ln_1) @ blk.attn.c_attn.weight + blk.attn.c_attn.bias
        q, k, v = qkv.split(x.shape[-1], dim=-1)
        heads = []
        for h in range(H):
            sl = slice(h * dh, (h + 1) * dh)
            if (l, h) in replace:
                p = replace[(l, h)]
            else:
                sc = (q[:, sl] @ k[:, sl].T) / math.sqrt(dh)
                p = torch.softmax(sc.masked_fill(~causal, -torch.inf), -1)
            heads.append(p @ v[:, sl])
        x = x + torch.cat(heads, -1) @ blk.attn.c_proj.weight + blk.attn.c_proj.bias
        m = _ln(x, blk.ln_2) @ blk.mlp.c_fc.weight + blk.mlp.c_fc.bias
        x = x + _gelu(m) @ blk.mlp.c_proj.weight + blk.mlp.c_proj.bias
    return (_ln(x, tr.ln_f) @ hf.lm_head.weight.T)[-1, :2]


def test_hand_forward_matches_hf(tiny):
    hf, _ = tiny
    for s in STRINGS:
        ids, _ = task.encode([s], dyck.VOCAB, dyck.PAD_ID)
        with torch.no_grad():
            ref = hf(input_ids=torch.from_numpy(ids)).logits[0, -1, :2]
            got = _hand_forward(hf, s, {})
        torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)


def test_no_ablation_equals_plain_forward(tiny):
    hf, model = tiny
    clean = A.ablate(model, STRINGS, [], "uniform")
    with torch.no_grad():
        ref = np.stack([_hand_forward(hf, s, {}).numpy() for s in STRINGS])
    np.testing.assert_allclose(clean, ref, atol=1e-4)


def test_own_pattern_changes_nothing(tiny):
    _, model = tiny
    clean = A.ablate(model, STRINGS, [], "uniform")
    every = [(l, h) for l in range(2) for h in range(2)]
    # one string per length, so the dataset-mean pattern of each length IS that string's own pattern
    own = A.ablate(model, STRINGS, every, "mean")
    np.testing.assert_allclose(own, clean, atol=1e-5)
    means = A.mean_patterns(model, STRINGS)
    np.testing.assert_allclose(A.ablate(model, STRINGS, [(1, 0)], "given", means), clean, atol=1e-5)
    # and the test can fail: the uniform pattern does change the logits of these sharpened heads
    assert np.abs(A.ablate(model, STRINGS, every, "uniform") - clean).max() > 1e-2


@pytest.mark.parametrize("heads", [[(0, 1)], [(1, 0)], [(0, 0), (1, 1)], [(0, 0), (0, 1), (1, 0), (1, 1)]])
def test_uniform_ablation_equals_hand_written_forward(tiny, heads):
    hf, model = tiny
    got = A.ablate(model, STRINGS, heads, "uniform")  # a left-padded batch of mixed lengths
    ref = []
    for s in STRINGS:
        S = len(s) + 2
        uniform = torch.tril(torch.ones(S, S)) / torch.arange(1, S + 1, dtype=torch.float32)[:, None]
        with torch.no_grad():
            ref.append(_hand_forward(hf, s, {lh: uniform for lh in heads}).numpy())
    np.testing.assert_allclose(got, np.stack(ref), atol=1e-4)


def test_mean_ablation_equals_hand_written_forward_with_mean_pattern(tiny):
    hf, model = tiny
    strings = ["(())", ")()(", "))((", "()()", "(()))("]  # four of length 4 share a mean, one alone
    means = A.mean_patterns(model, strings)
    # independent mean: HF's own attentions, averaged by hand over the strings of length 4
    ids, _ = task.encode(strings[:4], dyck.VOCAB, dyck.PAD_ID)
    with torch.no_grad():
        att = hf(input_ids=torch.from_numpy(ids), output_attentions=True).attentions
    np.testing.assert_allclose(means[4][1, 0], att[1][:, 0].mean(0).numpy(), atol=1e-6)
    got = A.ablate(model, strings, [(1, 0)], "mean", means)
    with torch.no_grad():
        ref = np.stack([_hand_forward(hf, s, {(1, 0): torch.as_tensor(means[len(s)][1, 0], dtype=torch.float32)}).numpy()
                        for s in strings])
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_ablation_effects_is_xarray_and_consistent(tiny):
    _, model = tiny
    data = task.ood_set(0, 30)
    eff = A.ablation_effects(model, data, kinds=("mean", "uniform"))
    assert eff.dims == ("layer", "head", "kind") and eff.shape == (2, 2, 2)
    clean = eff.attrs["clean_accuracy"]
    acc = float((A.ablate(model, data, [(0, 1)], "uniform").argmax(-1) == data.labels).mean())
    assert eff.sel(layer=0, head=1, kind="uniform").item() == pytest.approx(acc - clean)
    assert np.all(np.abs(eff.values) <= 1)


def test_bad_ablation_input(tiny):
    _, model = tiny
    with pytest.raises(ValueError, match="kind must be"):
        A.ablate(model, STRINGS, [(0, 0)], "zero")
    with pytest.raises(ValueError, match=r"outside 2 layers x 2 heads"):
        A.ablate(model, STRINGS, [(2, 0)], "uniform")
    with pytest.raises(ValueError, match="no pattern for string length"):
        A.ablate(model, ["()()()"], [(0, 0)], "given", A.mean_patterns(model, ["()"]))
    with pytest.raises(task.DyckInputError, match="'a' at position 1"):
        A.ablate(model, ["(a"], [(0, 0)], "uniform")
