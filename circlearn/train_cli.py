"""``circlearn train | eval | predict | export``: the command line over :mod:`circlearn.train`.

Long options are kebab-case; the YouTube-8M starter code's snake_case names are accepted as
aliases (``--train_dir``, ``--train_data_pattern``, ``--base_learning_rate``, ...). The model
is a preset (``--model dbof-fc-circulant``) with field overrides (``--feature-sizes 128,16
--num-classes 50 --cluster-sizes 256,128``). ``eval``, ``predict`` and ``export`` rebuild the
model from ``TRAIN_DIR/config.json`` and a checkpoint (latest by default).

Examples::

    circlearn train --train-dir runs/dbof --model dbof \\
        --train-data-pattern 'yt8m/frame/train*.tfrecord' \\
        --eval-data-pattern 'yt8m/frame/validate*.tfrecord'
    circlearn eval --train-dir runs/dbof --eval-data-pattern '...' [--follow]
    circlearn predict --train-dir runs/dbof --input-data-pattern 'test*.tfrecord' \\
        --output-file predictions.csv
    circlearn export --train-dir runs/dbof        # → runs/dbof/export/model.torchscript.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from circlearn.cli import add_alias_option

__all__ = ["configure_train_parser", "run_train", "configure_eval_parser", "run_eval",
           "configure_predict_parser", "run_predict", "configure_export_parser", "run_export",
           "model_config_from_args", "train_config_from_args"]


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# ------------------------------------------------------------------------------ train
#: CLI option → ModelConfig field (None: not given).
_MODEL_OPTIONS = {
    "feature-names": ("feature_names", _names, "input streams in order (rgb,audio)"),
    "feature-sizes": ("feature_sizes", _ints, "their sizes (1024,128; bundled data: 128,16)"),
    "use-features": ("use_features", _names, "streams with a branch (rgb = --no_audio)"),
    "num-classes": ("num_classes", int, "classes (3862; bundled data: 50)"),
    "cluster-sizes": ("cluster_sizes", _ints, "per used stream: DBoF width / NetVLAD clusters"),
    "hidden-size": ("hidden_size", int, "FC width after pooling (512)"),
    "num-mixtures": ("num_mixtures", int, "MoE experts per class (4)"),
    "iterations": ("iterations", int, "frames sampled per bag (15)"),
    "n-bagging": ("n_bagging", int, "bags per video (10)"),
    "k-factor": ("n_factors", int, "diagonal-circulant factors per block (1)"),
    "eval-sampling": ("eval_sampling", str, "evaluation frames: random (paper) or all"),
    "eval-seed": ("eval_seed", int, "seed of the evaluation sampler (0)"),
}
_STARTER_ALIASES = {"hidden-size": "fc_hidden_size", "num-mixtures": "moe_num_mixtures"}


def configure_train_parser(p: argparse.ArgumentParser) -> None:
    add_alias_option(p, "train-dir", required=True, help="run directory (resumes if it exists)")
    add_alias_option(p, "train-data-pattern", required=True,
                     help="comma-separated globs of training TFRecords")
    add_alias_option(p, "eval-data-pattern", default=None,
                     help="validation TFRecords, evaluated every epoch (or --eval-every-steps)")
    p.add_argument("--model", "--preset", dest="model", default="dbof",
                   help="model preset (circlearn.models.PRESETS), default dbof")
    g = p.add_argument_group("model overrides (ModelConfig fields)")
    for opt, (_, typ, text) in _MODEL_OPTIONS.items():
        flags = [f"--{opt}", f"--{opt.replace('-', '_')}"]
        if opt in _STARTER_ALIASES:
            flags.append(f"--{_STARTER_ALIASES[opt]}")
        g.add_argument(*dict.fromkeys(flags), dest=f"m_{opt.replace('-', '_')}", type=typ,
                       default=None, help=text)
    for name in ("dbof", "netvlad", "fv"):
        add_alias_option(g, f"{name}-cluster-size", type=int, default=None,
                         help=f"starter-code style: {name} clusters for video, half for audio")
    o = p.add_argument_group("optimisation")
    add_alias_option(o, "batch-size", type=int, default=80, help="videos per process (80)")
    add_alias_option(o, "num-epochs", type=int, default=15)
    add_alias_option(o, "max-steps", type=int, default=None)
    add_alias_option(o, "max-frames", type=int, default=300)
    add_alias_option(o, "base-learning-rate", type=float, default=2e-4)
    add_alias_option(o, "learning-rate-decay", type=float, default=0.8)
    add_alias_option(o, "learning-rate-decay-examples", type=int, default=4_000_000)
    add_alias_option(o, "clip-gradient-norm", type=float, default=1.0)
    add_alias_option(o, "clip-mode", choices=("per-tensor", "global", "none"),
                     default="per-tensor")
    add_alias_option(o, "regularization-penalty", type=float, default=1.0)
    add_alias_option(o, "batch-norm-momentum", type=float, default=None,
                     help="override batch-norm momentum (paper: 0.001)")
    add_alias_option(o, "data-augmentation", type=_bool, default=False, nargs="?", const=True,
                     help="half-video augmentation")
    add_alias_option(o, "shuffle-buffer", type=int, default=1024)
    add_alias_option(o, "seed", type=int, default=0)
    r = p.add_argument_group("run control")
    add_alias_option(r, "eval-every-steps", type=int, default=0, help="0: every epoch")
    add_alias_option(r, "eval-batch-size", type=int, default=1024)
    add_alias_option(r, "checkpoint-every-steps", type=int, default=1000)
    add_alias_option(r, "keep-checkpoints", type=int, default=3)
    add_alias_option(r, "top-k", type=int, default=20)
    add_alias_option(r, "num-workers", type=int, default=0)
    r.add_argument("--num_readers", dest="num_workers", type=int, help=argparse.SUPPRESS)
    add_alias_option(r, "device", choices=("auto", "cpu", "cuda"), default="auto")
    r.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    r.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    add_alias_option(r, "sync-batch-norm", action="store_true",
                     help="batch-norm statistics over all ranks under torchrun")
    add_alias_option(r, "log-every-steps", type=int, default=50)
    add_alias_option(r, "no-progress", action="store_true", help="log lines, no progress bar")
    add_alias_option(r, "no-tensorboard", action="store_true")
    add_alias_option(r, "start-new-model", action="store_true",
                     help="delete the run directory's checkpoints, metrics and events first")


def model_config_from_args(args: argparse.Namespace):
    """The preset's ModelConfig with the given overrides (starter-code cluster sizes too)."""
    from circlearn.models import preset_config

    overrides = {field: getattr(args, f"m_{opt.replace('-', '_')}")
                 for opt, (field, _, _) in _MODEL_OPTIONS.items()
                 if getattr(args, f"m_{opt.replace('-', '_')}", None) is not None}
    base = preset_config(args.model)
    pooling = {"dbof": "dbof", "netvlad": "netvlad", "fv": "netfv"}
    for key, kind in pooling.items():
        size = getattr(args, f"{key}_cluster_size", None)
        if size is not None and "cluster_sizes" not in overrides:
            if base.pooling != kind:
                raise ValueError(f"--{key}-cluster-size given but preset {args.model!r} uses "
                                 f"{base.pooling} pooling")
            streams = overrides.get("use_features", base.streams)
            overrides["cluster_sizes"] = tuple([size] + [max(1, size // 2)] * (len(streams) - 1))
    return preset_config(args.model, **overrides)


def train_config_from_args(args: argparse.Namespace):
    from circlearn.train import TrainConfig

    model = model_config_from_args(args)
    return TrainConfig(
        train_data=args.train_data_pattern, eval_data=args.eval_data_pattern,
        run_dir=args.train_dir, model=model, preset=args.model, frame_level=model.frame_level,
        max_frames=args.max_frames, batch_size=args.batch_size, num_epochs=args.num_epochs,
        max_steps=args.max_steps, base_learning_rate=args.base_learning_rate,
        learning_rate_decay=args.learning_rate_decay,
        learning_rate_decay_examples=args.learning_rate_decay_examples,
        clip_gradient_norm=args.clip_gradient_norm, clip_mode=args.clip_mode,
        regularization_penalty=args.regularization_penalty,
        batch_norm_momentum=args.batch_norm_momentum, data_augmentation=args.data_augmentation,
        shuffle_buffer=args.shuffle_buffer, eval_every_steps=args.eval_every_steps,
        eval_batch_size=args.eval_batch_size, checkpoint_every_steps=args.checkpoint_every_steps,
        keep_checkpoints=args.keep_checkpoints, top_k=args.top_k, seed=args.seed,
        num_workers=args.num_workers, device=args.device, bf16=args.bf16, compile=args.compile,
        sync_batch_norm=args.sync_batch_norm, log_every_steps=args.log_every_steps,
        progress=False if args.no_progress else None, tensorboard=not args.no_tensorboard)


def _start_new(run_dir: Path) -> None:
    """Remove what circlearn wrote in a run directory (never other files)."""
    import shutil

    if not run_dir.is_dir():
        return
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    for pattern in ("config.json", "metrics.jsonl", "events.out.tfevents.*"):
        for path in run_dir.glob(pattern):
            path.unlink()


def run_train(args: argparse.Namespace) -> int:
    from circlearn.train import TrainingDiverged, train

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
def _common_model_args(p: argparse.ArgumentParser) -> None:
    add_alias_option(p, "train-dir", required=True, help="run directory of `circlearn train`")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file, 'latest' (default) or 'best'")
    add_alias_option(p, "device", choices=("auto", "cpu", "cuda"), default="auto")


def configure_eval_parser(p: argparse.ArgumentParser) -> None:
    _common_model_args(p)
    add_alias_option(p, "eval-data-pattern", required=True)
    add_alias_option(p, "batch-size", type=int, default=1024)
    add_alias_option(p, "top-k", type=int, default=20)
    add_alias_option(p, "num-workers", type=int, default=0)
    p.add_argument("--follow", action="store_true",
                   help="keep evaluating new checkpoints as training writes them")
    p.add_argument("--run_once", action="store_true", help="starter-code alias: the default")
    p.add_argument("--poll-seconds", type=float, default=30.0)
    p.add_argument("--follow-timeout", type=float, default=3600.0,
                   help="--follow stops after this long without a new checkpoint")


def _evaluate_one(args, path) -> dict:
    from circlearn.training import distributed
    from circlearn.training.evaluation import eval_loader, evaluate, load_model

    device = distributed.pick_device(args.device)
    model, config, info = load_model(args.train_dir, path, device)
    config = config.replace(num_workers=args.num_workers)
    loader = eval_loader(args.eval_data_pattern, config, distributed.DistContext(device=device),
                         batch_size=args.batch_size)
    result = evaluate(model, loader, top_k=args.top_k, ctx=distributed.DistContext(device=device))
    return {"checkpoint": info["path"], "step": info["step"], "examples": info["examples"],
            **result}


def run_eval(args: argparse.Namespace) -> int:
    from circlearn.training.checkpoint import CheckpointManager
    from circlearn.training.evaluation import find_checkpoint

    if not args.follow:
        print(json.dumps(_evaluate_one(args, find_checkpoint(args.train_dir, args.checkpoint))))
        return 0
    manager = CheckpointManager(Path(args.train_dir) / "checkpoints")
    done: set[int] = set()
    last_new = time.monotonic()
    while time.monotonic() - last_new < args.follow_timeout:
        for step in manager.steps():
            if step in done:
                continue
            try:
                row = _evaluate_one(args, manager.path_for(step))
            except FileNotFoundError:  # rotated away meanwhile
                continue
            done.add(step)
            last_new = time.monotonic()
            print(json.dumps(row), flush=True)
        time.sleep(args.poll_seconds)
    return 0


# ------------------------------------------------------------------------------ predict
def configure_predict_parser(p: argparse.ArgumentParser) -> None:
    _common_model_args(p)
    add_alias_option(p, "input-data-pattern", required=True)
    add_alias_option(p, "output-file", required=True, help="CSV: VideoId,LabelConfidencePairs")
    add_alias_option(p, "top-k", type=int, default=20)
    add_alias_option(p, "batch-size", type=int, default=512)
    p.add_argument("--vocabulary", default=None,
                   help="vocabulary.csv: adds a LabelNames column (not for submissions)")


def run_predict(args: argparse.Namespace) -> int:
    from circlearn.training import distributed
    from circlearn.training.evaluation import eval_loader, load_model
    from circlearn.training.predict import predict_top_k, read_vocabulary, write_predictions

    if args.top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {args.top_k}")
    device = distributed.pick_device(args.device)
    model, config, _ = load_model(args.train_dir, args.checkpoint, device)
    vocab = read_vocabulary(args.vocabulary, model.config.num_classes) if args.vocabulary \
        else None
    loader = eval_loader(args.input_data_pattern, config, distributed.DistContext(device=device),
                         batch_size=args.batch_size)
    n = write_predictions(args.output_file, predict_top_k(model, loader, args.top_k, device),
                          vocab)
    print(f"wrote top-{args.top_k} predictions for {n} videos to {args.output_file}")
    return 0


# ------------------------------------------------------------------------------ export
def configure_export_parser(p: argparse.ArgumentParser) -> None:
    from circlearn.deploy.export_run import FORMATS, PRECISIONS

    add_alias_option(p, "train-dir", required=True, help="run directory of `circlearn train`")
    p.add_argument("--checkpoint", default=None, help="file, 'latest' (default) or 'best'")
    p.add_argument("--format", dest="format", choices=FORMATS, default="torchscript",
                   help="torchscript (default) or onnx (needs the 'deploy' extra)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="onnx: fp32 (default), fp16 (float16 weights) or int8 (dynamic "
                        "quantization of the dense weights)")
    p.add_argument("--output", default=None,
                   help="artifact path (default TRAIN_DIR/export/model.torchscript.pt, "
                        "model.onnx, model.fp16.onnx or model.int8.onnx)")
    add_alias_option(p, "eval-data-pattern", default=None,
                     help="records the export is verified on (default: the run's eval_data)")
    p.add_argument("--verify-videos", type=int, default=1000,
                   help="evaluation videos the export is verified on (default 1000)")
    p.add_argument("--vocabulary", default=None,
                   help="vocabulary.csv whose hash goes into the ONNX metadata (default: the "
                        "one beside the evaluation data)")
    p.add_argument("--max-batch", type=int, default=512,
                   help="torchscript: largest batch the artifact accepts (stored evaluation "
                        "frame draws)")


def run_export(args: argparse.Namespace) -> int:
    from circlearn.deploy.export_run import export_run, format_report

    try:
        result = export_run(args.train_dir, fmt=args.format, precision=args.precision,
                            output=args.output, checkpoint=args.checkpoint,
                            eval_data=args.eval_data_pattern, verify_videos=args.verify_videos,
                            vocabulary=args.vocabulary, max_batch=args.max_batch)
    except ModuleNotFoundError as exc:  # the optional deploy extra
        raise ValueError(str(exc)) from None
    print(format_report(result))
    return 0
