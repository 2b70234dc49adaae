"""residuals / attention / logit_lens against plain transformers on the same model, every architecture family."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import workbench.analyses.lens as lens_module
from tiny_models import CONFIGS, tiny_model
from workbench import attention, capture, load_model, logit_lens, residuals
from workbench.data import validate_attention, validate_logit_lens, validate_residuals

TEXT = "Hello world, hello"
TEXTS = ["Hello world, hello", "Hi", "Good day"]
ATOL = 1e-5


def reference(hf, tok, text):
    """Plain transformers: hidden states, attentions and a full-vocabulary logit lens, no nnsight."""
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        out = hf(**enc, output_hidden_states=True, output_attentions=True)
    hs = [h[0] for h in out.hidden_states]
    base = getattr(hf, hf.base_model_prefix)
    if hf.config.model_type == "bert":
        final_resid = hs[-1]
        head = lambda h: hf.cls.predictions(h)                                       # noqa: E731
    else:
        # HF's last hidden state already has the final norm: recover the raw residual from the last block
        final_resid = None
        norm = {"gpt2": "ln_f", "gpt_neox": "final_layer_norm"}.get(hf.config.model_type, "norm")
        head = lambda h: hf.lm_head(getattr(base, norm)(h))                           # noqa: E731
    cap = getattr(hf.config, "final_logit_softcapping", None)
    return enc, out, hs, final_resid, head, cap


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_single_text_matches_plain_transformers(kind, tok):
    hf = tiny_model(kind)
    model = load_model(hf, tokenizer=tok)
    enc, out, hs, final_resid, head, cap = reference(hf, tok, TEXT)
    n = hf.config.num_hidden_layers

    r = validate_residuals(residuals(model, TEXT))
    assert r.sizes == {"layer": n + 1, "position": enc.input_ids.shape[1], "hidden": hf.config.hidden_size}
    np.testing.assert_allclose(r.values[:n], torch.stack(hs[:n]).numpy(), atol=ATOL)
    if final_resid is not None:
        np.testing.assert_allclose(r.values[n], final_resid.numpy(), atol=ATOL)
    assert list(r.token.values) == [tok.decode([i]) for i in enc.input_ids[0]]

    a = validate_attention(attention(model, TEXT))
    np.testing.assert_allclose(a.values, torch.stack([x[0] for x in out.attentions]).numpy(), atol=ATOL)
    assert list(a.query_token.values) == list(r.token.values) == list(a.key_token.values)
    np.testing.assert_allclose(a.sum("key").values, 1.0, atol=1e-5)

    k = 7
    ds = validate_logit_lens(logit_lens(model, TEXT, k=k))
    with torch.no_grad():
        # independent full-vocabulary lens on the residuals from plain transformers
        resid = [h for h in hs[:n]] + [torch.from_numpy(r.values[n])]
        logits = torch.stack([head(h) for h in resid]).float()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        logp = logits.log_softmax(-1)
    top = logp.topk(k, dim=-1)
    np.testing.assert_allclose(ds.prob.values, top.values.exp().numpy(), atol=ATOL)
    np.testing.assert_array_equal(ds.token_id.values, top.indices.numpy())
    np.testing.assert_allclose(ds.entropy.values, -(logp.exp() * logp).sum(-1).numpy(), atol=1e-4)
    # the last lens layer is the model's own prediction
    np.testing.assert_array_equal(ds.token_id.values[-1, :, 0], out.logits[0].argmax(-1).numpy())
    assert ds.token.values[0, 0, 0] == tok.decode([int(ds.token_id.values[0, 0, 0])])
    assert ds.attrs["model"] == f"tiny-{kind}" and ds.attrs["task"] == "logit_lens"


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_batches_match_single_runs_and_mask_padding(kind, tok):
    hf = tiny_model(kind)
    model = load_model(hf, tokenizer=tok)
    r = residuals(model, TEXTS)
    a = attention(model, TEXTS)
    ds = logit_lens(model, TEXTS, k=3)
    assert r.dims[0] == a.dims[0] == ds.token.dims[0] == "prompt"
    for i, text in enumerate(TEXTS):
        n_tok = len(text)                                   # one character per token
        single_r = residuals(model, text)
        single_a = attention(model, text)
        single_l = logit_lens(model, text, k=3)
        np.testing.assert_allclose(r.values[i, :, :n_tok], single_r.values, atol=ATOL)
        np.testing.assert_allclose(a.values[i, :, :, :n_tok, :n_tok], single_a.values, atol=ATOL)
        np.testing.assert_allclose(ds.prob.values[i, :, :n_tok], single_l.prob.values, atol=ATOL)
        np.testing.assert_array_equal(ds.token_id.values[i, :, :n_tok], single_l.token_id.values)
        # padding is masked, never a token
        assert np.isnan(r.values[i, :, n_tok:]).all() and np.isnan(a.values[i, :, :, n_tok:]).all()
        assert np.isnan(a.values[i, :, :, :, n_tok:]).all()
        assert (ds.token_id.values[i, :, n_tok:] == -1).all() and (ds.token.values[i, :, n_tok:] == "").all()
        assert list(r.token.values[i]) == list(text) + [""] * (r.sizes["position"] - n_tok)
        assert "<pad>" not in set(r.token.values[i])


def test_lens_chunking_gives_identical_results(tok, monkeypatch):
    model = load_model(tiny_model("llama"), tokenizer=tok)
    whole = logit_lens(model, TEXTS, k=4)
    monkeypatch.setattr(lens_module, "LOGITS_BUDGET", 2 * 3 * 105)   # two positions per chunk
    chunked = logit_lens(model, TEXTS, k=4)
    np.testing.assert_array_equal(whole.token_id.values, chunked.token_id.values)
    np.testing.assert_allclose(whole.prob.values, chunked.prob.values, atol=1e-6)
    np.testing.assert_allclose(whole.entropy.values, chunked.entropy.values, atol=1e-5)


@pytest.mark.slow
def test_smollm2_matches_transformers_and_says_paris(smollm2):
    prompt = "The capital of France is"
    ds = logit_lens(smollm2, prompt, k=10)
    assert ds.token.isel(layer=-1, position=-1, rank=0).item() == " Paris"
    hf = smollm2.envoy._module
    enc = smollm2.tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = hf(**enc, output_hidden_states=True, output_attentions=True)
    n = hf.config.num_hidden_layers
    r = residuals(smollm2, prompt)
    a = attention(smollm2, prompt)
    np.testing.assert_allclose(r.values[:n], torch.stack([h[0] for h in out.hidden_states[:n]]).numpy(), atol=ATOL)
    np.testing.assert_allclose(a.values, torch.stack([x[0] for x in out.attentions]).numpy(), atol=ATOL)
    probs = out.logits[0].softmax(-1)
    np.testing.assert_allclose(ds.prob.values[-1, :, 0], probs.max(-1).values.numpy(), atol=ATOL)
    with torch.no_grad():   # a middle layer, independently: final norm + LM head on HF's hidden state
        mid = hf.lm_head(hf.model.norm(out.hidden_states[15][0])).softmax(-1).topk(10)
    np.testing.assert_allclose(ds.prob.values[15], mid.values.numpy(), atol=ATOL)
    np.testing.assert_array_equal(ds.token_id.values[15], mid.indices.numpy())
    assert a.sizes == {"layer": 30, "head": 9, "query": 5, "key": 5}


def test_capture_gives_both_from_one_pass(tok):
    model = load_model(tiny_model("gpt2"), tokenizer=tok)
    both = capture(model, TEXTS)
    np.testing.assert_array_equal(both["residuals"].values, residuals(model, TEXTS).values)
    np.testing.assert_array_equal(both["attention"].values, attention(model, TEXTS).values)
    with pytest.raises(ValueError, match="residuals' and/or 'attention', got \\['mlp'\\]"):
        capture(model, "abc", what=["mlp"])
