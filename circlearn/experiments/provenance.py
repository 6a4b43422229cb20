"""Where an experiment's numbers came from: code, command, libraries, data, machine load.

:func:`git_state` reads the commit of a checkout, whether its tracked files differ from it
(``dirty``) and, on request, the SHA-256 of ``git diff HEAD``. :func:`check_tree` refuses a
dirty tree when the output folder is under the repository's ``data_samples/results/`` (the
stored results) unless ``allow_dirty``; elsewhere it only records the state.
:func:`data_sha256` hashes the data files' names and bytes, :func:`data_draw` reads the
synthetic generator's seed from ``dataset.json`` and :func:`data_paths` writes the data's
paths relative to its root. :func:`provenance` assembles the ``results.json`` entry.

>>> sorted(versions())
['numpy', 'python', 'torch']
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["STORED_RESULTS", "git_state", "repository_root", "stored_results_dir",
           "check_tree", "versions", "data_sha256", "data_draw", "data_paths", "shown_root",
           "provenance", "load_average"]

#: Stored results, relative to the repository root: written only from a clean tree.
STORED_RESULTS = Path("data_samples") / "results"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=30, check=True)


def repository_root(path: str | Path | None = None) -> Path | None:
    """The top of the git checkout holding ``path`` (default: this package's source), or
    ``None`` outside git (an installed wheel)."""
    path = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        return Path(_git(path, "rev-parse", "--show-toplevel").stdout.decode().strip())
    except (OSError, subprocess.SubprocessError):
        return None


def git_state(root: str | Path | None, diff: bool = False) -> dict:
    """``{"commit", "dirty"}`` of the checkout at ``root`` (tracked files only: untracked
    ones do not make it dirty), plus ``diff_sha256`` (SHA-256 of ``git diff HEAD``) when
    ``diff`` and dirty; ``{"commit": None, "dirty": None}`` outside git."""
    if root is None:
        return {"commit": None, "dirty": None}
    try:
        commit = _git(Path(root), "rev-parse", "HEAD").stdout.decode().strip()
        status = _git(Path(root), "status", "--porcelain", "--untracked-files=no").stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    state = {"commit": commit, "dirty": bool(status.strip())}
    if diff and state["dirty"]:
        state["diff_sha256"] = hashlib.sha256(_git(Path(root), "diff", "HEAD").stdout).hexdigest()
    return state


def stored_results_dir(root: str | Path | None, out: str | Path) -> bool:
    """Whether ``out`` resolves to a folder under ``root``'s ``data_samples/results/``."""
    if root is None:
        return False
    return Path(out).resolve().is_relative_to((Path(root) / STORED_RESULTS).resolve())


def check_tree(root: str | Path | None, out: str | Path, allow_dirty: bool = False) -> dict:
    """:func:`git_state` of ``root``; raises ``ValueError`` when the tree is dirty and ``out``
    is under its stored results, unless ``allow_dirty`` (then the diff's hash is recorded)."""
    state = git_state(root, diff=allow_dirty)
    if state["dirty"] and not allow_dirty and stored_results_dir(root, out):
        raise ValueError(f"{out} is under {STORED_RESULTS}/ and {root} has uncommitted changes: "
                         f"commit them first, or pass --allow-dirty to record the diff's hash")
    return state


def versions() -> dict:
    """The Python, numpy and torch versions."""
    import numpy
    import torch

    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch.__version__}


def load_average() -> list[float] | None:
    """``os.getloadavg()`` (1, 5 and 15 minutes), ``None`` where the system has none."""
    return [round(x, 3) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def data_sha256(files: Iterable[str | Path]) -> str:
    """SHA-256 over the files' names and bytes, in the order given (the bundled quick data,
    7 files of 7.9 MB, take about 0.02 s)."""
    h = hashlib.sha256()
    for path in files:
        path = Path(path)
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def data_draw(layout) -> int | None:
    """The generator seed of a synthetic dataset (``config.seed`` of its ``dataset.json``);
    ``None`` for real data."""
    meta = Path(layout.root) / "dataset.json"
    if layout.generator_version is None or not meta.is_file():
        return None
    seed = json.loads(meta.read_text()).get("config", {}).get("seed")
    return int(seed) if seed is not None else None


def shown_root(root: str | Path) -> str:
    """The data root as results show it: relative to the working directory when inside it,
    ``<cache>/…`` inside circlearn's data cache, else the absolute path with ``~`` for home."""
    from circlearn.data.synth import cache_root

    root = Path(root).resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (cache_root().resolve(), "<cache>/")):
        if root.is_relative_to(base):
            return prefix + root.relative_to(base).as_posix()
    home = Path.home().resolve()
    return "~/" + root.relative_to(home).as_posix() if root.is_relative_to(home) else str(root)


def data_paths(layout, train: str, validate: str, test: str | None) -> dict:
    """The data's ``root`` (:func:`shown_root`) and its files' globs relative to it."""
    def rel(path) -> str:  # a comma-separated list: each entry
        return ",".join(Path(os.path.relpath(p, layout.root)).as_posix()
                        for p in str(path).split(","))

    source = layout.source
    sizes_from = rel(source) if str(source).endswith("dataset.json") else \
        f"first record of {rel(layout.frame_dir)}/train* and vocabulary.csv"
    return {"root": shown_root(layout.root), "train": rel(train), "eval": rel(validate),
            "sizes_from": sizes_from, "test": rel(test) if test is not None else None}


def provenance(files: Sequence[str | Path], layout, *, code: dict,
               command: Sequence[str] | None) -> dict:
    """The ``results.json`` provenance at the start of an experiment: ``code``
    (:func:`check_tree`), the command line, versions, generator version and draw, and the
    data hash; the runner adds ``reused``, the load averages and the wall time."""
    return {**code, "command": list(command) if command is not None else None,
            "versions": versions(), "generator_version": layout.generator_version,
            "data_draw": data_draw(layout), "data_sha256": data_sha256(files),
            "data_files": len(files)}
