"""File patterns and record indexes for TFRecord datasets; files and folders written at once.

Patterns follow the YouTube-8M starter code (and the circulant fork): one string of
comma-separated globs, e.g. ``"data/train*.tfrecord,data/validate[A-Z]*.tfrecord"``, or an
explicit list of paths/globs. Each glob's matches are sorted; the globs keep their order;
a file matched twice is listed once. A glob that matches nothing is an error that shows it.

:func:`atomic_write` and :func:`atomic_directory` write a file or build a folder under a hidden
temporary name beside the target and rename it into place only once complete (``os.replace``
is atomic on POSIX and Windows): a crash or an exception leaves the old file (or no folder),
never half of the new one, and no temporary file behind.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tfrecord import record_index

__all__ = ["resolve_files", "RecordIndex", "atomic_write", "atomic_directory"]


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


# ----------------------------------------------------------------------------- atomic writes

@contextmanager
def _rename_into_place(tmp: Path, path: Path, remove) -> Iterator[None]:
    """On success rename ``tmp`` over ``path``; on any exception ``remove(tmp)`` and re-raise."""
    try:
        yield
        os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, fsync: bool = False,
                 **open_args) -> Iterator:
    """Write ``path`` all at once: yield a file object, rename it over ``path`` when done.

    The file is opened with ``mode`` (``"wb"``, ``"w"`` or ``"wt"``; ``open_args`` such as
    ``encoding`` or ``newline`` go to :func:`open`) on a hidden temporary file
    ``.<name>.<random>.tmp`` in the same folder, created with an ordinary file's permissions
    (``0o666`` less the umask). When the ``with`` block ends normally the file is closed
    (flushed and ``os.fsync`` ed first if ``fsync``) and renamed over ``path``; if anything
    raises, the temporary file is removed and ``path`` is untouched.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("done\\n")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('done\\n', ['out.txt'])
    """
    if mode not in ("wb", "w", "wt"):
        raise ValueError(f"atomic_write writes whole files: mode 'wb', 'w' or 'wt', not {mode!r}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with _rename_into_place(tmp, path, lambda p: p.unlink(missing_ok=True)):
        try:
            f = os.fdopen(fd, mode, **open_args)
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Build the folder ``path`` all at once: yield an empty temporary folder to fill.

    The temporary folder ``.<name>.tmp-<pid>-<random>`` is made beside ``path`` (its parent
    created if needed), with an ordinary folder's permissions. When the ``with`` block ends
    normally it is renamed to ``path``, which must then be absent or an empty folder (a
    non-empty one makes the rename raise ``OSError``); if anything raises, the temporary
    folder is removed. Leftovers of processes that were killed before they could clean up
    (their process id no longer runs) are removed on entry.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp-"
    for old in path.parent.glob(glob.escape(prefix) + "*"):
        pid = old.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    tmp = path.with_name(f"{prefix}{os.getpid()}-{secrets.token_hex(8)}")
    tmp.mkdir()
    with _rename_into_place(tmp, path, lambda p: shutil.rmtree(p, ignore_errors=True)):
        yield tmp
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()  # an empty target folder gives way to the finished one


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
