"""Speed of the paper's models: training-step throughput (the ``models`` suite) and batch-1 latency.

One training step = forward (15 frames × 10 bags per video, paper sizes, 3862 classes) + the
paper's cross-entropy on probabilities + ``regularization_loss()`` + backward. The optimizer
update is left out (it is the same Adam over each model's parameters). Variants are measured
interleaved, round by round, so a noisy shared machine affects them alike; the figure is the
median step time. Parameter memory comes from ``model.size_report()``.

Run: ``circlearn bench models [--quick] [--device cuda]``, or
``python -m circlearn.bench.models [--quick] [--device cuda] [--batch 32] [--rounds 12]``.

:func:`batch1_latency_ms` times one configuration's evaluation forward pass on one video; the
``fig-structures`` experiment records it per variant (``circlearn experiment`` passes it to
:func:`circlearn.experiments.reproduce`).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from circlearn.bench.results import write_results
from circlearn.bench.timing import time_fn, time_rounds
from circlearn.models import VideoClassifier, count_parameters, from_preset
from circlearn.training.objective import cross_entropy_on_probabilities

__all__ = ["VARIANTS", "run", "main", "batch1_latency_ms"]

VARIANTS = ("dbof", "dbof-fc-circulant", "dbof-video-embedding-circulant")
MAX_FRAMES = 300


def _build(name: str, quick: bool, device: str):
    over = {}
    if quick:
        video_only = name.startswith("dbof-video")
        over = {"hidden_size": 64, "num_classes": 100,
                "cluster_sizes": (256,) if video_only else (256, 128)}
    torch.manual_seed(0)
    return from_preset(name, device=device, **over).train()


def run(quick: bool = False, out_dir=None, *, device: str = "cpu", batch: int | None = None,
        rounds: int | None = None, threads: int | None = 2) -> list[dict]:
    """Measure every variant; write ``bench_models-<machine>.{json,md}``; return the rows."""
    if threads is not None and device == "cpu":
        torch.set_num_threads(threads)
    batch = batch or (8 if quick else (32 if device == "cpu" else 320))
    rounds = rounds or (3 if quick else 12)
    gen = torch.Generator().manual_seed(0)
    models = {name: _build(name, quick, device) for name in VARIANTS}
    d = sum(models[VARIANTS[0]].config.feature_sizes)
    v = models[VARIANTS[0]].config.num_classes
    frames = torch.randint(0, 256, (batch, MAX_FRAMES, d), generator=gen,
                           dtype=torch.uint8).to(device)  # (B, 300, 1152), kept uint8
    num_frames = torch.randint(1, MAX_FRAMES + 1, (batch,), generator=gen).to(device)
    labels = (torch.rand(batch, v, generator=gen) < 3 / v).float().to(device)

    def step(model) -> None:
        model.zero_grad(set_to_none=True)
        p = model(frames, num_frames, generator=gen)
        (cross_entropy_on_probabilities(p, labels) + model.regularization_loss()).backward()

    # one warm-up step each (allocator, FFT plans, cuDNN/cuBLAS handles), then interleaved
    times = time_rounds({name: lambda m=model: step(m) for name, model in models.items()},
                        rounds, device=device, warmup=1)

    base = statistics.median(times[VARIANTS[0]])
    rows = []
    for name, model in models.items():
        med = statistics.median(times[name])
        params = count_parameters(model)
        rows.append({
            "model": name,
            "parameters": params,
            "fp32_MB": params * 4 / 1e6,
            "fp16_MB": params * 2 / 1e6,
            "step_s": med,
            "min_step_s": min(times[name]),
            "videos_per_s": batch / med,
            "speedup_vs_dbof": base / med,
            "batch": batch,
            "rounds": rounds,
        })
    size = "quick sizes (clusters 256/128, hidden 64, 100 classes)" if quick else \
        "paper sizes (DBoF 8192/4096, FC 512, MoE(4)+CG, 3862 classes)"
    notes = (f"Training step = forward (15 frames × 10 bags) + loss + backward, {size}, "
             f"batch {batch} videos of up to {MAX_FRAMES} uint8 frames; median of {rounds} "
             f"interleaved rounds on {device}.")
    if not quick:  # --quick is a smoke test: nothing written
        write_results("bench_models", rows, device=device, notes=notes, out_dir=out_dir)
    return rows


@torch.no_grad()
def batch1_latency_ms(config, frames: int, repeats: int = 30) -> float:
    """Median wall time (ms) of one evaluation forward pass of ``VideoClassifier(config)`` on
    one video of ``frames`` random uint8 frames (CPU, one thread, after 3 warm-up calls)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        model = VideoClassifier(config).eval()
        x = torch.randint(0, 256, (1, frames, config.input_size), dtype=torch.uint8,
                          generator=gen)  # (1, frames, features)
        seconds = time_fn(lambda: model(x), warmup=3, repeats=repeats)
    finally:
        torch.set_num_threads(threads)
    return round(1e3 * seconds, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models, few rounds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (pinned)")
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)
    rows = run(args.quick, args.out_dir, device=args.device, batch=args.batch,
               rounds=args.rounds, threads=args.threads)
    for r in rows:
        print(f"{r['model']:34s} {r['parameters']:>12,d} params {r['fp32_MB']:8.1f} MB fp32 "
              f"{r['step_s']:8.3f} s/step {r['videos_per_s']:8.1f} videos/s "
              f"×{r['speedup_vs_dbof']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
