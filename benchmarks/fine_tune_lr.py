"""At which learning rate does a projected model fine-tune best? Measured on the calibration draw.

``circlearn compress`` projects a trained dense FC onto a structure, then fine-tunes with the
dense run's training settings, its learning-rate schedule starting again at step 0
(:func:`circlearn.training.compress.compress_run`). The dense model itself ended its
schedule far lower (medium: 3e-3 halved every 2 epochs for 12 epochs ends at 3e-3 / 32), and
fine-tuning usually runs at a lower rate than training. This script fine-tunes the projection
of each given dense run at each candidate base rate (the schedule's decay unchanged) and
tabulates the validate GAP per fine-tuning epoch. It runs on dense runs trained on the
**calibration draw** (draw 0), never on the draw whose results are reported, so that
``fig-compress``'s fine-tuning rate is chosen on other data::

    python -m benchmarks.fine_tune_lr --dense runs/sweep/dbof/seed0 runs/sweep/netvlad/seed0 \\
        --rates 3e-3 3e-4 1e-4 --epochs 3 --out runs/fine-tune-lr

Each fine-tuned run is ``<out>/<dense variant>-<kind>-lr<rate>`` (the dense variant: the
run folder's parent, ``runs/<variant>/seed<k>``); one that holds a ``compress.json`` is read,
not trained again. Results: ``<out>/fine_tune_lr.{json,md}`` (the stored copy is
``benchmarks/results/fine_tune_lr-medium.md``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from circlearn.experiments.report import markdown_table
from circlearn.experiments.runs import read_curve
from circlearn.training.compress import CompressConfig, compress_run


def _run(dense: Path, kind: str, rate: str, epochs: int, out: Path) -> dict:
    """Fine-tune the projection of ``dense`` at base rate ``rate`` (or read the finished run)."""
    run_dir = out / f"{dense.parent.name}-{kind}-lr{rate}"
    if not (run_dir / "compress.json").is_file():
        compress_run(dense, run_dir, CompressConfig(fc=kind, fine_tune_epochs=epochs),
                     {"base_learning_rate": float(rate)})
    report = json.loads((run_dir / "compress.json").read_text())
    if report["fine_tune_epochs"] != epochs:
        raise ValueError(f"{run_dir} was fine-tuned for {report['fine_tune_epochs']} epochs, "
                         f"not {epochs}: give another --out")
    curve = [r["gap"] for r in read_curve(run_dir) if "gap" in r]
    return {"dense_run": dense.parent.name, "kind": kind, "rate": float(rate),
            "dense_gap": report["gap"]["dense"], "projected_gap": report["gap"]["projected"],
            "curve": curve, "fine_tuned_gap": report["gap"]["fine_tuned"],
            "seconds": round(report["seconds"], 1)}


def _table(rows: list[dict]) -> str:
    cells = [[r["dense_run"], r["kind"], f"{r['rate']:g}", f"{r['dense_gap']:.3f}",
              f"{r['projected_gap']:.3f}", " ".join(f"{g:.3f}" for g in r["curve"]),
              f"{r['fine_tuned_gap']:.3f}"] for r in rows]
    return markdown_table(cells, ["dense run", "FC", "base rate", "dense GAP", "projected GAP",
                                  "validate GAP per fine-tuning epoch", "fine-tuned GAP"],
                          align="lllrrlr")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dense", nargs="+", required=True,
                   help="dense run folders trained on the calibration draw")
    p.add_argument("--kind", default="circulant", choices=("circulant", "toeplitz"))
    p.add_argument("--rates", nargs="+", default=["3e-3", "3e-4", "1e-4"])
    p.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs")
    p.add_argument("--out", default="runs/fine-tune-lr")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (as the scales)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    rows = []
    for dense in args.dense:
        for rate in args.rates:
            rows.append(_run(Path(dense), args.kind, rate, args.epochs, out))
            r = rows[-1]
            print(f"{r['dense_run']:10s} lr {r['rate']:g}: projected {r['projected_gap']:.3f} "
                  f"fine-tuned {r['fine_tuned_gap']:.3f} ({r['seconds']} s)", flush=True)
    data = {Path(json.loads((Path(d) / "config.json").read_text())["train_data"]).parent.parent.name
            for d in args.dense}
    text = (f"# Fine-tuning rate of a projected FC on the calibration draw (synthetic data)\n\n"
            f"Data: `{', '.join(sorted(data))}`. Each dense run's FC projected onto "
            f"{args.kind} (batch norm re-estimated), then fine-tuned {args.epochs} epochs with "
            f"the dense run's schedule from the given base rate.\n\n" + _table(rows))
    out.mkdir(parents=True, exist_ok=True)
    (out / "fine_tune_lr.md").write_text(text + "\n")
    (out / "fine_tune_lr.json").write_text(json.dumps(
        {"data": sorted(data), "threads": args.threads, "cpus": os.cpu_count(), "runs": rows},
        indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
