"""Tiny random models built from configs plus a local character tokenizer: no hub, no download."""

from __future__ import annotations

import string

import torch
import transformers as T
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, PreTrainedTokenizerFast

SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>", "<mask>"]


def char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per printable character, built with `tokenizers` (WordLevel over single characters)."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS + list(string.printable))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>",
                                   eos_token="<eos>", mask_token="<mask>")


V = len(SPECIALS) + len(string.printable)
_COMMON = dict(vocab_size=V, bos_token_id=2, eos_token_id=3, pad_token_id=0)
_DECODER = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64,
                max_position_embeddings=128, **_COMMON)

CONFIGS = {
    "gpt2": lambda: T.GPT2Config(n_layer=3, n_head=4, n_embd=32, n_positions=128, **_COMMON),
    "gpt_neox": lambda: T.GPTNeoXConfig(**_DECODER),
    "llama": lambda: T.LlamaConfig(num_key_value_heads=2, **_DECODER),
    "qwen2": lambda: T.Qwen2Config(num_key_value_heads=2, **_DECODER),
    "mistral": lambda: T.MistralConfig(num_key_value_heads=2, **_DECODER),
    "gemma": lambda: T.GemmaConfig(num_key_value_heads=1, head_dim=8, **_DECODER),
    "gemma2": lambda: T.Gemma2Config(num_key_value_heads=1, head_dim=8, **_DECODER),
    "bert": lambda: T.BertConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64,
                                 max_position_embeddings=128, vocab_size=V, pad_token_id=0),
}


def tiny_model(kind: str, seed: int = 0):
    """A random-init model of one architecture family, eager attention, eval mode."""
    torch.manual_seed(seed)
    cfg = CONFIGS[kind]()
    cls = AutoModelForMaskedLM if kind == "bert" else AutoModelForCausalLM
    model = cls.from_config(cfg, attn_implementation="eager").eval()
    model.name_or_path = f"tiny-{kind}"
    return model


def word_tokenizer(words) -> PreTrainedTokenizerFast:
    """One token per word with its leading space (" apple"), like a real LM's vocabulary for common words, plus the
    specials; BOS is put before plain text, as Gemma's and Llama's tokenizers do."""
    from tokenizers import Regex, processors

    vocab = {tok: i for i, tok in enumerate(SPECIALS)} | {" " + w: len(SPECIALS) + i for i, w in enumerate(words)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(" ?[^ ]+"), behavior="isolated")
    tk.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>",
                                   eos_token="<eos>", mask_token="<mask>")


def tiny_word_model(kind: str, n_words: int, seed: int = 0, context: int = 2048):
    """A random-init causal LM over SPECIALS + n_words word tokens, eager attention, for the in-context tests."""
    torch.manual_seed(seed)
    common = dict(vocab_size=len(SPECIALS) + n_words, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    decoder = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64,
                   max_position_embeddings=context, **common)
    cfg = {"llama": lambda: T.LlamaConfig(num_key_value_heads=2, **decoder),
           "gemma3": lambda: T.Gemma3TextConfig(num_key_value_heads=1, head_dim=8, sliding_window=64, **decoder),
           "gpt2": lambda: T.GPT2Config(n_layer=2, n_head=4, n_embd=32, n_positions=context, **common)}[kind]()
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()
    model.name_or_path = f"tiny-{kind}-words"
    return model
