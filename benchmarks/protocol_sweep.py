"""Why do some pooling models end below the linear baseline at the quick scale?

Trains the dense ``fig-embeddings`` variants (DBoF, NetVLAD, NetFV) of a scale with seeds
``0 … n−1`` under a few training settings that differ from the scale's protocol in one knob
each (learning rate, batch-norm momentum, epochs), and writes a table of the final validate
GAP (mean ± std over seeds), the best epoch's GAP, the epoch-to-epoch swing of the last
three epochs and the final model's GAP on the training split itself (overfitting shows as a
large train − validate gap), beside the class-prior and linear-on-means baselines. Finished
runs in ``--out`` are reused::

    python -m benchmarks.protocol_sweep --scale quick --seeds 3 --out runs/protocol-sweep

Results: ``<out>/protocol_sweep.{json,md}`` (the stored copy is
``benchmarks/results/protocol_sweep-quick.md``). Every setting is applied to every model
alike; it is chosen on validate, so the experiments' final table on test stays unbiased.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from circlearn.experiments import data_layout, experiment_configs
from circlearn.experiments.baselines import baseline_gaps
from circlearn.experiments.report import format_mean_std, markdown_table
from circlearn.experiments.stats import mean_std
from circlearn.training import evaluate, load_model, train
from circlearn.training.evaluation import eval_loader

#: name → TrainConfig overrides (on top of the scale's protocol; explicit values, so a run
#: directory keeps its meaning when the scale's protocol changes).
SETTINGS = {
    "lr 1e-2, bn 0.05": {"base_learning_rate": 1e-2, "batch_norm_momentum": 0.05},
    "lr 3e-3, bn 0.05": {"base_learning_rate": 3e-3, "batch_norm_momentum": 0.05},
    "lr 1e-3, bn 0.05": {"base_learning_rate": 1e-3, "batch_norm_momentum": 0.05},
    "lr 1e-2, bn 0.01": {"base_learning_rate": 1e-2, "batch_norm_momentum": 0.01},
    "lr 1e-2, bn 0.2": {"base_learning_rate": 1e-2, "batch_norm_momentum": 0.2},
}
PRESETS = ("dbof", "netvlad", "netfv")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="quick")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--out", default="runs/protocol-sweep")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (as the scales)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    layout = data_layout(args.scale)
    base = baseline_gaps(layout.pattern("train"), layout.pattern("validate"),
                         feature_sizes=layout.feature_sizes, num_classes=layout.num_classes)
    rows = []
    for name in args.settings:
        for seed in range(args.seeds):
            cfgs = experiment_configs("fig-embeddings", args.scale, out / name.replace(", ", "_")
                                      .replace(" ", ""), seed=seed, layout=layout,
                                      train_overrides={**SETTINGS[name], "tensorboard": False})
            for cfg in cfgs:
                if cfg.preset not in PRESETS:
                    continue
                tick = time.perf_counter()
                train(cfg)
                curve = [json.loads(line)["gap"] for line in
                         (Path(cfg.run_dir) / "metrics.jsonl").read_text().splitlines()]
                last3 = curve[-3:]
                model, run_cfg, _ = load_model(cfg.run_dir)
                on_train = evaluate(model, eval_loader(cfg.train_data, run_cfg))["gap"]
                rows.append({"setting": name, "preset": cfg.preset, "seed": seed,
                             "final": curve[-1], "best": max(curve), "train": on_train,
                             "swing": max(last3) - min(last3), "curve": curve,
                             "seconds": round(time.perf_counter() - tick, 1)})
                print(f"{name:20s} {cfg.preset:8s} seed {seed}: final {curve[-1]:.3f} best "
                      f"{max(curve):.3f} train {on_train:.3f}", flush=True)
    cells = []
    for name in args.settings:
        for preset in PRESETS:
            sel = [r for r in rows if r["setting"] == name and r["preset"] == preset]
            if not sel:
                continue
            cells.append([name, preset, *(format_mean_std(*mean_std([r[k] for r in sel]))
                                          for k in ("final", "best", "swing", "train"))])
    text = (f"# Training settings vs pooling model, scale {args.scale}, {args.seeds} seeds "
            f"(synthetic data)\n\nBaselines (validate): class prior {base['class_prior']:.3f}, "
            f"linear on means {base['linear_means']:.3f}.\n\n" + markdown_table(cells, [
                "setting", "model", "final validate GAP", "best epoch", "swing of last 3 epochs",
                "final GAP on train"], align="llrrrr"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "protocol_sweep.md").write_text(text)
    (out / "protocol_sweep.json").write_text(json.dumps({"baselines": base, "runs": rows},
                                                        indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
