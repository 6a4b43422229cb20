"""Which training budget lets every medium curve flatten? Measured on the calibration draw.

The stopping rule (``circlearn.experiments.stats.plateau_gain``): a variant's mean validate
curve is flat when the mean over its last 20 % of evaluations minus the mean over the 20 %
before is below 0.003. This script trains a few ``fig-embeddings`` variants of a scale
(seed 0 by default) under candidate protocols, each a longer budget with a staircase
learning-rate decay, and tabulates, per protocol and variant, the validate curve, its
plateau gain at the end, and the first epoch at which the curve up to that epoch is flat.
It runs on the data given by ``--data``: the **calibration draw** (draw 0), never the draw
whose results are reported, so that the choice is made on other data::

    python -m benchmarks.stopping_sweep --data /path/to/medium-draw0 --out runs/stopping-sweep \\
        --settings "3e-3 x0.5/2ep, 12ep"

Results: ``<out>/stopping_sweep.{json,md}`` (the stored copy is
``benchmarks/results/stopping_sweep-medium.md``). Finished runs in ``--out`` are reused.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from circlearn.data.layout import resolve_data
from circlearn.experiments import experiment_configs
from circlearn.experiments.report import markdown_table
from circlearn.experiments.stats import PLATEAU_THRESHOLD, is_plateau, plateau_gain
from circlearn.training import train

#: name → (epochs, TrainConfig overrides). The decay steps are in examples seen; the medium
#: training split has 10,000 videos per epoch.
SETTINGS = {
    "3e-3 x0.5/2ep, 12ep": (12, {"base_learning_rate": 3e-3, "learning_rate_decay": 0.5,
                                 "learning_rate_decay_examples": 20_000}),
    "3e-3 x0.8/1ep, 12ep": (12, {"base_learning_rate": 3e-3, "learning_rate_decay": 0.8,
                                 "learning_rate_decay_examples": 10_000}),
    "3e-3 x0.5/1ep, 8ep": (8, {"base_learning_rate": 3e-3, "learning_rate_decay": 0.5,
                               "learning_rate_decay_examples": 10_000}),
    "3e-3 flat, 12ep": (12, {"base_learning_rate": 3e-3, "learning_rate_decay": 1.0}),
}
#: variant names (= presets): every fig-embeddings curve, dense and compact FC per pooling.
VARIANTS = ("dbof", "dbof-fc-circulant", "netvlad", "netvlad-fc-circulant", "netfv",
            "netfv-fc-circulant")


def first_flat_epoch(curve: list[float]) -> int | None:
    """The first epoch ``e`` whose curve ``curve[:e]`` is flat under the rule (None: never)."""
    for e in range(4, len(curve) + 1):
        if is_plateau(plateau_gain(curve[:e])):
            return e
    return None


def _run(setting: str, variant: str, seed: int, out: Path, layout, scale: str) -> dict:
    epochs, overrides = SETTINGS[setting]
    folder = out / setting.replace(" ", "").replace(",", "_").replace("/", "per")
    cfgs = experiment_configs("fig-embeddings", scale, folder, seed=seed, layout=layout,
                              epochs=epochs, train_overrides={**overrides, "tensorboard": False})
    (cfg,) = [c for c in cfgs if Path(c.run_dir).parent.name == variant]
    tick = time.perf_counter()
    train(cfg)
    rows = [json.loads(line) for line in (Path(cfg.run_dir) / "metrics.jsonl").read_text()
            .splitlines()]
    curve = [r["gap"] for r in rows]
    return {"setting": setting, "variant": variant, "seed": seed, "curve": curve,
            "final": curve[-1], "plateau_gain": plateau_gain(curve),
            "first_flat_epoch": first_flat_epoch(curve),
            "seconds": round(time.perf_counter() - tick, 1)}


def _table(rows: list[dict]) -> str:
    cells = []
    for r in rows:
        gain = r["plateau_gain"]
        cells.append([r["setting"], r["variant"], " ".join(f"{g:.3f}" for g in r["curve"]),
                      "—" if gain is None else f"{gain:+.4f}",
                      "✓" if is_plateau(gain) else "✗",
                      str(r["first_flat_epoch"] or "never")])
    return markdown_table(cells, ["protocol", "variant", "validate GAP per epoch",
                                  "plateau gain", "flat", "first flat epoch"], align="lllrlr")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the calibration draw's dataset folder")
    p.add_argument("--scale", default="medium")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", default="runs/stopping-sweep")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (as the scales)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    layout = resolve_data(args.data)
    rows = []
    for setting in args.settings:
        for variant in args.variants:
            rows.append(_run(setting, variant, args.seed, out, layout, args.scale))
            r = rows[-1]
            print(f"{setting:22s} {variant:22s} final {r['final']:.3f} gain "
                  f"{r['plateau_gain']} first flat {r['first_flat_epoch']} "
                  f"({r['seconds']} s)", flush=True)
    text = (f"# Stopping rule: protocols on the calibration draw, scale {args.scale}, seed "
            f"{args.seed} (synthetic data)\n\nData: `{Path(args.data).name}`. Flat: plateau "
            f"gain < {PLATEAU_THRESHOLD} (mean of the last 20 % of evaluations minus the 20 % "
            f"before).\n\n" + _table(rows))
    out.mkdir(parents=True, exist_ok=True)
    name = "stopping_sweep" if len(args.settings) == len(SETTINGS) else \
        "stopping_sweep-" + "-".join(str(list(SETTINGS).index(s)) for s in args.settings)
    (out / f"{name}.md").write_text(text + "\n")
    (out / f"{name}.json").write_text(json.dumps({"data": Path(args.data).name, "runs": rows},
                                                 indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
