"""Checkpoints that lose nothing: atomic files, last N kept plus the best, safe loading.

A checkpoint is one ``torch.save`` file holding only tensors and plain containers (dicts,
lists, tuples, numbers, strings), so it loads with ``torch.load(weights_only=True)``: no
pickled code runs. Contents (written by :mod:`circlearn.training.loop`): ``model``,
``optimizer``, ``step``, ``examples``, ``loader`` (the data position), ``rng`` (every rank's
sampling generator and global torch state), ``best_gap``, ``pending`` (the training-loss
accumulator since the last evaluation) and ``config``.

Files: ``checkpoints/step-000000120.pt`` (the last ``keep`` of them) and
``checkpoints/best.pt`` (highest validation GAP). Each is written to a temporary file in the
same directory, flushed to disk and renamed over the target
(:func:`circlearn.data.files.atomic_write`), so a crash leaves either the old or the new file,
never half of one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from circlearn.data.files import atomic_write

__all__ = ["CheckpointManager", "atomic_save", "load_checkpoint"]

_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")


def atomic_save(obj, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` through a temporary file and an atomic rename."""
    path = Path(path)
    with atomic_write(path, "wb", fsync=True) as f:
        torch.save(obj, f)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint on the CPU with ``weights_only=True`` (no code execution)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from None


class CheckpointManager:
    """Step checkpoints in ``directory`` (last ``keep`` kept) plus ``best.pt``."""

    def __init__(self, directory: str | os.PathLike, keep: int = 3):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.keep = keep

    def path_for(self, step: int) -> Path:
        return self.directory / f"step-{step:09d}.pt"

    @property
    def best_path(self) -> Path:
        return self.directory / "best.pt"

    def steps(self) -> list[int]:
        """Steps with a checkpoint file, ascending."""
        if not self.directory.is_dir():
            return []
        found = (_STEP_FILE.match(p.name) for p in self.directory.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def latest(self) -> Path | None:
        steps = self.steps()
        return self.path_for(steps[-1]) if steps else None

    def save(self, state: dict, step: int, best: bool = False) -> Path:
        """Write the step checkpoint (and ``best.pt``), then delete the oldest beyond ``keep``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = atomic_save(state, self.path_for(step))
        if best:
            atomic_save(state, self.best_path)
        for old in self.steps()[:-self.keep]:
            self.path_for(old).unlink(missing_ok=True)
        return path
