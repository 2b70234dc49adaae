"""Interpretability workbench: trace a model with nnsight, get labelled xarray, explore it in JupyterLab widgets.

The public surface is small: load a model, extract what it computes as xarray, save/load it, draw it.
Heavy imports (torch, nnsight, anywidget) happen on first use, so ``import workbench`` is fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from workbench.data import (DataModelError, load, save, validate_attention, validate_incontext, validate_logit_lens,
                            validate_patching, validate_residuals, validate_steering)

_LAZY = {
    "load_model": "workbench.backend",
    "Model": "workbench.backend",
    "residuals": "workbench.analyses.core",
    "attention": "workbench.analyses.core",
    "capture": "workbench.analyses.core",
    "logit_lens": "workbench.analyses.lens",
    "head_scores": "workbench.analyses.attention",
    "has_type": "workbench.analyses.attention",
    "prediction_table": "workbench.analyses.attention",
    "within_setting_auroc": "workbench.analyses.attention",
    "ablate": "workbench.analyses.attention",
    "ablation_effects": "workbench.analyses.attention",
    "latent_lens": "workbench.analyses.latent",
    "decode_latents": "workbench.analyses.latent",
    "early_stopping": "workbench.analyses.latent",
    "AttentionMap": "workbench.widgets",
    "PopulationExplorer": "workbench.widgets",
    "LatentDecoder": "workbench.widgets",
    "GraphReorganization": "workbench.widgets",
    "LossClusters": "workbench.widgets",
    "PatchMap": "workbench.widgets",
    "SteeringExplorer": "workbench.widgets",
    "FeatureExplorer": "workbench.widgets",
    "to_html": "workbench.widgets",
    "polca": "workbench.analyses.polca",
    "PolcaSample": "workbench.analyses.polca",
    "validate_polca": "workbench.data",
    "random_weights": "workbench.backend",
    "patch": "workbench.analyses.patching",
    "attribution_patch": "workbench.analyses.patching",
    "patch_many": "workbench.analyses.patching",
    "logit_diff": "workbench.analyses.metrics",
    "steering_vector": "workbench.analyses.steering",
    "steer": "workbench.analyses.steering",
    "steering_eval": "workbench.analyses.steering",
    "prob": "workbench.analyses.metrics",
}
#: Modules reachable as attributes: ``wb.charts``, ``wb.incontext`` (graph tracing), ``wb.graphs`` (graphs, walks).
_MODULES = {"charts": "workbench.charts", "incontext": "workbench.analyses.incontext",
            "graphs": "workbench.zoo.tasks.graphs"}

if TYPE_CHECKING:  # pragma: no cover
    from workbench.analyses.attention import ablate, ablation_effects, has_type, head_scores, prediction_table
    from workbench.analyses.attention import within_setting_auroc
    from workbench.analyses.core import attention, capture, residuals
    from workbench.analyses.latent import decode_latents, early_stopping, latent_lens
    from workbench.analyses.lens import logit_lens
    from workbench.backend import Model, load_model, random_weights
    from workbench.analyses.metrics import logit_diff, prob
    from workbench.analyses.patching import attribution_patch, patch, patch_many
    from workbench.analyses.polca import PolcaSample, polca
    from workbench.analyses.steering import steer, steering_eval, steering_vector
    from workbench.data import validate_polca
    from workbench.widgets import (AttentionMap, GraphReorganization, LatentDecoder, LossClusters, PatchMap,
                                   PopulationExplorer, SteeringExplorer, FeatureExplorer)
    from workbench.widgets import to_html


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return import_module(_MODULES[name])
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = [
    "__version__",
    "load_model",
    "Model",
    "residuals",
    "attention",
    "capture",
    "logit_lens",
    "head_scores",
    "has_type",
    "prediction_table",
    "within_setting_auroc",
    "ablate",
    "ablation_effects",
    "latent_lens",
    "decode_latents",
    "early_stopping",
    "AttentionMap",
    "PopulationExplorer",
    "LatentDecoder",
    "GraphReorganization",
    "LossClusters",
    "PatchMap",
    "SteeringExplorer",
    "FeatureExplorer",
    "to_html",
    "polca",
    "PolcaSample",
    "validate_polca",
    "random_weights",
    "charts",
    "incontext",
    "graphs",
    "save",
    "load",
    "validate_attention",
    "validate_residuals",
    "validate_logit_lens",
    "validate_incontext",
    "validate_patching",
    "validate_steering",
    "steering_vector",
    "steer",
    "steering_eval",
    "patch",
    "attribution_patch",
    "patch_many",
    "logit_diff",
    "prob",
    "DataModelError",
]
