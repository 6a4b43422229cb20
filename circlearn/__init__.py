"""circlearn: compact deep learning models for video classification with circulant matrices.

A teaching and reference library for Araujo, Negrevergne, Chevaleyre and Atif, "Training
compact deep learning models for video classification using circulant matrices" (ECCV 2018
workshops): NumPy references for the circulant algebra (:mod:`circlearn.reference`), torch
layers (:mod:`circlearn.nn`), the paper's video models (:mod:`circlearn.models`), the
YouTube-8M data pipeline without TensorFlow (:mod:`circlearn.data`), the official metrics
(:mod:`circlearn.metrics`), training (:mod:`circlearn.training`, the front door; its command
line is ``circlearn train``), the paper's experiments (:mod:`circlearn.experiments`) and the
benchmarks (:mod:`circlearn.bench`, timed with :mod:`circlearn.bench.timing`). The
``circlearn`` command is :mod:`circlearn.cli`, which imports the rest and which nothing
imports back.

Importing circlearn has no side effects (no seeding, no CUDA probing, no output).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
