"""Model access. The only package that imports nnsight."""

from workbench.backend.adapters import Adapter, UnknownArchitectureError, known_model_types, register_adapter
from workbench.backend.model import Batch, InputError, Model, ModelLoadError, load_model, random_weights

__all__ = ["load_model", "random_weights", "Model", "Batch", "Adapter", "register_adapter", "known_model_types",
           "ModelLoadError", "InputError", "UnknownArchitectureError"]
