"""What does one training step of medium ``fig-layers`` cost per DBoF cluster size?

``fig-layers`` at the medium scale makes the circulant DBoF embedding rectangular: 1024 rgb
features to ``k`` clusters, ``k / 1024`` square circulant blocks. The figure trains four
variants (dense, circulant FC, circulant embedding, circulant MoE), so its cost grows with
``k``. This script times training steps (forward, backward, Adam; batch 64 of 300-frame
videos, the medium scale's sampling of 30 frames, one thread) of each variant at each ``k``,
side by side in one process, and prints the median seconds per step, the sum over the four
variants, and the machine's load average::

    python -m benchmarks.fig_layers_cost --clusters 1024 2048 4096

The stored copy is ``benchmarks/results/fig_layers_cost-medium.md``. The block count in
``SCALES["medium"]["figure_clusters"]`` is the largest whose sum keeps the figure near two
hours on two cores at 5 seeds, given the epochs of the medium protocol.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from circlearn.data.layout import DataLayout
from circlearn.experiments import experiment_configs
from circlearn.experiments.report import markdown_table
from circlearn.models import VideoClassifier, count_parameters


def step_seconds(cfg, steps: int, batch: int = 64, frames: int = 300) -> float:
    """Median wall seconds of ``steps`` training steps (after one warm-up step)."""
    torch.manual_seed(0)
    model = VideoClassifier(cfg.model)
    opt = torch.optim.Adam(model.parameters(), cfg.base_learning_rate)
    width = sum(cfg.model.feature_sizes)
    x = torch.randint(0, 256, (batch, frames, width), dtype=torch.uint8)
    n = torch.full((batch,), frames * 3 // 4)
    y = (torch.rand(batch, cfg.model.num_classes) < 0.01).float()
    times = []
    for _ in range(steps + 1):
        tick = time.perf_counter()
        p = model(x, n).clamp(1e-6, 1 - 1e-6)
        loss = torch.nn.functional.binary_cross_entropy(p, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - tick)
    return statistics.median(times[1:])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clusters", type=int, nargs="+", default=[1024, 2048, 4096])
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    layout = DataLayout(root=Path("."), frame_dir=Path("."), feature_names=("rgb", "audio"),
                        feature_sizes=(1024, 128), num_classes=400, source="medium sizes")
    rows, load = [], [os.getloadavg()[0]]
    for k in args.clusters:
        cfgs = experiment_configs("fig-layers", "medium", "runs/cost", layout=layout,
                                  model_overrides={"cluster_sizes": (k,)})
        per = {c.preset: step_seconds(c, args.steps) for c in cfgs}
        params = {c.preset: count_parameters(VideoClassifier(c.model, device="meta"))
                  for c in cfgs}
        rows.append([f"{k} ({k // 1024} block{'s' * (k > 1024)})",
                     *(f"{per[c.preset]:.3f} ({params[c.preset]:,})" for c in cfgs),
                     f"{sum(per.values()):.3f}"])
        names = [c.preset for c in cfgs]
        print(rows[-1], flush=True)
    load.append(os.getloadavg()[0])
    print(f"# Medium fig-layers: seconds per training step by DBoF clusters\n\nOne thread, "
          f"batch 64 × 300 frames, median of {args.steps} steps; cell: seconds "
          f"(trainable parameters). 1-minute load average {load[0]:.2f} at the start, "
          f"{load[1]:.2f} at the end.\n")
    print(markdown_table(rows, ["clusters", *names, "sum of the four"], align="lrrrrr"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
