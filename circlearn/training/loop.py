"""The training loop: the paper's optimisation, run directory, exact resume.

One step (``paper.md`` §3.6): a batch of ``B`` videos per process (``2B`` half-videos with
augmentation) → model probabilities (frames sampled by the model from this rank's sampling
generator) → ``cross_entropy_on_probabilities + regularization_penalty ·
model.regularization_loss()`` → backward (averaged over ranks) → clipping → Adam with the
staircase learning rate of the examples seen before the step.

Run directory (``README.md`` §5), written by rank 0 only::

    config.json        TrainConfig.to_dict()
    metrics.jsonl      one object per evaluation: epoch, step, examples, gap, hit_at_one,
                       perr, map, loss (validation), train_loss, lr, videos_per_s
    events.out.tfevents.*   TensorBoard scalars (train/loss, train/lr, eval/gap, ...)
    checkpoints/       step-NNNNNNNNN.pt (last N) and best.pt (circlearn.training.checkpoint)

**Evaluations** (with ``eval_data``): every ``eval_every_steps`` steps, or at the end of every
epoch when it is 0, and always at the final step: when the schedule's last evaluation is not
the final step (``max_steps`` reached inside an epoch, or with ``eval_every_steps`` 0 on the
last batch of an epoch, which stops before the epoch-end evaluation; ``max_steps`` or the
number of steps not a multiple of ``eval_every_steps``), the final model is evaluated after
the loop, so the last row of ``metrics.jsonl`` is the final step. When the schedule ends on
an evaluation, nothing is added. A step is never evaluated twice: ``pending[1]`` (steps
since the last evaluation, saved in the checkpoint) is 0 exactly when the current step has
been evaluated, also after a resume. Evaluation draws nothing from the training's
frame-sampling generator (the model reseeds its own evaluation sampler); the only global
torch RNG it draws is the evaluation DataLoader's base seed, and no training step reads the
global RNG (it serves the initialisation only), so an evaluation does not change the
training that follows it.

**Resume**: rerunning on a directory with checkpoints loads the latest one: model and
optimizer state, step and examples (the schedule), the data position
(``YT8MLoader.state_dict``), every rank's frame-sampling generator and global torch RNG, the
best GAP and the running training-loss sum. Rows of ``metrics.jsonl`` that the checkpoint does
not cover (later steps, or its own step when it was saved before that step's evaluation) are
dropped and TensorBoard purges later events, so a run killed at any moment and resumed
writes the same metrics as an uninterrupted run (evaluation is deterministic). Resuming a
finished run trains and evaluates nothing more. Checkpoints keep the run's wall seconds over
every session (``elapsed_seconds``; the summary's ``elapsed_before_seconds``: the resumed one's).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from circlearn.data.datasets import YT8MLoader
from circlearn.models import VideoClassifier
from circlearn.training import distributed
from circlearn.training.checkpoint import CheckpointManager, load_checkpoint
from circlearn.training.config import TrainConfig, incompatible_fields, loader_config
from circlearn.training.evaluation import eval_loader, evaluate, model_inputs
from circlearn.training.objective import (
    clip_gradients,
    cross_entropy_on_probabilities,
    staircase_learning_rate,
)

__all__ = ["train", "start_run", "TrainingDiverged", "prepare_run_dir", "set_batch_norm_momentum"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def prepare_run_dir(config: TrainConfig, is_main: bool = True) -> Path | None:
    """Create/check the run directory; returns the checkpoint to resume from (or None).

    Raises ``PermissionError`` (not writable), ``ValueError`` (a file, or a run with an
    incompatible configuration: the differing fields are named).
    """
    run_dir = Path(config.run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run directory {run_dir} exists and is not a directory")
    if is_main:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PermissionError(f"cannot create run directory {run_dir}: "
                                  f"{exc.strerror or exc}") from None
        if not os.access(run_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"run directory {run_dir} is not writable")
    latest = CheckpointManager(run_dir / "checkpoints").latest()
    saved_path = run_dir / "config.json"
    if latest is not None and saved_path.is_file():
        saved = json.loads(saved_path.read_text())
        diff = incompatible_fields(saved, config)
        if diff:
            now = config.to_dict()

            def value(d, key):
                return d.get("model", {}).get(key[6:]) if key.startswith("model.") else d.get(key)
            details = ", ".join(f"{k} (was {value(saved, k)!r}, now {value(now, k)!r})"
                                for k in diff)
            raise ValueError(f"cannot resume {run_dir}: the configuration differs in {details}; "
                             f"use another --train-dir or the saved options")
    if is_main:
        saved_path.write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    return latest


def set_batch_norm_momentum(model: torch.nn.Module, momentum: float) -> int:
    """Set ``momentum`` on every batch-norm layer; returns how many were changed."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for layer in layers:
        layer.momentum = momentum
    return len(layers)


def train(config: TrainConfig, *, on_step: Callable[[int], None] | None = None) -> dict:
    """Train (or resume) the run ``config`` describes; returns a summary dict.

    ``on_step(step)`` is called after every optimizer step (tests use it to simulate a kill).
    Under torchrun the process group is joined here (see :mod:`.distributed`).
    """
    ctx = distributed.setup(config.device)
    try:
        summary = _Trainer(config, ctx).run(on_step)
    except BaseException:
        distributed.teardown(ctx, synchronize=False)  # the other ranks may never get here
        raise
    distributed.teardown(ctx)
    return summary


def start_run(config: TrainConfig, model_state: dict) -> Path:
    """Create the run directory of ``config`` with ``model_state`` as its step-0 checkpoint.

    The run has not trained: ``train(config)`` resumes from that checkpoint (fresh optimizer,
    data position 0), and ``eval``, ``predict`` and ``export`` load it. A directory that
    already has checkpoints is refused (``ValueError``). Returns the checkpoint's path.
    """
    ctx = distributed.setup(config.device)
    try:
        if CheckpointManager(Path(config.run_dir) / "checkpoints").latest() is not None:
            raise ValueError(f"{config.run_dir} already has checkpoints")
        trainer = _Trainer(config, ctx)
        trainer.model.load_state_dict(model_state)
        trainer._save()
    finally:
        distributed.teardown(ctx, synchronize=False)
    return trainer.checkpoints.path_for(0)


class _Trainer:
    def __init__(self, config: TrainConfig, ctx: distributed.DistContext):
        self.cfg, self.ctx = cfg, ctx = config, ctx
        self.run_dir = Path(cfg.run_dir)
        m = cfg.model
        self.loader = YT8MLoader(
            cfg.train_data,
            loader_config(cfg, batch_size=cfg.batch_size, shuffle=True,
                          shuffle_buffer=cfg.shuffle_buffer, seed=cfg.seed, drop_last=True,
                          half_videos=cfg.data_augmentation),
            num_workers=cfg.num_workers, rank=ctx.rank, world_size=ctx.world_size,
            pin_memory=ctx.device.type == "cuda")
        if len(self.loader) == 0:
            raise ValueError(f"{cfg.train_data}: fewer videos per rank than batch_size "
                             f"{cfg.batch_size}: no full batch to train on")
        # The data is checked first, so a bad pattern leaves no run directory behind.
        resume = prepare_run_dir(cfg, ctx.is_main)
        torch.manual_seed(cfg.seed)  # identical initialisation on every rank
        self.model = VideoClassifier(m).to(ctx.device)
        if cfg.batch_norm_momentum is not None:
            set_batch_norm_momentum(self.model, cfg.batch_norm_momentum)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.base_learning_rate,
                                          betas=cfg.adam_betas, eps=cfg.adam_epsilon)
        self.sampling = torch.Generator().manual_seed(cfg.seed * 1_000_003 + ctx.rank)
        self.checkpoints = CheckpointManager(self.run_dir / "checkpoints", cfg.keep_checkpoints)
        self.step = self.examples = 0
        self.best_gap = -math.inf
        self.pending = [0.0, 0]  # training-loss sum and steps since the last evaluation
        self.resumed_from = None
        self.saved_step = None
        self.elapsed_before, self.started = 0.0, time.perf_counter()  # wall, earlier sessions
        if resume is not None:
            self._restore(load_checkpoint(resume))
            self.resumed_from, self.saved_step = str(resume), self.step
        self.forward = distributed.wrap_model(self.model, ctx, cfg.sync_batch_norm)
        if cfg.compile:
            self.forward = torch.compile(self.forward)
        self.videos_per_epoch = len(self.loader) * cfg.batch_size * ctx.world_size

    # ------------------------------------------------------------------ state
    def _state(self) -> dict:
        rng = {"sampling": distributed.all_gather_objects(self.sampling.get_state(), self.ctx),
               "torch": distributed.all_gather_objects(torch.get_rng_state(), self.ctx)}
        distributed.broadcast_buffers(self.model, self.ctx)
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "step": self.step, "examples": self.examples, "loader": self.loader.state_dict(),
                "rng": rng, "best_gap": self.best_gap, "pending": list(self.pending),
                "world_size": self.ctx.world_size, "config": self.cfg.to_dict(),
                "elapsed_seconds": self.elapsed_before + time.perf_counter() - self.started}

    def _restore(self, state: dict) -> None:
        if state.get("world_size", 1) != self.ctx.world_size:
            raise ValueError(f"cannot resume {self.run_dir}: it ran on {state.get('world_size')} "
                             f"processes, now {self.ctx.world_size}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loader.load_state_dict(state["loader"])
        self.sampling.set_state(state["rng"]["sampling"][self.ctx.rank])
        torch.set_rng_state(state["rng"]["torch"][self.ctx.rank])
        self.step, self.examples = int(state["step"]), int(state["examples"])
        self.best_gap = float(state["best_gap"])
        self.pending = [float(state["pending"][0]), int(state["pending"][1])]
        self.elapsed_before = float(state.get("elapsed_seconds", 0.0))  # older: not kept

    def _save(self, best: bool = False) -> None:
        state = self._state()  # collective: every rank takes part
        if self.ctx.is_main:
            self.checkpoints.save(state, self.step, best=best)
        self.saved_step = self.step

    # ------------------------------------------------------------------ logging
    def _open_logs(self) -> None:
        self.writer = None
        if not self.ctx.is_main:
            return
        path = self.run_dir / "metrics.jsonl"
        rows = []
        if path.exists():  # keep what the checkpoint already covers
            # A row of the checkpoint's own step is covered only when the checkpoint was
            # saved after that evaluation (then no step is pending); otherwise it is the
            # row of a final evaluation interrupted before its checkpoint: it is redone.
            last = self.step if self.pending[1] == 0 else self.step - 1
            rows = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= last]
            path.write_text("".join(r + "\n" for r in rows))
        if self.cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir),
                                        purge_step=self.step + 1 if self.step else None)

    def _record(self, row: dict) -> None:
        if not self.ctx.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for key in ("gap", "hit_at_one", "perr", "map", "loss"):
                self.writer.add_scalar(f"eval/{key}", row[key], self.step)
            self.writer.flush()

    # ------------------------------------------------------------------ steps
    def _train_step(self, batch) -> float:
        cfg, ctx = self.cfg, self.ctx
        lr = staircase_learning_rate(cfg.base_learning_rate, cfg.learning_rate_decay,
                                     cfg.learning_rate_decay_examples, self.examples)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        inputs = model_inputs(batch, ctx.device)
        kwargs = {"generator": self.sampling} if cfg.frame_level else {}
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            probs = self.forward(*inputs, **kwargs)  # (B, C)
        labels = batch.labels.to(ctx.device, non_blocking=True)
        loss = cross_entropy_on_probabilities(probs, labels)
        loss = loss + cfg.regularization_penalty * self.model.regularization_loss()
        value = distributed.all_reduce_sum([float(loss.detach())], ctx)[0] / ctx.world_size
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"loss is {value} at step {self.step + 1} (examples {self.examples}); training "
                f"stopped, the last good checkpoint in {self.checkpoints.directory} is kept — "
                f"try a lower --base-learning-rate or --clip-gradient-norm")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(self.model.parameters(), cfg.clip_gradient_norm, cfg.clip_mode)
        self.optimizer.step()
        self.step += 1
        self.examples += cfg.batch_size * ctx.world_size  # original videos, all ranks
        if self.writer is not None:
            self.writer.add_scalar("train/loss", value, self.step)
            self.writer.add_scalar("train/lr", lr, self.step)
        return value

    def _evaluate(self, train_seconds: float, session_examples: int) -> None:
        cfg = self.cfg
        distributed.broadcast_buffers(self.model, self.ctx)
        if cfg.eval_data:
            loader = eval_loader(cfg.eval_data, cfg, self.ctx)
            result = evaluate(self.model, loader, top_k=cfg.top_k, ctx=self.ctx, bf16=cfg.bf16)
            row = {"epoch": round(self.examples / self.videos_per_epoch, 4), "step": self.step,
                   "examples": self.examples,
                   **{k: result[k] for k in ("gap", "hit_at_one", "perr", "map", "loss")},
                   "train_loss": self.pending[0] / max(self.pending[1], 1),
                   "lr": staircase_learning_rate(cfg.base_learning_rate, cfg.learning_rate_decay,
                                                 cfg.learning_rate_decay_examples,
                                                 self.examples),
                   "videos_per_s": session_examples / max(train_seconds, 1e-9)}
            self.pending = [0.0, 0]
            self._record(row)
            best = row["gap"] > self.best_gap
            self.best_gap = max(self.best_gap, row["gap"])
            self.last_row = row
            self._log(f"eval step {self.step} epoch {row['epoch']:.2f}: GAP {row['gap']:.4f} "
                      f"Hit@1 {row['hit_at_one']:.4f} PERR {row['perr']:.4f} "
                      f"mAP {row['map']:.4f} loss {row['loss']:.3f}")
            self._save(best=best)
        else:
            self._save()

    def _log(self, message: str) -> None:
        if self.ctx.is_main:
            print(f"[circlearn train] {message}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ run
    def run(self, on_step: Callable[[int], None] | None) -> dict:
        cfg = self.cfg
        self._open_logs()
        self.last_row = None
        bar = self._progress_bar()
        if self.resumed_from:
            self._log(f"resuming from {self.resumed_from} (step {self.step})")
        self.train_seconds, self.session_examples = 0.0, 0
        try:
            while self.loader.epoch < cfg.num_epochs and not self._done():
                if self._epoch(bar, on_step) and not cfg.eval_every_steps:
                    self._evaluate(self.train_seconds, self.session_examples)  # the epoch ended
            if cfg.eval_data and self.pending[1]:
                # The schedule stopped between two evaluations (max_steps inside an epoch,
                # or eval_every_steps not dividing the number of steps): evaluate the final
                # step, once. A schedule that ends on an evaluation has nothing pending.
                self._evaluate(self.train_seconds, self.session_examples)
            if self.saved_step != self.step:
                self._save()
        finally:
            if bar is not None:
                bar.close()
            if getattr(self, "writer", None) is not None:
                self.writer.close()
        rate = self.session_examples / self.train_seconds if self.train_seconds else 0.0
        return {"run_dir": str(self.run_dir), "step": self.step, "examples": self.examples,
                "epoch": self.examples / self.videos_per_epoch, "best_gap": self.best_gap,
                "last": self.last_row, "videos_per_s": rate, "train_seconds": self.train_seconds,
                "elapsed_before_seconds": self.elapsed_before}

    def _done(self) -> bool:
        return self.cfg.max_steps is not None and self.step >= self.cfg.max_steps

    def _epoch(self, bar, on_step: Callable[[int], None] | None) -> bool:
        """Train on the loader's batches until the epoch ends (True) or ``max_steps`` is
        reached inside it (False), evaluating and checkpointing on the step schedule."""
        cfg = self.cfg
        tick = time.perf_counter()
        for batch in self.loader:
            value = self._train_step(batch)
            self.pending[0] += value
            self.pending[1] += 1
            self.session_examples += cfg.batch_size * self.ctx.world_size
            self.train_seconds += time.perf_counter() - tick
            self._report_step(bar, value)
            if cfg.eval_every_steps and self.step % cfg.eval_every_steps == 0:
                self._evaluate(self.train_seconds, self.session_examples)
            elif cfg.checkpoint_every_steps and self.step % cfg.checkpoint_every_steps == 0:
                self._save()
            if on_step is not None:
                on_step(self.step)
            if self._done():
                return False
            tick = time.perf_counter()
        return True

    def _progress_bar(self):
        """A tqdm bar on rank 0 when ``progress`` asks for one (default: stderr is a terminal)."""
        cfg = self.cfg
        progress = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
        if not (progress and self.ctx.is_main):
            return None
        from tqdm import tqdm

        total = cfg.num_epochs * len(self.loader)
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        return tqdm(total=total, initial=min(self.step, total), unit="step", dynamic_ncols=True)

    def _report_step(self, bar, value: float) -> None:
        rate = self.session_examples / max(self.train_seconds, 1e-9)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{value:.3f}", videos_per_s=f"{rate:.0f}")
        elif self.cfg.log_every_steps and self.step % self.cfg.log_every_steps == 0:
            self._log(f"step {self.step} epoch {self.loader.epoch} loss {value:.4f} "
                      f"{rate:.1f} videos/s")
