r"""``circlearn train | eval | predict``: the command line of :mod:`circlearn.training`.

The options are generated from the :class:`~circlearn.training.TrainConfig` and
:class:`~circlearn.models.ModelConfig` fields (:func:`circlearn.config.add_config_options`:
type from the annotation, help from the field's docstring entry, default from the field), so
the command line and the library cannot drift apart. Long options are kebab-case; the
YouTube-8M starter code's names are accepted too, from one table
(:data:`circlearn.training.options.OPTION_NAMES`, shared with ``circlearn export``; every
option also has its snake_case spelling: ``--train_dir``, ``--base_learning_rate``…).
The model is a preset (``--model dbof-fc-circulant``) with ``ModelConfig`` field overrides
(``--feature-sizes 128,16 --num-classes 50 --cluster-sizes 256,128``). ``eval`` and
``predict`` rebuild the model from ``TRAIN_DIR/config.json`` and a checkpoint (latest by
default), as ``circlearn export`` does (:mod:`circlearn.deploy.cli`).

Examples::

    circlearn train --train-dir runs/dbof --model dbof \\
        --train-data-pattern 'yt8m/frame/train*.tfrecord' \\
        --eval-data-pattern 'yt8m/frame/validate*.tfrecord'
    circlearn eval --train-dir runs/dbof --eval-data-pattern '...' [--follow]
    circlearn predict --train-dir runs/dbof --input-data-pattern 'test*.tfrecord' \\
        --output-file predictions.csv

Each command has ``configure_<command>_parser(parser)`` and ``run_<command>(args)``, which the
dispatcher (:mod:`circlearn.cli`) calls; nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

from circlearn.config import add_alias_option, add_config_options, add_deprecated_option, config_values
from circlearn.models import ModelConfig, preset_config
from circlearn.training.config import TrainConfig
from circlearn.training.options import (
    CHOICES,
    OPTION_NAMES,
    add_train_options,
    add_trained_model_options,
)

__all__ = ["DEPRECATED_NAMES", "configure_train_parser", "run_train", "configure_eval_parser",
           "run_eval", "configure_predict_parser", "run_predict", "configure_compress_parser",
           "run_compress", "model_config_from_args", "train_config_from_args"]

#: Field → old option names that still work, with a deprecation note on stderr.
DEPRECATED_NAMES: dict[str, tuple[str, ...]] = {
    "n_factors": ("k-factor",),  # the paper code's --k_factor; the field is n_factors
}

#: TrainConfig fields of the "optimisation" group; the others (except the data, the model and
#: frame_level, which follows the model) are "run control".
_OPTIMISATION = (
    "max_frames", "batch_size", "num_epochs", "max_steps", "base_learning_rate",
    "learning_rate_decay", "learning_rate_decay_examples", "adam_betas", "adam_epsilon",
    "clip_gradient_norm", "clip_mode", "regularization_penalty", "batch_norm_momentum",
    "data_augmentation", "shuffle_buffer", "seed")
_DATA = ("run_dir", "train_data", "eval_data", "preset")
_DERIVED = ("model", "frame_level")

#: Starter-code cluster options: pooling kind → option prefix (video clusters; audio gets half).
_STARTER_CLUSTERS = {"dbof": "dbof", "netvlad": "netvlad", "netfv": "fv"}

# argparse destinations: one namespace holds both configs' fields, kept apart by prefix.
_MODEL_PREFIX = "model_"


def _train_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig) if f.name not in _DERIVED]


# ------------------------------------------------------------------------------ train
def configure_train_parser(p: argparse.ArgumentParser) -> None:
    add_train_options(p, _DATA, required=("run_dir", "train_data"), defaults={"preset": "dbof"})
    g = p.add_argument_group("model overrides (ModelConfig fields; default: the preset's)")
    add_config_options(g, ModelConfig, names=OPTION_NAMES, choices=CHOICES, keep="the preset's",
                       dest_prefix=_MODEL_PREFIX)
    for field, olds in DEPRECATED_NAMES.items():
        kind = int if isinstance(getattr(ModelConfig(), field), int) else str
        for old in olds:
            add_deprecated_option(g, old, OPTION_NAMES.get(field, (field.replace("_", "-"),))[0],
                                  dest=_MODEL_PREFIX + field, type=kind)
    for kind, prefix in _STARTER_CLUSTERS.items():
        add_alias_option(g, f"{prefix}-cluster-size", type=int, default=None, metavar="INT",
                         help=f"starter-code style: {kind} clusters for video, half for audio")
    add_train_options(p.add_argument_group("optimisation (TrainConfig fields)"), _OPTIMISATION)
    rest = [f for f in _train_fields() if f not in _OPTIMISATION and f not in _DATA]
    r = p.add_argument_group("run control (TrainConfig fields)")
    add_train_options(r, rest)
    add_alias_option(r, "start-new-model", action="store_true",
                     help="delete the run directory's checkpoints, metrics and events first")


def model_config_from_args(args: argparse.Namespace) -> ModelConfig:
    """The preset's ModelConfig with the given overrides (starter-code cluster sizes too)."""
    model_fields = {f.name: _MODEL_PREFIX + f.name for f in dataclasses.fields(ModelConfig)}
    overrides = config_values(args, model_fields)
    base = preset_config(args.preset)
    for kind, prefix in _STARTER_CLUSTERS.items():
        size = getattr(args, f"{prefix}_cluster_size", None)
        if size is not None and "cluster_sizes" not in overrides:
            if base.pooling != kind:
                raise ValueError(f"--{prefix}-cluster-size given but preset {args.preset!r} "
                                 f"uses {base.pooling} pooling")
            streams = overrides.get("use_features", base.streams)
            overrides["cluster_sizes"] = tuple([size] + [max(1, size // 2)] * (len(streams) - 1))
    return preset_config(args.preset, **overrides)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of a parsed ``circlearn train`` command line."""
    model = model_config_from_args(args)
    values = config_values(args, {name: name for name in _train_fields()})
    return TrainConfig(**values, model=model, frame_level=model.frame_level)


def _start_new(run_dir: Path) -> None:
    """Remove what circlearn wrote in a run directory (never other files)."""
    if not run_dir.is_dir():
        return
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    for pattern in ("config.json", "metrics.jsonl", "events.out.tfevents.*"):
        for path in run_dir.glob(pattern):
            path.unlink()


def run_train(args: argparse.Namespace) -> int:
    from circlearn.training import TrainingDiverged, train

    config = train_config_from_args(args)
    if args.start_new_model:
        _start_new(Path(config.run_dir))
    try:
        summary = train(config)
    except TrainingDiverged as exc:
        print(f"circlearn train: error: {exc}", file=sys.stderr)
        return 1
    last = summary["last"]
    gap = f", GAP {last['gap']:.4f}" if last else ""
    print(f"trained {summary['step']} steps ({summary['epoch']:.2f} epochs{gap}, "
          f"{summary['videos_per_s']:.1f} videos/s); run directory {summary['run_dir']}")
    return 0


# ------------------------------------------------------------------------------ eval
def configure_eval_parser(p: argparse.ArgumentParser) -> None:
    add_trained_model_options(p)
    add_train_options(p, ("device", "eval_data", "eval_batch_size", "top_k", "num_workers"),
                      required=("eval_data",), names={"eval_batch_size": ("batch-size",)})
    p.add_argument("--follow", action="store_true",
                   help="keep evaluating new checkpoints as training writes them (waits for "
                        "training to start while TRAIN_DIR has no checkpoints/ folder; once "
                        "it has, a missing or unreadable TRAIN_DIR/config.json is an error)")
    p.add_argument("--poll-seconds", type=float, default=30.0)
    p.add_argument("--follow-timeout", type=float, default=3600.0,
                   help="--follow stops after this long without a new checkpoint")


def _evaluate_one(args, path) -> dict:
    from circlearn.training import distributed
    from circlearn.training.evaluation import eval_loader, evaluate, load_model

    device = distributed.pick_device(args.device)
    model, config, info = load_model(args.run_dir, path, device)
    config = config.replace(num_workers=args.num_workers)
    loader = eval_loader(args.eval_data, config, distributed.DistContext(device=device),
                         batch_size=args.eval_batch_size)
    result = evaluate(model, loader, top_k=args.top_k, ctx=distributed.DistContext(device=device))
    return {"checkpoint": info["path"], "step": info["step"], "examples": info["examples"],
            **result}


def run_eval(args: argparse.Namespace) -> int:
    from circlearn.training.checkpoint import CheckpointManager
    from circlearn.training.evaluation import find_checkpoint, read_run_config

    if not args.follow:
        print(json.dumps(_evaluate_one(args, find_checkpoint(args.run_dir, args.checkpoint))))
        return 0
    manager = CheckpointManager(Path(args.run_dir) / "checkpoints")
    done: set[int] = set()
    last_new = time.monotonic()
    while time.monotonic() - last_new < args.follow_timeout:
        if manager.directory.is_dir():  # training has started: its config.json must be there
            read_run_config(args.run_dir)
        for step in manager.steps():
            if step in done:
                continue
            path = manager.path_for(step)
            try:
                row = _evaluate_one(args, path)
            except FileNotFoundError:
                if path.exists():  # another file is missing: not a rotated checkpoint
                    raise
                continue  # rotated away meanwhile
            done.add(step)
            last_new = time.monotonic()
            print(json.dumps(row), flush=True)
        time.sleep(args.poll_seconds)
    return 0


# ------------------------------------------------------------------------------ predict
def configure_predict_parser(p: argparse.ArgumentParser) -> None:
    add_trained_model_options(p)
    add_train_options(p, ("device", "top_k", "eval_batch_size"),
                      names={"eval_batch_size": ("batch-size",)},
                      defaults={"eval_batch_size": 512})
    add_alias_option(p, "input-data-pattern", required=True,
                     help="comma-separated globs of the TFRecords to predict")
    add_alias_option(p, "output-file", required=True, help="CSV: VideoId,LabelConfidencePairs")
    p.add_argument("--vocabulary", default=None,
                   help="vocabulary.csv: adds a LabelNames column (not for submissions)")


def run_predict(args: argparse.Namespace) -> int:
    from circlearn.training import distributed
    from circlearn.training.evaluation import eval_loader, load_model
    from circlearn.training.predict import predict_top_k, read_vocabulary, write_predictions

    if args.top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {args.top_k}")
    device = distributed.pick_device(args.device)
    model, config, _ = load_model(args.run_dir, args.checkpoint, device)
    vocab = read_vocabulary(args.vocabulary, model.config.num_classes) if args.vocabulary \
        else None
    loader = eval_loader(args.input_data_pattern, config, distributed.DistContext(device=device),
                         batch_size=args.eval_batch_size)
    n = write_predictions(args.output_file, predict_top_k(model, loader, args.top_k, device),
                          vocab)
    print(f"wrote top-{args.top_k} predictions for {n} videos to {args.output_file}")
    return 0


# ------------------------------------------------------------------------------ compress
#: TrainConfig fields ``compress`` takes from the dense run unless given.
_COMPRESS_OVERRIDES = ("train_data", "eval_data", "batch_size", "base_learning_rate",
                       "learning_rate_decay", "learning_rate_decay_examples",
                       "batch_norm_momentum", "eval_batch_size", "eval_every_steps", "seed",
                       "num_workers", "device")


def configure_compress_parser(p: argparse.ArgumentParser) -> None:
    from circlearn.training.compress import EMBEDDING_KINDS, FC_KINDS

    add_trained_model_options(p)
    p.add_argument("--out", required=True, help="the new run folder (must not exist, or be "
                                                 "empty)")
    p.add_argument("--fc", required=True, choices=FC_KINDS,
                   help="structure of the per-stream FC")
    p.add_argument("--rank", type=int, default=None, help="rank of a low-rank FC")
    p.add_argument("--embedding", choices=EMBEDDING_KINDS, default=None,
                   help="also compress the per-frame projection (DBoF embedding or "
                        "NetVLAD/NetFV assignment)")
    p.add_argument("--fine-tune-epochs", type=int, default=1,
                   help="epochs of fine-tuning after the projection (default 1; 0: none)")
    p.add_argument("--bn-batches", type=int, default=50,
                   help="training batches the batch-norm statistics are re-estimated on "
                        "(default 50)")
    g = p.add_argument_group("training settings (TrainConfig fields; default: the dense run's)")
    p.set_defaults(compress_dests=add_train_options(g, _COMPRESS_OVERRIDES,
                                                    keep="the dense run's",
                                                    dest_prefix="override_"))


def run_compress(args: argparse.Namespace) -> int:
    from circlearn.training.compress import CompressConfig, compress_run, format_report

    cc = CompressConfig(fc=args.fc, rank=args.rank, embedding=args.embedding,
                        fine_tune_epochs=args.fine_tune_epochs, bn_batches=args.bn_batches,
                        checkpoint=args.checkpoint)
    report = compress_run(args.run_dir, args.out, cc, config_values(args, args.compress_dests))
    print(format_report(report))
    return 0
