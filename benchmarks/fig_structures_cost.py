"""How long does medium ``fig-structures`` take on two cores, by seeds and variants kept?

A planning estimate from measured run times, written before the figure is trained:

- the seconds of each fig-embeddings medium run (the protocol's 1,872 steps, two worker
  processes of one thread on two cores) give the cost of a dense and a one-factor circulant
  run per pooling;
- the seconds of an earlier fig-structures run (any protocol, every variant, the same two
  workers) give each variant's cost relative to the one-factor circulant run of its pooling.

A variant's run is then ``seconds(circulant k1) × ratio``; the figure's wall time is the sum
over the runs to train, halved for two workers. The dense and one-factor circulant runs of
the seeds fig-embeddings trained are reused, not trained (their configurations are the same
but for the preset's name, :mod:`circlearn.experiments.reuse`)::

    python -m benchmarks.fig_structures_cost \\
        --embeddings data_samples/results/medium/fig-embeddings/results.json \\
        --structures OLD_FIG_STRUCTURES/results.json --drop circulant-k2 low-rank-x4

The stored copy is ``benchmarks/results/fig_structures_cost-medium.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from circlearn.experiments import structures
from circlearn.experiments.report import markdown_table
from circlearn.experiments.stats import t_quantile

POOLINGS = structures.POOLINGS
SUFFIXES = [suffix for suffix, *_ in structures.KINDS]


def run_seconds(results: dict) -> dict[str, float]:
    """Median seconds of a run per variant; runs reused from elsewhere (under 5 s) left out."""
    out = {}
    for v in results["variants"]:
        trained = [r["seconds"] for r in v["runs"] if r["seconds"] >= 5]
        if trained:
            out[v["name"]] = statistics.median(trained)
    return out


def per_run(embeddings: dict, structures_: dict) -> dict[str, float]:
    """Estimated seconds of each fig-structures variant's run under the embeddings' protocol."""
    emb, old = run_seconds(embeddings), run_seconds(structures_)
    cost = {}
    for p in POOLINGS:
        k1 = emb[f"{p}-fc-circulant"]
        for s in SUFFIXES:
            cost[f"{p}-{s}"] = emb[p] if s == "dense" else \
                k1 * old[f"{p}-{s}"] / old[f"{p}-circulant-k1"]
    return cost


def figure_hours(cost: dict, seeds: int, kept: list[str], reusable_seeds: int,
                 jobs: int = 2) -> float:
    """Wall hours of the figure: the runs to train, ``jobs`` at a time."""
    reused = {f"{p}-{s}" for p in POOLINGS for s in ("dense", "circulant-k1")}
    total = sum(cost[f"{p}-{s}"] for p in POOLINGS for s in kept for seed in range(seeds)
                if not (f"{p}-{s}" in reused and seed < reusable_seeds))
    return total / jobs / 3600


def report(embeddings: dict, structures_: dict, drop: list[str]) -> str:
    cost = per_run(embeddings, structures_)
    kept = [s for s in SUFFIXES if s not in drop]
    reusable = len(embeddings["seeds"])
    rows = [[f"{p}-{s}", f"{cost[f'{p}-{s}']:.0f}"] for p in POOLINGS for s in SUFFIXES]
    lines = ["Estimated seconds per run (two workers on two cores):", "",
             markdown_table(rows, ["variant", "s per run"], align="lr").rstrip("\n"), "",
             f"Figure wall time on two cores, hours ({reusable} seeds of dense and one-factor "
             f"circulant reused from fig-embeddings):", ""]
    tests = len(POOLINGS) * (len(kept) - 1)  # each kind against dense, per pooling
    rows = [[str(n), f"{figure_hours(cost, n, SUFFIXES, reusable):.2f}",
             f"{figure_hours(cost, n, kept, reusable):.2f}",
             f"{t_quantile(1 - 0.05 / (2 * tests), n - 1):.1f}"] for n in (3, 4, 5)]
    lines.append(markdown_table(rows, ["seeds", f"all {len(SUFFIXES)} kinds",
                                       f"without {', '.join(drop)}",
                                       f"Holm's first step over {tests} comparisons: t ≥"],
                                align="lrrr").rstrip("\n"))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embeddings", type=Path, required=True, help="medium fig-embeddings results")
    ap.add_argument("--structures", type=Path, required=True, help="a fig-structures results.json")
    ap.add_argument("--drop", nargs="*", default=[], choices=SUFFIXES[1:])
    args = ap.parse_args(argv)
    print(report(json.loads(args.embeddings.read_text()),
                 json.loads(args.structures.read_text()), args.drop), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
