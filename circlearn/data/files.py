"""File patterns and record indexes for TFRecord datasets.

Patterns follow the YouTube-8M starter code (and the circulant fork): one string of
comma-separated globs, e.g. ``"data/train*.tfrecord,data/validate[A-Z]*.tfrecord"``, or an
explicit list of paths/globs. Each glob's matches are sorted; the globs keep their order;
a file matched twice is listed once. A glob that matches nothing is an error that shows it.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tfrecord import record_index

__all__ = ["resolve_files", "RecordIndex"]


def resolve_files(pattern: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """Expand a comma-separated glob string (or a list of paths/globs) into file paths.

    >>> resolve_files("/nonexistent/train*.tfrecord")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no file matches '/nonexistent/train*.tfrecord' (from pattern ...)
    """
    if isinstance(pattern, (str, os.PathLike)):
        parts = [p.strip() for p in str(pattern).split(",")]
    else:
        parts = [str(p).strip() for p in pattern]
    parts = [p for p in parts if p]
    if not parts:
        raise ValueError(f"empty file pattern {pattern!r}")
    files: list[str] = []
    seen = set()
    for part in parts:
        expanded = os.path.expanduser(part)
        matches = sorted(glob.glob(expanded)) if glob.has_magic(expanded) else (
            [expanded] if os.path.exists(expanded) else [])
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise FileNotFoundError(f"no file matches {part!r} (from pattern {str(pattern)!r})")
        for m in matches:
            if m not in seen:
                seen.add(m)
                files.append(m)
    return files


@dataclass
class RecordIndex:
    """Where every record of a list of files is: global record ``g`` is record
    ``local[g]`` of ``files[file[g]]``, whose header starts at byte ``offset[g]``."""

    files: list[str]
    file: np.ndarray    # (N,) int64
    local: np.ndarray   # (N,) int64
    offset: np.ndarray  # (N,) int64

    @classmethod
    def build(cls, files: Sequence[str]) -> RecordIndex:
        """Scan the files' record headers (length CRCs checked; payloads not read)."""
        offsets = [record_index(f) for f in files]
        counts = [len(o) for o in offsets]
        file = np.repeat(np.arange(len(files), dtype=np.int64), counts)
        local = np.concatenate([np.arange(c, dtype=np.int64) for c in counts]) if files else \
            np.zeros(0, np.int64)
        offset = np.concatenate(offsets) if files else np.zeros(0, np.int64)
        return cls(list(files), file, local, offset.astype(np.int64))

    def __len__(self) -> int:
        return int(self.file.shape[0])

    def counts(self) -> np.ndarray:
        """Records per file, ``(files,)``."""
        return np.bincount(self.file, minlength=len(self.files))

    def fingerprint(self) -> dict:
        """A small summary that identifies the dataset in a resume state."""
        return {"files": len(self.files), "records": len(self),
                "first": Path(self.files[0]).name if self.files else "",
                "last": Path(self.files[-1]).name if self.files else ""}
