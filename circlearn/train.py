"""Training and evaluation: the public entry point (the code lives in ``circlearn.training``).

::

    from circlearn.models import preset_config
    from circlearn.train import TrainConfig, train, evaluate

    cfg = TrainConfig(train_data="data/train*.tfrecord", eval_data="data/validate*.tfrecord",
                      run_dir="runs/dbof", model=preset_config("dbof"), preset="dbof")
    summary = train(cfg)          # rerun to resume; metrics in runs/dbof/metrics.jsonl

See :mod:`circlearn.training.loop` for the run directory and resume semantics,
:mod:`circlearn.training.objective` for the loss, schedule and clipping, and
:mod:`circlearn.training.distributed` for torchrun.
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
