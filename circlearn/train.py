"""Alias of :mod:`circlearn.training`, kept for code written against it (same names).

:mod:`circlearn.training` is the front door to training: its code, its public API (below) and
its command line (:mod:`circlearn.training.cli`). This module re-exports the public API
unchanged, so both spellings work::

    from circlearn.training import TrainConfig, train, evaluate   # the front door
    from circlearn.train import TrainConfig, train, evaluate      # the same objects
"""

from circlearn.training import (
    RESUMABLE_FIELDS,
    TrainConfig,
    TrainingDiverged,
    evaluate,
    incompatible_fields,
    load_model,
    train,
)

__all__ = ["TrainConfig", "RESUMABLE_FIELDS", "incompatible_fields", "train", "evaluate",
           "load_model", "TrainingDiverged"]
