"""Architecture adapters: where each model family keeps its blocks, attention, final norm and unembedding.

Analyses ask an adapter for "block 3" or "block 3's attention" and never spell a module path, so one analysis runs on
GPT-2, Pythia, Llama/SmolLM/Qwen2/Mistral, Gemma and BERT alike. Paths are relative to the HuggingFace *base model*
(``model.base_model_prefix``: ``transformer``, ``model``, ``gpt_neox``, ``bert``) except the unembedding, which lives
on the task head. A new family is one :func:`register_adapter` call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Adapter:
    """Module paths of one architecture family.

    blocks:      the list of transformer blocks, relative to the base model.
    attention:   the attention module inside a block whose output is ``(attn_output, attn_weights)``.
    final_norm:  the norm applied before the unembedding, relative to the base model (None: post-LN encoders).
    unembed:     the module mapping a residual to vocabulary logits, relative to the whole model (None: no LM head).
    causal:      decoder-only (left padding, causal mask) or encoder (right padding, bidirectional).
    logit_softcap_attr: config attribute of a final tanh soft-cap on logits (Gemma 2), applied by the lens.
    attn_out:    the attention's output projection inside a block: its input holds every head's output side by side
                 (what head patching edits, grouped-query models included), its output is the attention's output.
    mlp:         the MLP inside a block, whose output is added to the residual stream (None: no single MLP module).
    """

    family: str
    blocks: str
    attention: str
    final_norm: str | None
    unembed: str | None
    causal: bool = True
    logit_softcap_attr: str | None = None
    model_types: tuple[str, ...] = field(default_factory=tuple)
    attn_out: str | None = None
    mlp: str | None = None


_REGISTRY: dict[str, Adapter] = {}


def register_adapter(adapter: Adapter, model_types: Iterable[str] | None = None) -> Adapter:
    """Make an architecture known by its HuggingFace ``config.model_type`` (e.g. ``"gpt2"``, ``"llama"``).

    >>> register_adapter(Adapter("my-gpt", blocks="h", attention="attn", final_norm="ln_f", unembed="lm_head"),
    ...                  model_types=["my_gpt"]).family
    'my-gpt'
    """
    types = tuple(model_types if model_types is not None else adapter.model_types)
    if not types:
        raise ValueError("register_adapter needs at least one config.model_type in model_types.")
    for t in types:
        _REGISTRY[t] = adapter
    return adapter


def known_model_types() -> list[str]:
    return sorted(_REGISTRY)


class UnknownArchitectureError(ValueError):
    """The model's architecture has no adapter; the message says how to register one."""


def adapter_for(model_type: str | None, class_name: str = "") -> Adapter:
    """The adapter for a ``config.model_type``, or an error that says how to add one."""
    if model_type in _REGISTRY:
        return _REGISTRY[model_type]
    raise UnknownArchitectureError(
        f"no adapter for architecture model_type={model_type!r} ({class_name or 'unknown class'}); known: "
        f"{', '.join(known_model_types())}. Register one with workbench.backend.register_adapter("
        "Adapter(family=..., blocks='path.to.blocks', attention='attn', final_norm='path.to.norm', "
        f"unembed='lm_head'), model_types=[{model_type!r}])."
    )


def resolve(root: Any, path: str) -> Any:
    """Follow a dotted attribute path (``"encoder.layer"``) from ``root``; ``"a|b"`` tries ``a`` then ``b``."""
    errors = []
    for alternative in path.split("|"):
        obj = root
        try:
            for part in alternative.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError as e:
            errors.append(str(e))
    raise AttributeError(f"none of the module paths {path!r} exist: {'; '.join(errors)}")


register_adapter(Adapter("gpt2", blocks="h", attention="attn", final_norm="ln_f", unembed="lm_head",
                         attn_out="attn.c_proj", mlp="mlp"), ["gpt2"])
register_adapter(
    Adapter("gpt-neox", blocks="layers", attention="attention", final_norm="final_layer_norm", unembed="lm_head|embed_out",
            attn_out="attention.dense", mlp="mlp"),
    ["gpt_neox"],
)
register_adapter(
    Adapter("llama", blocks="layers", attention="self_attn", final_norm="norm", unembed="lm_head",
            attn_out="self_attn.o_proj", mlp="mlp"),
    ["llama", "qwen2", "qwen3", "mistral", "smollm3", "olmo", "olmo2"],
)
register_adapter(
    Adapter("gemma", blocks="layers", attention="self_attn", final_norm="norm", unembed="lm_head",
            logit_softcap_attr="final_logit_softcapping", attn_out="self_attn.o_proj", mlp="mlp"),
    ["gemma", "gemma2", "gemma3_text"],
)
register_adapter(
    Adapter("bert", blocks="encoder.layer", attention="attention.self", final_norm=None,
            unembed="cls.predictions|lm_head", causal=False, attn_out="attention.output.dense"),
    ["bert", "roberta"],
)
