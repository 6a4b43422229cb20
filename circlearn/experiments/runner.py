"""Running an experiment's pieces: one training run, its test GAP, the baselines.

Used by :func:`circlearn.experiments.reproduce`; the functions are top-level so that worker
processes (``jobs > 1``) can run them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

__all__ = ["read_curve", "final_test_gap", "run_one", "compute_baselines", "cached_baselines"]


def read_curve(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] \
        if path.exists() else []


def final_test_gap(cfg, test_pattern: str, labels_csv: str) -> float:
    """GAP of the run's final checkpoint on the test split (labels from ``labels_csv``),
    cached in ``<run_dir>/test_metrics.json`` per checkpoint step."""
    from circlearn.experiments.baselines import read_labels_csv
    from circlearn.training import evaluate, load_model
    from circlearn.training.evaluation import eval_loader

    run_dir = Path(cfg.run_dir)
    model, run_cfg, info = load_model(run_dir)
    cache = run_dir / "test_metrics.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("step") == info["step"]:
            return saved["gap"]
    labels = read_labels_csv(labels_csv)

    def batches():
        for batch in eval_loader(test_pattern, run_cfg):
            missing = [v for v in batch.ids if v not in labels]
            if missing:
                raise ValueError(f"{labels_csv}: no labels for test videos {missing[:3]}")
            y = torch.zeros_like(batch.labels)  # (B, C)
            for i, vid in enumerate(batch.ids):
                y[i, torch.from_numpy(labels[vid])] = 1.0
            batch.labels = y
            yield batch

    result = evaluate(model, batches(), top_k=run_cfg.top_k)
    cache.write_text(json.dumps({"step": info["step"], "gap": result["gap"]}) + "\n")
    return result["gap"]


def run_one(cfg: dict, test_pattern: str | None, labels_csv: str | None,
            threads: int | None = None) -> dict:
    """Train one run (``cfg``: ``TrainConfig.to_dict()``, resumed or reused when its run
    directory has one) and read its validate curve and final test GAP.

    ``gap`` is the validate GAP of the final step (training always evaluates it, see
    :mod:`circlearn.training.loop`); a run directory whose last evaluation is of another step
    raises ``ValueError`` rather than reporting an older model's GAP.
    """
    from circlearn.training import TrainConfig, train

    if threads:
        torch.set_num_threads(threads)
    config = TrainConfig.from_dict(cfg)
    tick = time.perf_counter()
    summary = train(config)
    rows = read_curve(Path(config.run_dir))
    if not rows:
        raise ValueError(f"{config.run_dir}: no evaluation recorded")
    final = rows[-1]
    if final["step"] != summary["step"]:
        raise ValueError(f"{config.run_dir}: the last evaluation in metrics.jsonl is of step "
                         f"{final['step']}, but training ended at step {summary['step']}; "
                         f"its GAP is not the final model's")
    test_gap = final_test_gap(config, test_pattern, labels_csv) if labels_csv else None
    speed = summary["videos_per_s"] or final["videos_per_s"]
    return {"gap": final["gap"], "test_gap": test_gap,
            "curve": [{"epoch": r["epoch"], "gap": r["gap"]} for r in rows],
            "videos_per_s": round(speed, 2), "steps": final["step"],
            "seconds": round(time.perf_counter() - tick, 1)}


def compute_baselines(layout) -> dict:
    """Validate and test baselines of ``layout`` (fitted once on its training split)."""
    from circlearn.experiments.baselines import LINEAR_PROTOCOL, FittedBaselines

    tick = time.perf_counter()
    fitted = FittedBaselines(layout.pattern("train"), feature_sizes=layout.feature_sizes,
                             num_classes=layout.num_classes, feature_names=layout.feature_names)
    saved = {"protocol": LINEAR_PROTOCOL, "l2": fitted.l2,
             "validate": fitted.gaps(layout.pattern("validate")), "test": None}
    if layout.has_split("test") and layout.test_labels is not None:
        saved["test"] = fitted.gaps(layout.pattern("test"), layout.test_labels)
    saved["seconds"] = round(time.perf_counter() - tick, 1)
    return saved


def cached_baselines(out: Path, data_hash: str) -> dict | None:
    """``out/baselines.json`` when it was computed on these data with this protocol."""
    from circlearn.experiments.baselines import current_protocol

    path = out / "baselines.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("data_sha256") == data_hash and current_protocol(saved):
            return saved
    return None
