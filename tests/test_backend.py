"""load_model and tokenization: every bad input gets a clear error naming what came and what was expected."""

from __future__ import annotations

import pytest
import torch
import transformers as T

from tiny_models import tiny_model
from workbench import attention, load_model, logit_lens, residuals
from workbench.backend import (Adapter, InputError, ModelLoadError, UnknownArchitectureError, known_model_types,
                               register_adapter)


def test_unknown_name_while_offline():
    with pytest.raises(ModelLoadError) as e:
        load_model("gpt2-does-not-exist")
    msg = str(e.value)
    assert "'gpt2-does-not-exist'" in msg and "offline" in msg and "smollm2-135m" in msg


def test_path_that_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="has no config.json"):
        load_model(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(tmp_path / "weights.bin")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "nope" / "model"))


def test_module_needs_tokenizer_and_a_known_architecture(tok):
    with pytest.raises(ModelLoadError, match="pass its tokenizer"):
        load_model(tiny_model("gpt2"))
    with pytest.raises(ModelLoadError, match="got int"):
        load_model(3)
    cfg = T.GPTJConfig(n_layer=1, n_head=2, n_embd=16, vocab_size=105, n_positions=32, rotary_dim=4)
    gptj = T.AutoModelForCausalLM.from_config(cfg)
    with pytest.raises(UnknownArchitectureError) as e:
        load_model(gptj, tokenizer=tok)
    assert "'gptj'" in str(e.value) and "register_adapter" in str(e.value)


def test_registering_an_adapter_makes_a_new_family_work(tok):
    """GPT-J is not built in; one register_adapter call is all it takes."""
    cfg = T.GPTJConfig(n_layer=2, n_head=2, n_embd=16, vocab_size=105, n_positions=32, rotary_dim=4)
    torch.manual_seed(0)
    gptj = T.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()
    register_adapter(Adapter("gpt-j", blocks="h", attention="attn", final_norm="ln_f", unembed="lm_head"),
                     model_types=["gptj"])
    try:
        model = load_model(gptj, tokenizer=tok)
        enc = tok("abc", return_tensors="pt")
        with torch.no_grad():
            out = gptj(**enc, output_attentions=True)
        a = attention(model, "abc")
        assert torch.allclose(torch.from_numpy(a.values), torch.stack([x[0] for x in out.attentions]), atol=1e-5)
    finally:
        from workbench.backend import adapters
        adapters._REGISTRY.pop("gptj")
    assert "gptj" not in known_model_types()


@pytest.mark.parametrize("text,needle", [
    ("", "text is empty"),
    ("   ", "text is empty"),
    ([], "empty list"),
    (["ok", ""], "text[1] is empty"),
    (["ok", 3], "text[1] must be a string, got int"),
    (42, "must be a string or a list of strings, got int"),
])
def test_bad_text(tok, text, needle):
    model = load_model(tiny_model("gpt2"), tokenizer=tok)
    with pytest.raises(InputError) as e:
        residuals(model, text)
    assert needle in str(e.value)


def test_text_longer_than_context(tok):
    model = load_model(tiny_model("llama"), tokenizer=tok)
    with pytest.raises(InputError, match="is 200 tokens long, longer than .* context of 128 tokens"):
        attention(model, "x" * 200)


def test_bad_k(tok):
    model = load_model(tiny_model("gpt2"), tokenizer=tok)
    with pytest.raises(InputError, match="larger than .* vocabulary of 105"):
        logit_lens(model, "abc", k=500)
    with pytest.raises(InputError, match="positive integer, got 0"):
        logit_lens(model, "abc", k=0)


def test_encoder_without_lm_head_has_no_lens(tok):
    bert = T.BertModel(T.BertConfig(num_hidden_layers=1, num_attention_heads=2, hidden_size=16, intermediate_size=32,
                                    vocab_size=105), add_pooling_layer=False).eval()
    model = load_model(bert, tokenizer=tok)
    assert residuals(model, "abc").sizes["layer"] == 2
    with pytest.raises(AttributeError, match="no LM head"):
        logit_lens(model, "abc")


def test_local_directory_and_host_without_remote(tok, tmp_path):
    hf = tiny_model("gpt2")
    hf.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model = load_model(tmp_path)
    assert model.n_layers == 3 and model.n_heads == 4 and "local" in repr(model)
    with torch.no_grad():
        expected = hf(**tok("hey", return_tensors="pt")).logits[0].argmax(-1)
    assert (logit_lens(model, "hey", k=1).token_id.values[-1, :, 0] == expected.numpy()).all()
    with pytest.raises(ModelLoadError, match="only used with remote=True"):
        load_model(tmp_path, host="http://127.0.0.1:1")


def test_zoo_name_resolves_to_its_folder(tok, tmp_path, monkeypatch):
    """A zoo model is a HuggingFace folder under data/zoo (or $WORKBENCH_ZOO), loaded by name."""
    hf = tiny_model("llama", seed=3)
    hf.save_pretrained(tmp_path / "tiny-llama")
    tok.save_pretrained(tmp_path / "tiny-llama")
    (tmp_path / "not-a-model").mkdir()
    monkeypatch.setenv("WORKBENCH_ZOO", str(tmp_path))
    from workbench.zoo import registry

    assert registry.names() == ["tiny-llama"]
    model = load_model("tiny-llama")
    assert model.name == "zoo:tiny-llama"
    with torch.no_grad():
        out = hf(**tok("zoo", return_tensors="pt"), output_attentions=True)
    a = attention(model, "zoo")
    assert torch.allclose(torch.from_numpy(a.values), torch.stack([x[0] for x in out.attentions]), atol=1e-5)
    assert a.attrs["model"] == "zoo:tiny-llama"
