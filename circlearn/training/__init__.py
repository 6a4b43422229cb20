"""Training: the front door (code, public API and command line in one package).

::

    from circlearn.models import preset_config
    from circlearn.training import TrainConfig, train, evaluate

    cfg = TrainConfig(train_data="data/train*.tfrecord", eval_data="data/validate*.tfrecord",
                      run_dir="runs/dbof", model=preset_config("dbof"), preset="dbof")
    summary = train(cfg)          # rerun to resume; metrics in runs/dbof/metrics.jsonl

Modules: ``config`` (:class:`TrainConfig`), ``objective`` (loss, learning-rate schedule,
clipping), ``loop`` (:func:`train`: run directory and resume semantics), ``evaluation``
(:func:`evaluate`, loading a trained model), ``checkpoint`` (atomic checkpoints),
``distributed`` (torch.distributed plumbing, device choices), ``predict`` (Kaggle CSV),
``options`` (the command-line options of a run, shared with ``circlearn export``) and ``cli``
(``circlearn train | eval | predict``, generated from the ``TrainConfig``/``ModelConfig``
fields). Deployable files are written by :mod:`circlearn.deploy`.
"""

from circlearn.training.config import RESUMABLE_FIELDS, TrainConfig, incompatible_fields
from circlearn.training.evaluation import evaluate, load_model
from circlearn.training.loop import TrainingDiverged, train

__all__ = ["TrainConfig", "RESUMABLE_FIELDS", "incompatible_fields", "train", "evaluate",
           "load_model", "TrainingDiverged"]
