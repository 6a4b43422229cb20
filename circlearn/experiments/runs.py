"""One run of an experiment: train (or resume, or reuse) it and read its metrics.

:func:`run_one` trains a run from its configuration and reads its validate curve and the
final checkpoint's metrics on validate (the last evaluation of ``metrics.jsonl``) and test
(:func:`final_test_metrics`, cached per checkpoint step). :func:`checkpoint_metrics`
evaluates a run's latest checkpoint on a split whose records hold their labels (a run that
never trained, such as a projected one of ``fig-compress``, has no evaluation to read).
These functions are top-level so that worker processes (``jobs > 1``) can run them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from circlearn.experiments.baselines import read_labels_csv

__all__ = ["read_curve", "final_test_metrics", "final_test_gap", "checkpoint_metrics",
           "run_one"]


def read_curve(run_dir: Path) -> list[dict]:
    """The rows of ``run_dir/metrics.jsonl`` (one per evaluation; none without the file)."""
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] \
        if path.exists() else []


def final_test_metrics(cfg, test_pattern: str, labels_csv: str) -> dict[str, float]:
    """``{"gap", "hit_at_one"}`` of the run's final checkpoint on the test split (labels
    from ``labels_csv``), cached in ``<run_dir>/test_metrics.json`` per checkpoint step."""
    from circlearn.training import evaluate, load_model
    from circlearn.training.evaluation import eval_loader

    run_dir = Path(cfg.run_dir)
    model, run_cfg, info = load_model(run_dir)
    cache = run_dir / "test_metrics.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("step") == info["step"] and "hit_at_one" in saved:
            return {"gap": saved["gap"], "hit_at_one": saved["hit_at_one"]}
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
    out = {"gap": result["gap"], "hit_at_one": result["hit_at_one"]}
    cache.write_text(json.dumps({"step": info["step"], **out}) + "\n")
    return out


def final_test_gap(cfg, test_pattern: str, labels_csv: str) -> float:
    """GAP of the run's final checkpoint on the test split (:func:`final_test_metrics`)."""
    return final_test_metrics(cfg, test_pattern, labels_csv)["gap"]


def run_one(cfg: dict, test_pattern: str | None, labels_csv: str | None,
            threads: int | None = None) -> dict:
    """Train one run (``cfg``: ``TrainConfig.to_dict()``, resumed or reused when its run
    directory has one) and read its validate curve and final test GAP.

    ``gap`` and ``hit_at_one`` are the validate metrics of the final step (training always
    evaluates it, see
    :mod:`circlearn.training.loop`); a run directory whose last evaluation is of another step
    raises ``ValueError`` rather than reporting an older model's GAP. ``seconds``: the run's
    wall time over every session its checkpoint knows of (``seconds_before`` of them before
    this call).
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
    test = final_test_metrics(config, test_pattern, labels_csv) if labels_csv else {}
    speed = summary["videos_per_s"] or final["videos_per_s"]
    return {"gap": final["gap"], "test_gap": test.get("gap"),
            "hit_at_one": final.get("hit_at_one"), "test_hit_at_one": test.get("hit_at_one"),
            "curve": [{"epoch": r["epoch"], "gap": r["gap"]} for r in rows],
            "videos_per_s": round(speed, 2), "steps": final["step"],
            "seconds": round(summary["elapsed_before_seconds"] + time.perf_counter() - tick, 1),
            "seconds_before": summary["elapsed_before_seconds"]}


def checkpoint_metrics(run_dir, pattern: str) -> dict[str, float]:
    """``{"gap", "hit_at_one"}`` of the latest checkpoint of ``run_dir`` on the records of
    ``pattern`` (labels read from the records, as for the validate split)."""
    from circlearn.training import evaluate, load_model
    from circlearn.training.evaluation import eval_loader

    model, run_cfg, _ = load_model(Path(run_dir))
    result = evaluate(model, eval_loader(pattern, run_cfg), top_k=run_cfg.top_k)
    return {"gap": result["gap"], "hit_at_one": result["hit_at_one"]}
