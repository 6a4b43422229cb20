r"""``fig-compress``, beyond the paper: project a trained dense FC, then fine-tune, or train
the compact model from scratch?

None of the paper's code measures this. Per pooling (DBoF, NetVLAD, both streams) and seed,
with ``E`` the figure's epochs and ``N`` the fine-tuning epochs:

================================ ============================================================
variant                          what it is
================================ ============================================================
``<pooling>``                    the dense model, ``E`` epochs: the same configuration as
                                 fig-embeddings' dense run, so a copy of that run is reused
                                 when its configuration and data bytes match
``<pooling>-projected-<kind>``   its FC projected onto ``kind`` (``circulant``, learned
                                 diagonal, or ``toeplitz``), nearest in the Frobenius norm,
                                 batch norm re-estimated, **not** fine-tuned
``<pooling>-fine-tuned-<kind>``  the projection, then fine-tuned for ``N`` epochs
``<pooling>-scratch-<kind>``     the compact model trained from scratch for ``E + N`` epochs
================================ ============================================================

The projected and fine-tuned runs are what ``circlearn compress --fc KIND --fine-tune-epochs
N`` writes from the dense run (:func:`circlearn.training.compress.compress_run`). Scratch gets
as many steps as dense training plus fine-tuning: is the dense model's training worth more as
a starting point than the same steps spent on the compact model itself?

**Fine-tuning epochs**: ``N = ceil(E / 4)`` (:func:`fine_tune_epochs`; quick ``E = 10`` and
medium ``E = 12`` both give ``N = 3``), fixed before any run, not chosen on any GAP: a
quarter of the dense budget is short next to the training it reuses, yet several epochs.

**Fine-tuning rate**: the base rate, schedule restarted (``circlearn compress``'s default),
chosen on the calibration draw over a tenth and a thirtieth of it
(``benchmarks/fine_tune_lr.py``; ``benchmarks/results/fine_tune_lr-medium.md``).

**Claims**: "fine-tuned better than scratch" (``b better than a``, b − a > 0) per pooling and
kind: four comparisons, one Holm family per split and direction, as every figure. The
projected and fine-tuned models have the scratch model's size. The plateau rule applies to
every curve; a projected model has one evaluation and a fine-tuned one ``N``, fewer than the
rule's 4, so they show no plateau gain (✗). :func:`compress_one` is the runner's task for the
projected and fine-tuned variants, run after the dense runs they start from.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NAME", "POOLINGS", "KINDS", "Stage", "fine_tune_epochs", "variants", "claims",
           "stage_epochs", "variant_details", "compress_one"]

#: The experiment's name in :data:`circlearn.experiments.BEYOND_PAPER`.
NAME = "fig-compress"
POOLINGS = ("dbof", "netvlad")
#: FC structures the dense FC is projected onto (``circlearn compress --fc``).
KINDS = ("circulant", "toeplitz")
_LABELS = {"dbof": "DBoF", "netvlad": "NetVLAD"}


@dataclass(frozen=True)
class Stage:
    """How a fig-compress variant is obtained: ``kind`` is ``"dense"``, ``"scratch"``,
    ``"projected"`` or ``"fine-tuned"``; ``source``: the dense variant projected (projected
    and fine-tuned only)."""

    kind: str
    source: str | None = None


def fine_tune_epochs(epochs: int) -> int:
    """``N = ceil(E / 4)``: the fine-tuning epochs after ``E`` dense epochs (module docstring).

    >>> fine_tune_epochs(10), fine_tune_epochs(12), fine_tune_epochs(1)
    (3, 3, 1)
    """
    if epochs < 1:
        raise ValueError(f"{NAME} needs at least 1 dense epoch, got {epochs}")
    return math.ceil(epochs / 4)


def stage_epochs(stage: Stage, epochs: int) -> int:
    """The ``num_epochs`` of a run of ``stage`` when the dense model trains ``epochs``:
    ``E``, ``E + N``, ``N``, and 1 for a projection (what ``compress_run`` writes into its
    ``config.json`` when it does not fine-tune: the run folder stays resumable; no epoch of
    it is trained here)."""
    n = fine_tune_epochs(epochs)
    return {"dense": epochs, "scratch": epochs + n, "fine-tuned": n, "projected": 1}[stage.kind]


def variants(variant_class) -> tuple:
    """Per pooling: dense, then per kind projected, fine-tuned and scratch (all on the
    pooling's base preset, the FC kind as an override, so that every compact variant of a
    kind has the same model configuration)."""
    out = []
    for p in POOLINGS:
        out.append(variant_class(p, p, f"{_LABELS[p]} dense", stage=Stage("dense")))
        for k in KINDS:
            for kind, label in (("projected", "projected"), ("fine-tuned", "projected + fine-tuned"),
                                ("scratch", "from scratch")):
                source = None if kind == "scratch" else p
                out.append(variant_class(f"{p}-{kind}-{k}", p, f"{_LABELS[p]} {k} {label}",
                                         {"fc": k}, stage=Stage(kind, source)))
    return tuple(out)


def claims(better: str) -> tuple:
    """"Fine-tuned better than scratch", per pooling and kind."""
    return tuple((f"{p}-scratch-{k}", f"{p}-fine-tuned-{k}", better)
                 for p in POOLINGS for k in KINDS)


def variant_details(stage: Stage, epochs: int) -> dict:
    """``stage``, ``source`` and the ``epochs`` a variant trained (0 for a projection)."""
    trained = 0 if stage.kind == "projected" else stage_epochs(stage, epochs)
    return {"stage": stage.kind, "source": stage.source, "epochs": trained}


def _compressed(cfg: dict, dense_dir: str, epochs: int) -> float:
    """Write the run folder ``cfg["run_dir"]`` with ``circlearn compress`` from ``dense_dir``
    (settings and data from ``cfg``, the weights from the dense run); its seconds. The
    folder's experiment record (:data:`circlearn.experiments.reuse.RECORD`) is kept."""
    from circlearn.experiments.reuse import RECORD
    from circlearn.training.compress import CompressConfig, compress_run

    run_dir = Path(cfg["run_dir"])
    record = run_dir / RECORD
    saved = record.read_text() if record.is_file() else None
    shutil.rmtree(run_dir, ignore_errors=True)  # no checkpoint: nothing to keep but the record
    settings = {k: v for k, v in cfg.items() if k not in ("model", "run_dir", "num_epochs",
                                                           "max_steps")}
    report = compress_run(dense_dir, run_dir, CompressConfig(fc=cfg["model"]["fc"],
                                                             fine_tune_epochs=epochs), settings)
    if saved is not None:
        record.write_text(saved)
    return report["seconds"]


def compress_one(cfg: dict, dense_dir: str, epochs: int, test_pattern: str | None,
                 labels_csv: str | None, threads: int | None = None) -> dict:
    """The runner's task for a projected (``epochs = 0``) or fine-tuned run: compress the
    trained dense run ``dense_dir`` into ``cfg["run_dir"]`` unless that folder already holds
    a checkpoint (checked by :func:`circlearn.experiments.reuse.prepare_run`), then read it
    as :func:`circlearn.experiments.runs.run_one` reads a trained run. A projected run's
    curve is its one evaluation (epoch 0); ``dense_gap`` and ``projected_gap`` (validate,
    from ``compress.json``) are added."""
    import torch

    from circlearn.experiments.runs import checkpoint_metrics, final_test_metrics, run_one
    from circlearn.training import TrainConfig
    from circlearn.training.checkpoint import CheckpointManager

    if threads:
        torch.set_num_threads(threads)
    run_dir = Path(cfg["run_dir"])
    tick = time.perf_counter()
    if CheckpointManager(run_dir / "checkpoints").latest() is None:
        _compressed(cfg, dense_dir, epochs)
    report = json.loads((run_dir / "compress.json").read_text())
    if epochs:
        run = run_one(cfg, test_pattern, labels_csv)  # finished: reads, trains no step
    else:
        val = checkpoint_metrics(run_dir, cfg["eval_data"])
        test = final_test_metrics(TrainConfig.from_dict(cfg), test_pattern, labels_csv) \
            if labels_csv else {}
        run = {"gap": val["gap"], "test_gap": test.get("gap"), "hit_at_one": val["hit_at_one"],
               "test_hit_at_one": test.get("hit_at_one"),
               "curve": [{"epoch": 0, "gap": val["gap"]}], "videos_per_s": 0.0, "steps": 0}
    run["seconds"] = round(time.perf_counter() - tick, 1)
    run.update(dense_gap=report["gap"]["dense"], projected_gap=report["gap"]["projected"])
    return run
