"""When an experiment may continue or reuse a run directory: same configuration, same data.

Rerunning an experiment with the same output folder continues it: a run directory with
checkpoints is resumed (unfinished) or reused as it is (finished). Before that,
:func:`prepare_run` checks two things, and retrains the run from scratch (saying why in one
line) when either fails:

- the run's ``config.json`` equals the configuration asked for, field by field, model
  included, except :data:`IGNORED_FIELDS` (where the run lives, the data folders, whose
  bytes the next check covers, logging, and the preset's name, whose model and training
  fields are compared one by one: fig-structures' one-factor circulant FC is fig-embeddings'
  ``dbof-fc-circulant``; the training files' names still count, so a run on a subset of the
  shards is never taken for one on all of them);
- the SHA-256 of the experiment's data (every split's records and the test labels, see
  :func:`circlearn.experiments.provenance.data_sha256`) equals the one recorded in the run's
  ``experiment.json`` (:data:`RECORD`) when it began. A run without that record (trained
  outside an experiment, or by an older circlearn) is retrained.

A run directory copied from another folder (its ``config.json`` names another ``run_dir``)
passes the same checks; ``experiment.json`` keeps where it was trained (``source``), which
``results.json`` lists under ``provenance.reused``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from circlearn.training.checkpoint import CheckpointManager

__all__ = ["RECORD", "IGNORED_FIELDS", "RunState", "config_differences", "prepare_run",
           "finish_run", "reuse_entry"]

#: The record an experiment keeps in each run directory.
RECORD = "experiment.json"

#: ``TrainConfig`` fields that may differ in a reused run: none changes its numbers.
IGNORED_FIELDS = frozenset({"run_dir", "train_data", "eval_data", "progress", "log_every_steps",
                            "tensorboard", "num_workers", "preset"})


@dataclass
class RunState:
    """A run directory before training: its last checkpoint's ``step`` (``None``: none) and
    ``source``, the folder it was trained in when that is another one."""

    run_dir: Path
    step: int | None = None
    source: str | None = None


def _plain(value):
    return json.loads(json.dumps(value))  # tuples as lists, as config.json holds them


def _file_names(pattern) -> list[str] | None:
    """The last path part of each comma-separated entry: which shards, wherever they are."""
    return None if pattern is None else [Path(p).name for p in str(pattern).split(",")]


def config_differences(saved: dict, wanted: dict) -> list[str]:
    """Fields (``model.<name>`` inside the model) whose values differ, outside
    :data:`IGNORED_FIELDS`; ``train_data`` counts when its file names or globs differ (a
    subset of the shards, ``fig-scaling``), not when only their folder does.

    >>> config_differences({"seed": 0, "model": {"fc": "dense"}, "run_dir": "a"},
    ...                    {"seed": 0, "model": {"fc": "circulant"}, "run_dir": "b"})
    ['model.fc']
    >>> config_differences({"train_data": "/a/train*.tfrecord"},
    ...                    {"train_data": "/b/train*.tfrecord"})
    []
    >>> config_differences({"train_data": "/a/train*.tfrecord"},
    ...                    {"train_data": "/a/t0.tfrecord,/a/t1.tfrecord"})
    ['train_data']
    """
    saved, wanted = _plain(saved), _plain(wanted)
    diff = [] if _file_names(saved.get("train_data")) == _file_names(wanted.get("train_data")) \
        else ["train_data"]
    for key in sorted((set(saved) | set(wanted)) - IGNORED_FIELDS):
        old, new = saved.get(key), wanted.get(key)
        if key == "model" and isinstance(old, dict) and isinstance(new, dict):
            diff += [f"model.{k}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        elif old != new:
            diff.append(key)
    return diff


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _why_not(run_dir: Path, wanted: dict, data_hash: str) -> str | None:
    """Why the run in ``run_dir`` cannot continue (``None``: it can)."""
    saved = _read(run_dir / "config.json")
    if saved is None:
        return "it has checkpoints but no readable config.json"
    diff = config_differences(saved, wanted)
    if diff:
        return f"its configuration differs in {', '.join(diff)}"
    record = _read(run_dir / RECORD) or {}
    if record.get("data_sha256") is None:
        return f"it has no {RECORD} recording the hash of its data"
    if record["data_sha256"] != data_hash:
        return (f"its data differ (SHA-256 {record['data_sha256'][:12]}…, now "
                f"{data_hash[:12]}…)")
    return None


def _source(run_dir: Path, saved_dir: str | None, record: dict) -> str | None:
    if record.get("source"):
        return record["source"]
    if saved_dir and Path(saved_dir).resolve() != run_dir.resolve():
        return saved_dir
    return None


def prepare_run(cfg: dict, data_hash: str, *, log=print, writer: bool = True) -> RunState:
    """Check the run directory of ``cfg`` (``TrainConfig.to_dict()``) before training: empty
    it when it cannot continue, and record the data hash (``writer``: this process writes;
    under ``torchrun`` every rank checks and empties, rank 0 writes)."""
    run_dir = Path(cfg["run_dir"])
    steps = CheckpointManager(run_dir / "checkpoints").steps() if run_dir.is_dir() else []
    state = RunState(run_dir, steps[-1] if steps else None)
    if state.step is not None:
        why = _why_not(run_dir, cfg, data_hash)
        if why is not None:
            log(f"retraining {run_dir}: {why}")
            shutil.rmtree(run_dir, ignore_errors=True)
            state.step = None
        else:
            record = _read(run_dir / RECORD) or {}
            state.source = _source(run_dir, (_read(run_dir / "config.json") or {}).get("run_dir"),
                                   record)
    if writer:
        record = (_read(run_dir / RECORD) or {}) if state.step is not None else {}
        record.update({"data_sha256": data_hash, "source": state.source})
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return state


def finish_run(state: RunState, run: dict, *, writer: bool = True) -> bool:
    """After training: whether the run was reused (it trained no step). ``run["seconds"]``
    becomes the run's training time over every session (the record keeps the total; a
    reused run's loading is not counted). ``run["seconds"]`` already spans the earlier
    sessions when its checkpoint kept their time (``run["seconds_before"] > 0``, removed
    here); a run resumed from a checkpoint without it adds the record's seconds."""
    reused = state.step is not None and run["steps"] == state.step
    record = _read(state.run_dir / RECORD) or {}
    spans_all = run.pop("seconds_before", 0.0) > 0
    total = record.get("seconds", run["seconds"]) if reused else run["seconds"] if spans_all \
        else round(record.get("seconds", 0.0) + run["seconds"], 1)
    if writer and not reused:
        record["seconds"] = total
        (state.run_dir / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    run["seconds"] = total
    return reused


def reuse_entry(state: RunState, variant: str, seed: int, out: Path) -> dict:
    """``provenance.reused``'s entry for a reused run: where it was trained (relative to
    ``out``), and that folder's experiment when its ``results.json`` names one."""
    source = Path(state.source) if state.source else state.run_dir
    entry = {"variant": variant, "seed": seed, "copied": state.source is not None,
             "source": Path(os.path.relpath(source, out)).as_posix()}
    results = _read(source.parent.parent.parent / "results.json") if state.source else None
    if results and results.get("experiment"):
        entry["experiment"] = results["experiment"]
    return entry
