"""``circlearn experiment NAME``: the command line of :mod:`circlearn.experiments`.

Example::

    circlearn experiment fig-embeddings --scale quick --out runs/fig-embeddings

``configure_parser(parser)`` and ``run(args)`` are called by the dispatcher
(:mod:`circlearn.cli`); nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from circlearn.arguments import add_alias_option
from circlearn.experiments import EXPERIMENTS, SCALES, format_table, reproduce
from circlearn.training.distributed import DEVICES

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=list(EXPERIMENTS), help="the paper figure to reproduce")
    p.add_argument("--scale", choices=list(SCALES), default="quick")
    p.add_argument("--out", default=None, help="output folder (default runs/<name>-<scale>)")
    p.add_argument("--data", default=None,
                   help="data folder with train*/validate*.tfrecord (quick: bundled sample)")
    p.add_argument("--epochs", type=int, default=None, help="override the figure's epochs")
    add_alias_option(p, "device", choices=DEVICES, default=None)
    add_alias_option(p, "num-workers", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out or f"runs/{args.name}-{args.scale}")
    train_overrides = {k: v for k, v in (("device", args.device),
                                         ("num_workers", args.num_workers)) if v is not None}
    results = reproduce(args.name, args.scale, out, data=args.data, epochs=args.epochs,
                        train_overrides=train_overrides, log=lambda m: print(m, flush=True))
    print()
    print(format_table(results))
    print(f"figure: {out / 'figure.png'}")
    print(f"results: {out / 'results.json'} ({results['wall_seconds']:.0f} s)")
    return 0
