"""Sparse autoencoders on the zoo's formal-language models: training (streamed or buffered activations, a resumable
Dask grid), SAELens's on-disk format, and evaluation against ground truth with causal checks, a neuron baseline and
seed stability. See the README section "Sparse autoencoders" and ``notebooks/07_sparse_autoencoders.ipynb``.

>>> from workbench.analyses.sae import ARCHITECTURES
>>> ARCHITECTURES
('relu_l1', 'topk', 'batchtopk')
"""

from workbench.analyses.sae.activations import (SITES, ActivationBuffer, activations_of, check_site, collect,
                                                hook_name, stream, trace_site)
from workbench.analyses.sae.architectures import (ARCHITECTURES, SPARSITY_MEANING, SAEError, SparseAutoencoder,
                                                  check_architecture)
from workbench.analyses.sae.evaluate import (DENSE, NO_EFFECT, WELL_CORRELATED, correlational_causal_gap,
                                             decoder_tokens, detection_scores, evaluate, evaluate_sae, latent_scores,
                                             unit_baseline)
from workbench.analyses.sae.saelens_format import is_sae_folder, load_sae, read_cfg, save_sae
from workbench.analyses.sae.stability import MATCH_THRESHOLD, match_decoders, stability_curve
from workbench.analyses.sae.tasks import Task, get_task, label_matrix, label_names
from workbench.analyses.sae.train import grid_members, member_key, train_grid, train_sae

__all__ = ["SITES", "ActivationBuffer", "activations_of", "check_site", "collect", "hook_name", "stream",
           "trace_site", "ARCHITECTURES", "SPARSITY_MEANING", "SAEError", "SparseAutoencoder", "check_architecture",
           "DENSE", "NO_EFFECT", "WELL_CORRELATED", "correlational_causal_gap", "decoder_tokens", "detection_scores",
           "evaluate", "evaluate_sae", "latent_scores", "unit_baseline", "is_sae_folder", "load_sae", "read_cfg",
           "save_sae", "MATCH_THRESHOLD", "match_decoders", "stability_curve", "Task", "get_task", "label_matrix",
           "label_names", "grid_members", "member_key", "train_grid", "train_sae"]
