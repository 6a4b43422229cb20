"""The command-line options of a training run: one set of names for every command that uses it.

``circlearn train | eval | predict`` (:mod:`circlearn.training.cli`) and ``circlearn export``
(:mod:`circlearn.deploy.cli`) build their :class:`~circlearn.training.TrainConfig` options
here, so a field has the same option names and choices in every command: the kebab-case
name, the YouTube-8M starter code's names (:data:`OPTION_NAMES`; every option also has its
snake_case spelling: ``--train_dir``) and the allowed values (:data:`CHOICES`).

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_trained_model_options(p)
>>> p.parse_args(["--train_dir", "runs/x"]).run_dir
'runs/x'
"""

from __future__ import annotations

import argparse

from circlearn.config import add_config_options
from circlearn.models.config import CLASSIFIERS, DBOF_POOLINGS, EVAL_SAMPLINGS, LAYER_KINDS, POOLINGS
from circlearn.training.config import TrainConfig
from circlearn.training.distributed import DEVICES
from circlearn.training.objective import CLIP_MODES

__all__ = ["OPTION_NAMES", "CHOICES", "add_train_options", "add_trained_model_options"]

#: Field → option names where they are not the field's own (kebab-case first, then aliases;
#: each also gets its snake_case spelling): the YouTube-8M starter code's names.
OPTION_NAMES: dict[str, tuple[str, ...]] = {
    "run_dir": ("train-dir",),
    "train_data": ("train-data-pattern",),
    "eval_data": ("eval-data-pattern",),
    "preset": ("model", "preset"),
    "hidden_size": ("hidden-size", "fc_hidden_size"),
    "num_mixtures": ("num-mixtures", "moe_num_mixtures"),
    "num_workers": ("num-workers", "num_readers"),
}

#: Field → allowed values (from the library's own constants).
CHOICES = {
    "pooling": POOLINGS, "dbof_pooling": DBOF_POOLINGS, "embedding": LAYER_KINDS,
    "fc": LAYER_KINDS, "classifier": CLASSIFIERS, "classifier_layer": LAYER_KINDS,
    "eval_sampling": EVAL_SAMPLINGS, "clip_mode": CLIP_MODES, "device": DEVICES,
}


def add_train_options(parser, fields, names=(), **kwargs) -> dict[str, str]:
    """TrainConfig options for ``fields`` with the shared names and choices (``names``: extra
    per-command names, e.g. eval's ``--batch-size`` for ``eval_batch_size``)."""
    return add_config_options(parser, TrainConfig, fields, names={**OPTION_NAMES, **dict(names)},
                              choices=CHOICES, **kwargs)


def add_trained_model_options(p: argparse.ArgumentParser) -> None:
    """The run directory and checkpoint: what ``eval``, ``predict``, ``export`` load."""
    add_train_options(p, ("run_dir",), required=("run_dir",))
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file, 'latest' (default) or 'best'")
