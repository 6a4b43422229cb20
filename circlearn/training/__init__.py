"""Training, evaluation, checkpoints, distributed execution, prediction and export.

Modules: ``config`` (:class:`TrainConfig`), ``objective`` (loss, learning-rate schedule,
clipping), ``loop`` (:func:`train`), ``evaluation`` (:func:`evaluate`, loading a trained
model), ``checkpoint`` (atomic checkpoints), ``distributed`` (torch.distributed plumbing),
``predict`` (Kaggle CSV) and ``export`` (TorchScript artifacts). ``circlearn.train`` is the
short public entry point.
"""

from circlearn.training.config import RESUMABLE_FIELDS, TrainConfig, incompatible_fields
from circlearn.training.evaluation import evaluate, load_model
from circlearn.training.loop import TrainingDiverged, train

__all__ = ["TrainConfig", "RESUMABLE_FIELDS", "incompatible_fields", "train", "evaluate",
           "load_model", "TrainingDiverged"]
