"""Steering vectors against independent computations: plain-torch forwards with a forward pre-hook that adds the
vector, greedy decoding written out by hand, log-probabilities summed by hand, and, for frozen attention, HF's own
eager attention through a registered attention function that swaps in the recorded unsteered probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import workbench as wb
from tiny_models import char_tokenizer, tiny_model
from workbench.analyses import steering as S

PROMPTS = ["The cat sat", "a big red ball"]
CONTEXTS = [("The cat sat", "t", "g"), ("a big red", " b", " d"), ("hello wor", "ld", "ds")]


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def tiny(request):
    hf = tiny_model(request.param, seed=4)
    tok = char_tokenizer()
    return hf, tok, wb.load_model(hf, tok)


def _blocks(hf):
    base = getattr(hf, hf.base_model_prefix)
    return base.h if hasattr(base, "h") else base.layers


def _hooked(hf, layer, add):
    """A forward pre-hook on block ``layer`` adding ``add(x)`` to its input (the residual stream at ``layer``)."""
    return _blocks(hf)[layer].register_forward_pre_hook(lambda m, a: (a[0] + add(a[0]),) + tuple(a[1:]))


def test_steering_vector_is_the_difference_of_means(tiny):
    hf, tok, model = tiny
    pos, neg = ["good day", "nice one!"], ["bad day", "awful"]
    v = S.steering_vector(model, pos, neg, layer=1)

    def last(texts):
        outs = []
        for t in texts:
            with torch.no_grad():
                hs = hf(input_ids=torch.tensor(tok(t)["input_ids"])[None], output_hidden_states=True).hidden_states
            outs.append(hs[1][0, -1].numpy())
        return np.mean(outs, 0)

    np.testing.assert_allclose(v.values, last(pos) - last(neg), atol=1e-5)
    assert v.attrs["layer"] == 1 and v.attrs["position"] == "last" and len(v.attrs["positive_hash"]) == 16


@pytest.mark.parametrize("where", ["all", "prompt", "generated"])
def test_steer_equals_greedy_decoding_by_hand(tiny, where):
    hf, tok, model = tiny
    torch.manual_seed(0)
    v = torch.randn(32) * 4
    ds = S.steer(model, PROMPTS, v, layer=1, coefs=[0.0, 2.0], max_new_tokens=5, where=where, progress=False)
    for c in (0.0, 2.0):
        for i, prompt in enumerate(PROMPTS):
            ids = torch.tensor(tok(prompt)["input_ids"])
            n_prompt = len(ids)
            want, logps = [], []
            for _ in range(5):
                def add(x, n=len(ids)):
                    mask = torch.zeros(n)
                    if where in ("prompt", "all"):
                        mask[:n_prompt] = 1
                    if where in ("generated", "all"):
                        mask[n_prompt:] = 1
                    return c * mask[None, :, None] * v
                h = _hooked(hf, 1, add)
                with torch.no_grad():
                    logits = hf(input_ids=ids[None]).logits[0, -1]
                h.remove()
                nxt = int(logits.argmax())
                want.append(nxt)
                logps.append(float(torch.log_softmax(logits, -1)[nxt]))
                ids = torch.cat([ids, torch.tensor([nxt])])
                if nxt == tok.eos_token_id:  # generation ends at the end-of-text token
                    break
            n = len(want)
            got = ds.token_id.sel(coef=c).values[i]
            assert list(got[:n]) == want and (got[n:] == -1).all(), (c, i, where)
            np.testing.assert_allclose(ds.logprob.sel(coef=c).values[i][:n], logps, atol=1e-4)
            touched = ds.touched.sel(coef=c).values[i]
            assert touched[:n].all() if where in ("generated", "all") else not touched.any()
            assert not touched[n:].any()
            assert ds.prompt_touched.values[i][:n_prompt].all() == (where in ("prompt", "all"))
    # at coefficient 0 the steered model is the unsteered one: the fluency guard is the generation's own log-prob
    np.testing.assert_allclose(ds.prompt_fluency.sel(coef=0.0).values,
                               np.nanmean(ds.logprob.sel(coef=0.0).values, axis=1), atol=1e-4)
    assert (ds.prompt_fluency.sel(coef=2.0).values != ds.prompt_fluency.sel(coef=0.0).values).any()
    wb.validate_steering(ds.assign(score=(("baseline", "coef"), np.zeros((3, 2))),
                                   baseline=["steer", "random", "prompt"]))


def test_steering_eval_equals_summed_log_probs(tiny):
    hf, tok, model = tiny
    torch.manual_seed(1)
    v = torch.randn(32) * 3
    ev = S.steering_eval(model, v, 1, CONTEXTS, [-2.0, 0.0, 2.0], random_seeds=2, behaviour_prompt="Be nice. ",
                         progress=False)

    def score(c, vec, prefix=""):
        diffs = []
        for ctx, good, bad in CONTEXTS:
            totals = []
            for comp in (good, bad):
                ids = torch.tensor(tok(prefix + ctx + comp)["input_ids"])
                n = len(tok(prefix + ctx + comp)["input_ids"]) - len(tok(prefix + ctx)["input_ids"])
                h = _hooked(hf, 1, lambda x: c * vec)
                with torch.no_grad():
                    logp = torch.log_softmax(hf(input_ids=ids[None]).logits[0], -1)
                h.remove()
                totals.append(sum(float(logp[t - 1, ids[t]]) for t in range(len(ids) - n, len(ids))))
            diffs.append(totals[0] - totals[1])
        return np.array(diffs)

    for c in (-2.0, 0.0, 2.0):
        np.testing.assert_allclose(ev.per_context.sel(coef=c).values, score(c, v), atol=1e-4)
        np.testing.assert_allclose(float(ev.score.sel(baseline="steer", coef=c)), score(c, v).mean(), atol=1e-4)
    base = score(0.0, v)
    np.testing.assert_allclose(ev.effect.sel(baseline="steer").values,
                               (ev.score.sel(baseline="steer").values - base.mean()) / base.std(ddof=1), atol=1e-4)
    np.testing.assert_allclose(float(ev.score.sel(baseline="prompt", coef=2.0)), score(0.0, v, "Be nice. ").mean(),
                               atol=1e-4)
    g = torch.Generator().manual_seed(0)
    r = torch.randn(v.shape, generator=g)
    r = r / r.norm() * v.norm()
    np.testing.assert_allclose(ev.random_score.sel(coef=2.0).values[0], score(2.0, r).mean(), atol=1e-4)


@pytest.mark.slow
def test_frozen_attention_equals_eager_attention_with_the_recorded_probabilities(smollm2):
    """SmolLM2 steered with a sentiment vector at layer 10 with attention frozen: equal to HF's eager attention run
    through a registered attention function that uses the unsteered run's recorded probabilities (one text at a
    time, no nnsight), while the unfrozen steered run's attention and score really differ."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask
    from transformers.models.llama.modeling_llama import eager_attention_forward, repeat_kv

    model, hf, tok = smollm2, smollm2.envoy._module, smollm2.tokenizer
    layer, coef = 10, 6.0
    v = S.steering_vector(model, ["I loved this film, it was wonderful.", "What a great, happy day."],
                          ["I hated this film, it was awful.", "What a terrible, sad day."], layer=layer)
    contexts = [("I watched the film last night. Overall, it was", " great", " terrible"),
                ("The food at the new place was", " delicious", " disgusting")]
    ev = S.steering_eval(model, v, layer, contexts, [0.0, coef], random_seeds=0, freeze_attention=True,
                         progress=False)
    vec = torch.as_tensor(v.values)
    recorded, used = {}, {}

    def record(module, q, k, value, mask, scaling, dropout=0.0, **kw):
        out, w = eager_attention_forward(module, q, k, value, mask, scaling, dropout, **kw)
        recorded[module.layer_idx] = w.detach()
        return out, w

    def frozen(module, q, k, value, mask, scaling, dropout=0.0, **kw):
        out, w = eager_attention_forward(module, q, k, value, mask, scaling, dropout, **kw)
        used[module.layer_idx] = w.detach()
        if module.layer_idx >= layer:
            w = recorded[module.layer_idx]
            out = torch.matmul(w, repeat_kv(value, module.num_key_value_groups)).transpose(1, 2).contiguous()
        return out, w

    AttentionInterface.register("wb_test_record", record)
    AttentionInterface.register("wb_test_frozen", frozen)
    for name in ("wb_test_record", "wb_test_frozen"):  # the causal mask eager attention expects
        AttentionMaskInterface.register(name, eager_mask)
    diffs, moved = [], []
    try:
        for ctx, good, bad in contexts:
            totals = []
            for comp in (good, bad):
                ids = torch.tensor(tok(ctx + comp)["input_ids"])[None]
                n = ids.shape[1] - len(tok(ctx)["input_ids"])
                hf.set_attn_implementation("wb_test_record")
                with torch.no_grad():
                    hf(input_ids=ids, use_cache=False)
                hf.set_attn_implementation("wb_test_frozen")
                h = _hooked(hf, layer, lambda x: coef * vec)
                with torch.no_grad():
                    logp = torch.log_softmax(hf(input_ids=ids, use_cache=False).logits[0], -1)
                h.remove()
                moved.append(max(float((used[l] - recorded[l]).abs().max()) for l in range(layer, model.n_layers)))
                totals.append(sum(float(logp[t - 1, ids[0, t]]) for t in range(ids.shape[1] - n, ids.shape[1])))
            diffs.append(totals[0] - totals[1])
    finally:
        hf.set_attn_implementation("eager")
    assert max(moved) > 1e-2, "the vector does not move attention: the test could not fail"
    np.testing.assert_allclose(float(ev.frozen_score.sel(coef=coef)), np.mean(diffs), atol=1e-3)
    unfrozen = float(ev.score.sel(baseline="steer", coef=coef))
    assert abs(unfrozen - float(ev.frozen_score.sel(coef=coef))) > 1e-2  # freezing really changes the score
    np.testing.assert_allclose(float(ev.frozen_score.sel(coef=0.0)), float(ev.score.sel(baseline="steer", coef=0.0)),
                               atol=1e-5)
    assert np.isfinite(ev.attrs["frozen_share"])


@pytest.fixture(scope="module")
def llama():
    return wb.load_model(tiny_model("llama", seed=1), char_tokenizer())


@pytest.mark.parametrize("call, match", [
    (lambda m: S.steer(m, PROMPTS, torch.zeros(31), 1, [0, 1]), r"vector must have the model's hidden size \(32,\)"),
    (lambda m: S.steer(m, PROMPTS, torch.zeros(32), 1, []), "coefs is empty"),
    (lambda m: S.steer(m, PROMPTS, torch.zeros(32), 9, [0]), r"layer must be a residual layer in 0\.\.2"),
    (lambda m: S.steer(m, PROMPTS, torch.zeros(32), 1, [0], max_new_tokens=500), "exceeds .* context of 128"),
    (lambda m: S.steer(m, [], torch.zeros(32), 1, [0]), "prompts must be a non-empty list"),
    (lambda m: S.steer(m, PROMPTS, torch.zeros(32), 1, [0], where="middle"), "where must be one of"),
    (lambda m: S.steering_vector(m, [], ["x"], 1), "positive must be a non-empty list"),
    (lambda m: S.steering_eval(m, torch.zeros(32), 1, [("a", "b")], [0]), r"contexts\[0\] must be"),
])
def test_bad_input_gets_a_clear_error(llama, call, match):
    with pytest.raises(S.SteeringError, match=match):
        call(llama)


def test_layer_sweep_equals_the_eval_at_each_layer(llama):
    pos, neg = ["good day", "nice one!"], ["bad day", "awful"]
    sweep = S.layer_sweep(llama, pos, neg, CONTEXTS, coef=2.0, layers=[0, 2], progress=False)
    for layer in (0, 2):
        v = S.steering_vector(llama, pos, neg, layer)
        ev = S.steering_eval(llama, v, layer, CONTEXTS, [0.0, 2.0], random_seeds=0, progress=False)
        np.testing.assert_allclose(float(sweep.layer_effect.sel(layer=layer)),
                                   float(ev.effect.sel(baseline="steer", coef=2.0)), atol=1e-4)


def test_sparsify_keeps_the_top_dimensions_and_ranks_by_attribution(llama):
    """Each sparse vector's share equals steering_eval of that sparse vector; sparsity 0 keeps everything; the
    attribution ranking uses the metric's gradient, checked against plain autograd through a hook."""
    torch.manual_seed(3)
    v = torch.randn(32) * 3
    sp = S.sparsify(llama, v, 1, CONTEXTS, coef=2.0, sparsities=[0.0, 0.5, 0.9], progress=False)
    np.testing.assert_allclose(sp.sparsity_effect.sel(sparsity=0.0).values, 1.0, atol=1e-4)
    full = S.steering_eval(llama, v, 1, CONTEXTS, [0.0, 2.0], random_seeds=0, progress=False)
    change = float(full.score.sel(baseline="steer", coef=2.0) - full.score.sel(baseline="steer", coef=0.0))
    keep = int(round(0.5 * 32))
    sparse = torch.zeros_like(v)
    top = torch.argsort(v.abs(), descending=True)[:keep]
    sparse[top] = v[top]
    ev = S.steering_eval(llama, sparse, 1, CONTEXTS, [0.0, 2.0], random_seeds=0, progress=False)
    share = float(ev.score.sel(baseline="steer", coef=2.0) - full.score.sel(baseline="steer", coef=0.0)) / change
    np.testing.assert_allclose(float(sp.sparsity_effect.sel(ranking="magnitude", sparsity=0.5)), share, atol=1e-4)
    # the gradient of the metric at layer 1, by plain autograd
    hf, tok = llama.envoy._module, llama.tokenizer
    grad = torch.zeros(32)
    for ctx, good, bad in CONTEXTS:
        for comp, sign in ((good, 1.0), (bad, -1.0)):
            ids = torch.tensor(tok(ctx + comp)["input_ids"])[None]
            n = ids.shape[1] - len(tok(ctx)["input_ids"])
            held = {}

            def keep_input(m, a):
                x = a[0].detach().requires_grad_(True)
                held["x"] = x
                return (x,) + tuple(a[1:])
            h = _blocks(hf)[1].register_forward_pre_hook(keep_input)
            logp = torch.log_softmax(hf(input_ids=ids).logits[0], -1)
            h.remove()
            m = sum(logp[t - 1, ids[0, t]] for t in range(ids.shape[1] - n, ids.shape[1]))
            (g,) = torch.autograd.grad(sign * m, [held["x"]])
            grad += g[0].sum(0)
    np.testing.assert_allclose(S._metric_gradient(llama, S._contexts(CONTEXTS), 1, "all").numpy(), grad.numpy(),
                               atol=1e-4)


@pytest.mark.parametrize("kind", ["llama", "gemma2"])
def test_ov_tokens_equal_the_modules_applied_to_the_vector(kind):
    """Each kept head's logits equal the real modules applied to the vector: the input norm's scale, the value
    projection, the head's slice of the output projection (all other heads zeroed), Gemma-2/3's post-attention norm
    scale, the final norm's scale and the LM head; grouped-query layouts included (Llama: 4 query heads on 2
    key/value heads; Gemma-2: 4 on 1). Norm weights are randomised so that every scale matters."""
    hf, tok = tiny_model(kind, seed=5), char_tokenizer()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "norm" in name:
                p.normal_(0.0, 0.5)
    model = wb.load_model(hf, tok)
    torch.manual_seed(4)
    v = torch.randn(32)
    ov = S.ov_tokens(model, v, 1, k=5, top_heads=8)
    assert ov.sizes["ov"] == 4  # block 1's four heads
    gemma = kind == "gemma2"
    for i in range(ov.sizes["ov"]):
        l, h = int(ov.ov_layer[i]), int(ov.ov_head[i])
        block = hf.model.layers[l]
        with torch.no_grad():
            scale = block.input_layernorm.weight + (1 if gemma else 0)
            values = block.self_attn.v_proj(v * scale)
            n_kv = values.shape[-1] // (block.self_attn.o_proj.weight.shape[1] // 4)
            d = block.self_attn.o_proj.weight.shape[1] // 4
            per_head = values.view(n_kv, d).repeat_interleave(4 // n_kv, 0)
            mask = torch.zeros(4, d)
            mask[h] = 1
            out = block.self_attn.o_proj((per_head * mask).reshape(-1))
            if gemma:
                out = out * (block.post_attention_layernorm.weight + 1)
            logits = hf.lm_head(out * (hf.model.norm.weight + (1 if gemma else 0)))
        top = logits.topk(5)
        np.testing.assert_allclose(ov.ov_weight.values[i], top.values.numpy(), atol=1e-4)
        assert list(ov.ov_token.values[i]) == [tok.decode([j]) for j in top.indices.tolist()]
