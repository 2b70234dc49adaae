"""The shipped studies: one module per folder of ``data/``, each runnable as ``python -m workbench.studies.NAME``.

A study sits above everything else: it trains zoo models, runs analyses on them and writes the results that the
notebooks and tests read. Nothing below imports a study.

============================  ===================  ==========================================================
module                        writes               what
============================  ===================  ==========================================================
:mod:`~.dyck`                 ``data/dyck/``       the Dyck-1 population (Li et al. 2025) and, with
                                                   ``--export-zoo``, its four representatives in ``data/zoo/``
:mod:`~.latent`               ``data/latent/``     the Coconut model's decoded latent thoughts (Dilgren & Wiegreffe
                                                   2026); ``--train`` retrains the three latent zoo models
:mod:`~.incontext`            ``data/incontext/``  in-context graph tracing on Gemma-3-270M and SmolLM2 (Park et al.
                                                   2025)
:mod:`~.polca`                ``data/polca/``      POLCA on the addition model's training run (Kangaslahti et al.
                                                   2025); ``--train`` retrains the run and the ``addition`` zoo model
============================  ===================  ==========================================================
"""
