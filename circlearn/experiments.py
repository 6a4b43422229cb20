"""The paper's three experiments as named, runnable recipes (``paper.md`` §4.1, §5).

=================== ========================================================================
``fig-dc-cd``        Figure A: compact FC after DBoF with a learned diagonal (the paper's
                     "DC") vs a fixed random ±1 diagonal ("CD" of Cheng et al.)
``fig-embeddings``   Figure B: dense vs compact (circulant) FC after DBoF, NetVLAD and NetFV
``fig-layers``       Figure C: DBoF video only; dense vs compact FC vs compact DBoF embedding
                     vs compact MoE (the last also drops context gating and L2)
=================== ========================================================================

Scales:

- ``quick``: scaled-down presets (DBoF 256/128, NetVLAD/NetFV 16/8 clusters, FC 64, 2 bags of
  15 frames) on the bundled synthetic data (``data_samples/yt8m``: rgb 128 + audio 16, 50
  classes, 1000 training / 300 validation videos), CPU, batch 32, Adam 1e-2 without decay,
  batch-norm momentum 0.05 (a few hundred steps instead of the paper's ~10⁵), 10 epochs
  (7 for ``fig-layers``, as the paper's figure). ``fig-embeddings`` takes a few minutes on
  2 cores (``make demo``).
- ``paper``: the paper's presets and hyperparameters (``paper.md`` §3.6, §3.8): batch 80 per
  process (the paper's 320 = 4 GPUs × 80: run under ``torchrun --nproc_per_node=4`` or pass
  a larger batch), base learning rate 2e-4 ×0.8 per 4M examples, per-tensor clipping 1.0,
  half-video augmentation, 300 frames; ``--data`` points at the YouTube-8M 2018 frame-level
  folder (``train*.tfrecord``, ``validate*.tfrecord``).

Output (``--out DIR``): ``results.json`` (per variant ``preset``, ``label``, ``params``
(trainable), ``model_mb`` (float32), ``gap`` (final), ``curve`` = ``[{epoch, gap}]``,
``videos_per_s`` (training)), ``table.md``, ``figure.png`` (our curves beside the paper's,
:func:`circlearn.plotting.paper.plot_experiment`) and ``runs/<preset>/`` (each run
directory; rerunning resumes or reuses finished runs). Under ``torchrun`` every variant
trains on all processes (:mod:`circlearn.training.distributed`) and rank 0 writes the files.

The command line (``circlearn experiment NAME``) is :mod:`circlearn.experiment_cli`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["EXPERIMENTS", "SCALES", "Experiment", "reproduce", "experiment_configs",
           "format_table"]


@dataclass(frozen=True)
class Experiment:
    """A paper figure: which presets to train, for how many epochs."""

    name: str
    title: str
    variants: tuple[tuple[str, str], ...]  # (preset, label)
    epochs: int


EXPERIMENTS: dict[str, Experiment] = {
    "fig-dc-cd": Experiment("fig-dc-cd", "learned vs fixed-sign diagonal (DBoF, compact FC)", (
        ("dbof-fc-circulant", "Compact FC, learned D (DC)"),
        ("dbof-fc-circulant-sign", "Compact FC, D in {-1, 1} (CD)")), 10),
    "fig-embeddings": Experiment("fig-embeddings", "dense vs compact FC per embedding", (
        ("dbof", "DBoF dense"), ("dbof-fc-circulant", "DBoF compact"),
        ("netvlad", "NetVLAD dense"), ("netvlad-fc-circulant", "NetVLAD compact"),
        ("netfv", "NetFV dense"), ("netfv-fc-circulant", "NetFV compact")), 10),
    "fig-layers": Experiment("fig-layers", "compact embedding vs FC vs MoE (video only)", (
        ("dbof-video", "Dense model"), ("dbof-video-fc-circulant", "Compact FC"),
        ("dbof-video-embedding-circulant", "Compact DBoF"),
        ("dbof-video-moe-circulant", "Compact MoE")), 7),
}

#: Per scale: model overrides per pooling and the TrainConfig fields.
SCALES: dict[str, dict] = {
    "quick": {
        "clusters": {"dbof": 256, "netvlad": 16, "netfv": 16},
        "model": {"hidden_size": 64, "n_bagging": 2, "iterations": 15},
        "train": {"batch_size": 32, "base_learning_rate": 1e-2, "learning_rate_decay": 1.0,
                  "batch_norm_momentum": 0.05, "max_frames": 50, "eval_batch_size": 300,
                  "checkpoint_every_steps": 0, "keep_checkpoints": 1, "device": "cpu"},
    },
    "paper": {
        "clusters": None,
        "model": {},
        "train": {"data_augmentation": True, "max_frames": 300},
    },
}


def _data_layout(scale: str, data: str | None) -> tuple[str, str, dict]:
    """Training/validation patterns and the data's feature sizes and classes."""
    from circlearn.data import samples

    root = Path(data) if data else (samples.path("yt8m") if scale == "quick" else None)
    if root is None:
        raise ValueError("--scale paper needs --data pointing at the YouTube-8M 2018 "
                         "frame-level folder (train*.tfrecord, validate*.tfrecord)")
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} not found")
    frame = root / "frame" if (root / "frame").is_dir() else root
    sizes = {}
    meta = root / "dataset.json"
    if meta.is_file():
        info = json.loads(meta.read_text())
        sizes = {"feature_sizes": tuple(info["feature_sizes"]),
                 "num_classes": int(info["num_classes"])}
    return str(frame / "train*.tfrecord"), str(frame / "validate*.tfrecord"), sizes


def experiment_configs(name: str, scale: str = "quick", out: str | Path = "runs/experiment", *,
                       data: str | None = None, epochs: int | None = None,
                       model_overrides: dict | None = None,
                       train_overrides: dict | None = None) -> list:
    """The :class:`~circlearn.training.TrainConfig` of every variant (``run_dir`` under ``out``)."""
    from circlearn.models import preset_config
    from circlearn.training import TrainConfig

    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    exp, spec = EXPERIMENTS[name], SCALES[scale]
    train_pattern, eval_pattern, sizes = _data_layout(scale, data)
    configs = []
    for preset, _ in exp.variants:
        base = preset_config(preset)
        overrides = {**sizes, **spec["model"]}
        if spec["clusters"] is not None:
            k = spec["clusters"][base.pooling]
            overrides["cluster_sizes"] = tuple([k] + [k // 2] * (len(base.streams) - 1))
        overrides.update(model_overrides or {})
        model = preset_config(preset, **overrides)
        fields = {**spec["train"], "num_epochs": epochs or exp.epochs, **(train_overrides or {})}
        configs.append(TrainConfig(train_data=train_pattern, eval_data=eval_pattern,
                                   run_dir=str(Path(out) / "runs" / preset), model=model,
                                   preset=preset, progress=False, log_every_steps=0, **fields))
    return configs


def _shown(path: str) -> str:
    """``path`` relative to the working directory when inside it (portable results)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _read_curve(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] \
        if path.exists() else []
    return rows


def reproduce(name: str, scale: str = "quick", out: str | Path = "runs/experiment", *,
                   data: str | None = None, epochs: int | None = None,
                   model_overrides: dict | None = None, train_overrides: dict | None = None,
                   log=print) -> dict:
    """Train every variant, then write ``results.json``, ``table.md`` and ``figure.png``."""
    from circlearn.models import VideoClassifier, count_parameters
    from circlearn.plotting.paper import plot_experiment
    from circlearn.training import train
    from circlearn.training.distributed import current_rank

    out = Path(out)
    configs = experiment_configs(name, scale, out, data=data, epochs=epochs,
                                 model_overrides=model_overrides, train_overrides=train_overrides)
    out.mkdir(parents=True, exist_ok=True)
    labels = dict(EXPERIMENTS[name].variants)
    start = time.perf_counter()
    variants = []
    for cfg in configs:
        tick = time.perf_counter()
        summary = train(cfg)
        rows = _read_curve(Path(cfg.run_dir))
        if not rows:
            raise ValueError(f"{cfg.run_dir}: no evaluation recorded")
        params = count_parameters(VideoClassifier(cfg.model, device="meta"))
        speed = summary["videos_per_s"] or rows[-1]["videos_per_s"]
        variants.append({"preset": cfg.preset, "label": labels[cfg.preset], "params": params,
                         "model_mb": round(4 * params / 1e6, 4), "gap": rows[-1]["gap"],
                         "curve": [{"epoch": r["epoch"], "gap": r["gap"]} for r in rows],
                         "videos_per_s": round(speed, 2), "steps": rows[-1]["step"],
                         "model": cfg.model.to_dict()})
        log(f"[{name}] {cfg.preset}: GAP {rows[-1]['gap']:.4f}, {params:,} parameters, "
            f"{speed:.0f} videos/s ({time.perf_counter() - tick:.0f} s)")
    first = configs[0]
    results = {"experiment": name, "title": EXPERIMENTS[name].title, "scale": scale,
               "epochs": first.num_epochs, "data": {"train": _shown(first.train_data),
                                                     "eval": _shown(first.eval_data)},
               "train": {k: v for k, v in first.to_dict().items()
                         if k not in ("model", "preset", "run_dir", "train_data", "eval_data")},
               "machine": {"platform": platform.platform(), "processor": platform.processor(),
                           "torch": torch.__version__, "threads": torch.get_num_threads()},
               "wall_seconds": round(time.perf_counter() - start, 1), "variants": variants}
    if current_rank() == 0:  # under torchrun, rank 0 writes
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        (out / "table.md").write_text(format_table(results))
        plot_experiment(results, out / "figure.png")
    return results


def format_table(results: dict) -> str:
    """Markdown: variant, trainable parameters, model MB, final GAP, training videos/s."""
    lines = [f"# {results['experiment']} ({results['title']}), scale {results['scale']}, "
             f"{results['epochs']} epochs", "",
             "| variant | preset | trainable params | model MB (fp32) | final GAP | "
             "training videos/s |", "|---|---|---:|---:|---:|---:|"]
    for v in results["variants"]:
        lines.append(f"| {v['label']} | `{v['preset']}` | {v['params']:,} | {v['model_mb']:.3f} "
                     f"| {v['gap']:.4f} | {v['videos_per_s']:.0f} |")
    return "\n".join(lines) + "\n"
