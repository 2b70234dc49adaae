"""In-context graph tracing (Park et al. 2025, "ICLR: In-Context Learning of Representations", arXiv 2501.00070).

One method in two modules:

* :mod:`~workbench.analyses.incontext.trace`: the single traced pass per walk (node means at every context length,
  next-word probabilities over the graph's words), the study Dataset and its controls;
* :mod:`~workbench.analyses.incontext.metrics`: how well node representations mirror a graph (PCA, Dirichlet energy
  and its ratio, permutation null, Procrustes R^2), numpy only.

Reached as ``wb.incontext``; the shipped study that runs it is :mod:`workbench.studies.incontext`.

>>> from workbench.analyses import incontext
>>> incontext.default_contexts(200, n=4).tolist()
[16, 37, 86, 200]
"""

from workbench.analyses.incontext.trace import (DEFAULT_WINDOW, LAYER_CONVENTION, N_COMPONENTS, QUANTILES, SMOOTH,
                                                InContextError, default_contexts, mixing_toy, per_walk_metrics, study,
                                                summarize, trace_walk, trailing_mean, walks_for, window_weights,
                                                with_controls)

__all__ = ["study", "trace_walk", "mixing_toy", "with_controls", "walks_for", "window_weights", "default_contexts",
           "per_walk_metrics", "summarize", "trailing_mean", "InContextError", "DEFAULT_WINDOW", "SMOOTH",
           "N_COMPONENTS", "QUANTILES", "LAYER_CONVENTION"]
