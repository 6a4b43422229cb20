"""``TrainConfig``: everything that defines a training run, as one validated dataclass.

Defaults are the paper's (``paper.md`` §3.6, §3.8): Adam, base learning rate 2e-4 decayed
×0.8 every 4M examples (staircase), per-tensor clipping at 1.0, L2 penalty weight 1, batch
80 videos per process. ``model`` is a :class:`circlearn.models.ModelConfig` (build it with
:func:`circlearn.models.preset_config`). ``config.json`` in the run directory is
``TrainConfig.to_dict()``; rerunning on the directory resumes only when the fields outside
:data:`RESUMABLE_FIELDS` are equal (:func:`incompatible_fields` names the others).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from circlearn.config import dataclass_from_dict
from circlearn.data.datasets import LoaderConfig
from circlearn.models import ModelConfig
from circlearn.training.distributed import DEVICES
from circlearn.training.objective import CLIP_MODES

__all__ = ["TrainConfig", "RESUMABLE_FIELDS", "incompatible_fields", "loader_config", "DEVICES"]

#: Fields that may change when a run resumes (they do not change the optimisation path,
#: except ``num_epochs``/``max_steps``, which only move the end; ``preset`` is a name: the
#: model it built is compared field by field).
RESUMABLE_FIELDS = frozenset({
    "num_epochs", "max_steps", "eval_data", "eval_batch_size", "eval_every_steps",
    "checkpoint_every_steps", "keep_checkpoints", "num_workers", "device", "log_every_steps",
    "progress", "compile", "run_dir", "tensorboard", "preset",
})


@dataclass
class TrainConfig:
    """A training run.

    Attributes:
        train_data: comma-separated globs of training TFRecords (``--train_data_pattern``).
        eval_data: validation globs; ``None`` skips periodic evaluation.
        run_dir: the run directory (``--train_dir``).
        model: the model's configuration.
        preset: the model preset (:data:`circlearn.models.PRESETS`) the model was built from;
            None: built by hand.
        frame_level: frame-level SequenceExamples (True) or video-level Examples.
        max_frames: frames kept per video (pad/truncate), the paper's 300.
        batch_size: original videos per step **per process** (global batch = × world size).
        num_epochs: passes over the training files; ``max_steps`` stops earlier when set.
        max_steps: stop after this many steps (None: after ``num_epochs``).
        base_learning_rate, learning_rate_decay, learning_rate_decay_examples: the staircase
            schedule ``base · decay^floor(examples seen / decay_examples)``.
        adam_betas, adam_epsilon: TensorFlow's Adam defaults.
        clip_gradient_norm, clip_mode: gradient clipping threshold and mode ("per-tensor":
            the paper's; :mod:`circlearn.training.objective`).
        batch_norm_momentum: overrides every batch norm's ``momentum`` (running-average
            update rate); ``None`` keeps the model's (the paper's TensorFlow decay 0.999, i.e.
            0.001, made for ~10⁵ steps: a run of a few hundred steps needs e.g. 0.05, else
            evaluation uses nearly the initial statistics).
        regularization_penalty: weight of ``model.regularization_loss()`` in the loss.
        data_augmentation: half-video split (``2B`` half-videos per step, same labels).
        shuffle_buffer: the loader's shuffle buffer (records).
        eval_every_steps: evaluate every N steps; 0 evaluates at the end of every epoch.
            The final step is always evaluated too (once), wherever the run stops.
        eval_batch_size: videos per evaluation batch.
        checkpoint_every_steps: also checkpoint every N steps (0: only at evaluations/end).
        keep_checkpoints: last N step checkpoints kept (plus ``best.pt``).
        top_k: GAP@k of the evaluation (20).
        seed: model initialisation, data order and frame sampling.
        num_workers: DataLoader workers per process.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        bf16: bfloat16 autocast of the forward pass (meant for GPUs; off by default, and slower
            than float32 on most CPUs).
        compile: ``torch.compile`` the model (meant for GPUs; off by default).
        sync_batch_norm: under ``torch.distributed``, batch-norm statistics over all ranks
            (``nn.SyncBatchNorm``); False keeps them per rank, like the paper's towers.
        log_every_steps: plain log line every N steps when stderr is not a terminal.
        progress: progress bar (True), log lines (False), or by terminal (None).
        tensorboard: write TensorBoard event files.
    """

    train_data: str = ""
    eval_data: str | None = None
    run_dir: str = "runs/default"
    model: ModelConfig = field(default_factory=ModelConfig)
    preset: str | None = None
    frame_level: bool = True
    max_frames: int = 300
    batch_size: int = 80
    num_epochs: int = 15
    max_steps: int | None = None
    base_learning_rate: float = 2e-4
    learning_rate_decay: float = 0.8
    learning_rate_decay_examples: int = 4_000_000
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_epsilon: float = 1e-8
    clip_gradient_norm: float = 1.0
    clip_mode: str = "per-tensor"
    regularization_penalty: float = 1.0
    batch_norm_momentum: float | None = None
    data_augmentation: bool = False
    shuffle_buffer: int = 1024
    eval_every_steps: int = 0
    eval_batch_size: int = 1024
    checkpoint_every_steps: int = 1000
    keep_checkpoints: int = 3
    top_k: int = 20
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    bf16: bool = False
    compile: bool = False
    sync_batch_norm: bool = False
    log_every_steps: int = 50
    progress: bool | None = None
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        if not isinstance(self.model, ModelConfig):
            raise ValueError(f"model must be a ModelConfig, got {type(self.model).__name__}")
        self.adam_betas = tuple(float(b) for b in self.adam_betas)
        if not self.train_data:
            raise ValueError("train_data: give the training files (--train-data-pattern)")
        if self.model.frame_level != self.frame_level:
            raise ValueError(f"the model is {'frame' if self.model.frame_level else 'video'}-"
                             f"level but frame_level={self.frame_level}")
        for name in ("max_frames", "batch_size", "num_epochs", "learning_rate_decay_examples",
                     "eval_batch_size", "keep_checkpoints", "top_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("eval_every_steps", "checkpoint_every_steps", "num_workers", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {self.max_steps}")
        if not self.base_learning_rate > 0 or not 0 < self.learning_rate_decay <= 1:
            raise ValueError(f"need base_learning_rate > 0 and 0 < learning_rate_decay <= 1, got "
                             f"{self.base_learning_rate} and {self.learning_rate_decay}")
        if self.clip_mode not in CLIP_MODES:
            raise ValueError(f"clip_mode {self.clip_mode!r}; valid: {', '.join(CLIP_MODES)}")
        if not self.clip_gradient_norm > 0:
            raise ValueError(f"clip_gradient_norm must be > 0, got {self.clip_gradient_norm}")
        if self.batch_norm_momentum is not None and not 0 < self.batch_norm_momentum <= 1:
            raise ValueError(f"batch_norm_momentum must be in (0, 1], got "
                             f"{self.batch_norm_momentum}")
        if self.device not in DEVICES:
            raise ValueError(f"device {self.device!r}; valid: {', '.join(DEVICES)}")
        if self.data_augmentation and (not self.frame_level or self.max_frames % 2):
            raise ValueError("data_augmentation needs frame-level data and an even max_frames")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (``model`` as a dict, tuples as lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, ModelConfig):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; an unknown key raises ``ValueError`` naming it."""
        return dataclass_from_dict(cls, data)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def incompatible_fields(saved: dict[str, Any], current: TrainConfig) -> list[str]:
    """Fields (``model.<name>`` for the model) whose values differ and forbid a resume."""
    now = current.to_dict()
    diff = []
    for key in sorted(set(saved) | set(now)):
        if key in RESUMABLE_FIELDS:
            continue
        if key == "model":
            old, new = saved.get("model") or {}, now["model"]
            diff += [f"model.{k}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        elif saved.get(key) != now.get(key):
            diff.append(key)
    return diff


def loader_config(config: TrainConfig, *, batch_size: int, **fields: Any) -> LoaderConfig:
    """The :class:`~circlearn.data.datasets.LoaderConfig` of a run's data: the model's feature
    names, sizes and classes, the run's ``frame_level`` and ``max_frames``; ``fields`` are the
    pass's own (shuffling, dropping the last batch…). Training and evaluation both use it."""
    m = config.model
    return LoaderConfig(batch_size=batch_size, frame_level=config.frame_level,
                        feature_names=m.feature_names, feature_sizes=m.feature_sizes,
                        num_classes=m.num_classes, max_frames=config.max_frames, **fields)
