"""``circlearn experiment NAME``: the command line of :mod:`circlearn.experiments`.

Example::

    circlearn experiment fig-embeddings --scale quick --seeds 3 --out runs/fig-embeddings
    circlearn experiment fig-structures --data my_data --seeds 5 \\
        --set base_learning_rate=3e-3 --set eval_sampling=all

``configure_parser(parser)`` and ``run(args)`` are called by the dispatcher
(:mod:`circlearn.cli`); nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from circlearn import experiments
from circlearn.bench.models import batch1_latency_ms
from circlearn.config import add_alias_option
from circlearn.experiments import BEYOND_PAPER, EXPERIMENTS, SCALES
from circlearn.experiments.adapt import parse_settings
from circlearn.experiments.report import format_table
from circlearn.training.distributed import DEVICES

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=[*EXPERIMENTS, *BEYOND_PAPER],
                   help="the paper figure to reproduce (or, beyond the paper, fig-structures, "
                        "fig-scaling or fig-compress)")
    p.add_argument("--scale", choices=list(SCALES), default="quick")
    p.add_argument("--seeds", type=int, default=None,
                   help="train seeds 0..N-1 (default 3); variants share each seed's data order")
    p.add_argument("--out", default=None, help="output folder (default runs/<name>-<scale>)")
    p.add_argument("--data", default=None,
                   help="dataset folder or its frame/ folder (sizes and classes read from "
                        "dataset.json, else the first record and vocabulary.csv); default: "
                        "quick the bundled sample, medium the cached synthetic medium set")
    p.add_argument("--epochs", type=int, default=None, help="override the figure's epochs")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="settings",
                   help="set a ModelConfig or TrainConfig field for every variant (repeatable; "
                        "VALUE parsed as circlearn train parses that option), e.g. --set "
                        "base_learning_rate=3e-3 --set eval_sampling=all; the fields the "
                        "variants or the data set themselves are refused")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads per run (default: 1 at quick and medium, else "
                        "torch's)")
    p.add_argument("--jobs", type=int, default=None,
                   help="runs trained at the same time in worker processes (default: 2 at "
                        "medium, else 1); results do not depend on it")
    p.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                   help="train only these variants of the experiment and compare only the "
                        "claims between them (default: all; the names are in its table)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="write under data_samples/results/ from a checkout with uncommitted "
                        "changes (refused otherwise); results.json records the diff's SHA-256")
    add_alias_option(p, "device", choices=DEVICES, default=None)
    add_alias_option(p, "num-workers", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out or f"runs/{args.name}-{args.scale}")
    model_overrides, train_overrides = parse_settings(
        args.settings, experiments.registry.get_experiment(args.name, args.variants).variants)
    train_overrides.update({k: v for k, v in (("device", args.device),
                                              ("num_workers", args.num_workers))
                            if v is not None})
    results = experiments.reproduce(
        args.name, args.scale, out, seeds=args.seeds, data=args.data, epochs=args.epochs,
        model_overrides=model_overrides, train_overrides=train_overrides, threads=args.threads,
        jobs=args.jobs,
        latency=batch1_latency_ms, allow_dirty=args.allow_dirty, variants=args.variants,
        command=getattr(args, "command_line", None) or ["circlearn", *sys.argv[1:]],
        log=lambda m: print(m, flush=True))
    print()
    print(format_table(results))
    print(f"figure: {out / 'figure.png'}")
    print(f"results: {out / 'results.json'} ({results['wall_seconds']:.0f} s)")
    return 0
