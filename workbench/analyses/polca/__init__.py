"""POLCA: loss decomposition over training checkpoints, clusters of samples that learn together, hidden breakthroughs.

Kangaslahti, Rosenfeld & Saphra, "Hidden Breakthroughs in Language Model Training" (arXiv 2506.15872). One method in
four modules, each with one job:

* :mod:`~workbench.analyses.polca.gradients`: per-token losses, directional derivatives ``<b, grad l(x)>``,
  Hessian-vector products and curvature, on a model flattened to one parameter vector (torch);
* :mod:`~workbench.analyses.polca.basis`: the Hessian eigenvector basis found along training (Lanczos), and the
  random-basis baseline;
* :mod:`~workbench.analyses.polca.findings`: from projections to findings: per-step terms, projected loss, filters,
  HDBSCAN clusters, break times, homogeneity (numpy and scikit-learn, no model);
* :mod:`~workbench.analyses.polca.pipeline`: the resumable three-pass run over checkpoints as Dask tasks, and the
  study Dataset (:func:`workbench.data.validate_polca`).

The method's public functions are here; the shipped study that runs them is :mod:`workbench.studies.polca`.

>>> from workbench.analyses.polca import Sample
>>> Sample("457+168=0625", (7, 8, 9, 10)).positions
(7, 8, 9, 10)
"""

from workbench.analyses.polca.pipeline import (METHODS, Checkpoint, PolcaInputError, PolcaRunError, PolcaSample,
                                               Sample, assemble, checkpoints_from, decompose, failed, gather, polca,
                                               rerun)

__all__ = ["polca", "Sample", "PolcaSample", "Checkpoint", "checkpoints_from", "decompose", "rerun", "failed", "gather",
           "assemble", "METHODS", "PolcaInputError", "PolcaRunError"]
