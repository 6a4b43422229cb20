"""Evaluation over a validation pattern, as the paper's ``eval.py`` (``paper.md`` §3.7) but
deterministic.

Batch norm in inference mode, no augmentation, the model's evaluation sampling (by default
the training sampler reseeded with ``eval_seed`` at every call: circlearn's deterministic
choice, so that an evaluation can be repeated exactly; the authors' ``eval.py`` calls
``tf.set_random_seed(0)`` and then builds a new graph, which drops that seed, so its frame
sampling was in effect unseeded and repeated evaluations differed slightly),
metrics GAP@k, Hit@1, PERR, mAP accumulated exactly over the whole set
(:class:`circlearn.metrics.EvaluationMetrics`; with a distributed context ``ctx`` every rank
evaluates its share and the metrics are gathered, the loss summed; without one, a process
group that other code started is ignored) plus the mean loss.

Also: rebuilding a trained model from its run directory (:func:`load_model`), which
``eval``, ``predict`` and ``export`` use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import torch

from circlearn.data.batch import Batch
from circlearn.data.datasets import YT8MLoader
from circlearn.metrics import EvaluationMetrics
from circlearn.models import VideoClassifier
from circlearn.training.checkpoint import CheckpointManager, load_checkpoint
from circlearn.training.config import TrainConfig, loader_config
from circlearn.training.distributed import DistContext, all_reduce_sum
from circlearn.training.objective import cross_entropy_on_probabilities

__all__ = ["evaluate", "eval_loader", "model_inputs", "load_model", "read_run_config",
           "find_checkpoint"]


def model_inputs(batch: Batch, device) -> tuple:
    """The model's positional inputs on ``device``: ``(frames uint8, num_frames)`` or
    ``(features,)`` (the model dequantises and normalises itself)."""
    if batch.frames is not None:
        return (batch.frames.to(device, non_blocking=True),
                batch.num_frames.to(device, non_blocking=True))
    return (batch.features.to(device, non_blocking=True),)


def eval_loader(pattern, config: TrainConfig, ctx: DistContext | None = None,
                batch_size: int | None = None) -> YT8MLoader:
    """Every video of ``pattern`` once, in file order, split over the ranks (none dropped)."""
    ctx = ctx or DistContext()
    cfg = loader_config(config, batch_size=batch_size or config.eval_batch_size,
                        shuffle=False, even_ranks=False)
    return YT8MLoader(pattern, cfg, num_workers=config.num_workers, rank=ctx.rank,
                      world_size=ctx.world_size, pin_memory=ctx.device.type == "cuda")


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: Iterable[Batch], *, top_k: int = 20,
             ctx: DistContext | None = None, bf16: bool = False) -> dict:
    """``{"gap", "hit_at_one", "perr", "map", "loss", "num_examples"}`` of ``model`` on
    ``batches`` (the model is put in eval mode and restored afterwards).

    ``loss`` is training's objective averaged over every video of the split (and of every
    rank): ``(Σ_batches Σ_b L_b) / videos``, with ``L_b`` the float32 per-video losses of
    :func:`~circlearn.training.objective.cross_entropy_on_probabilities` (``reduction=
    "none"``) summed in float64, so the value does not depend on the batch size up to
    float64 round-off (a mean of per-batch float32 means would).
    """
    ctx = ctx or DistContext()
    was_training = model.training
    model.eval()
    num_classes = model.config.num_classes
    # Gathered over the ranks exactly when the loss is summed over them: ``ctx`` decides.
    metrics = EvaluationMetrics(num_classes, top_k=top_k, distributed=ctx.distributed)
    loss_sum, count = 0.0, 0
    try:
        for batch in batches:
            if batch.labels.shape[1] != num_classes:
                raise ValueError(f"data has {batch.labels.shape[1]} classes, the model "
                                 f"{num_classes}")
            with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=bf16):
                probs = model(*model_inputs(batch, ctx.device)).float()  # (B, C)
            labels = batch.labels.to(probs.device)
            per_video = cross_entropy_on_probabilities(probs, labels, reduction="none")  # (B,)
            loss_sum += float(per_video.double().sum())
            count += len(batch)
            metrics.accumulate(probs, labels)
    finally:
        model.train(was_training)
    loss_sum, count = all_reduce_sum([loss_sum, float(count)], ctx)
    out = metrics.compute()
    out["loss"] = loss_sum / count if count else math.nan
    return out


def read_run_config(run_dir: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` saved in ``run_dir/config.json``; a missing, unreadable or
    invalid file raises ``FileNotFoundError``/``ValueError`` naming it."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a circlearn run directory?")
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        return TrainConfig.from_dict(data)
    except ValueError as exc:  # not JSON (json.JSONDecodeError), or not a TrainConfig
        raise ValueError(f"{path} is not a valid run configuration: {exc}") from None


def find_checkpoint(run_dir: str | Path, checkpoint: str | Path | None = None) -> Path:
    """``checkpoint`` if given (``"best"``/``"latest"`` or a path), else the latest one."""
    manager = CheckpointManager(Path(run_dir) / "checkpoints")
    if checkpoint in (None, "latest"):
        path = manager.latest()
        if path is None:
            raise FileNotFoundError(f"no checkpoint in {manager.directory}")
        return path
    if checkpoint == "best":
        return manager.best_path
    return Path(checkpoint)


def load_model(run_dir: str | Path, checkpoint: str | Path | None = None,
               device="cpu") -> tuple[VideoClassifier, TrainConfig, dict]:
    """Rebuild the model of a run, load a checkpoint (weights only), eval mode.

    Returns ``(model, config, info)`` with ``info = {"path", "step", "examples"}``.
    """
    config = read_run_config(run_dir)
    path = find_checkpoint(run_dir, checkpoint)
    state = load_checkpoint(path)
    model = VideoClassifier(config.model)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {path} does not fit the model of {run_dir}/config.json: "
                         f"{str(exc).splitlines()[0]}") from None
    model.to(device).eval()
    return model, config, {"path": str(path), "step": int(state.get("step", 0)),
                           "examples": int(state.get("examples", 0))}
