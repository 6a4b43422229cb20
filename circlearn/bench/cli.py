"""``circlearn bench [SUITE ...]``: run benchmark suites (:data:`circlearn.bench.SUITES`).

Examples::

    circlearn bench layers --quick          # smoke test, nothing written
    circlearn bench layers --sweep --threads 2
    circlearn bench --device cuda --out /tmp/results

``configure_parser(parser)`` and ``run(args)`` are called by the dispatcher
(:mod:`circlearn.cli`); nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import time

import torch

from circlearn.bench import CUDA_SUITES, SUITES

__all__ = ["configure_parser", "run", "run_suite"]


def run_suite(name: str, *, quick: bool, out_dir, device: str, sweep: bool = False,
              tf32: bool = False, compile: bool = False) -> list[dict]:
    """Run one suite, passing the options its ``run`` accepts."""
    # imported when run: suites need optional packages (tfrecord, matplotlib) only for themselves
    module = importlib.import_module(SUITES[name])
    params = inspect.signature(module.run).parameters
    kwargs = {"quick": quick, "out_dir": out_dir}
    if "device" in params:
        kwargs["device"] = device
    if "sweep" in params:
        kwargs["sweep"] = sweep
    if "tf32" in params:
        kwargs["tf32"] = tf32
    if "compile" in params:
        kwargs["compile"] = compile
    return module.run(**kwargs)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("suites", nargs="*", default=[], metavar="SUITE",
                   help=f"suites to run: {', '.join(SUITES)} (default: all)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, nothing written")
    p.add_argument("--sweep", action="store_true", help="layers: the full n × batch grid")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument("--tf32", action="store_true", help="let the dense baseline use TF32 (GPU)")
    p.add_argument("--compile", action="store_true",
                   help="layers: also time torch.compile (mode reduce-overhead = CUDA graphs on GPU)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (pinned)")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")


def run(args: argparse.Namespace) -> int:
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {args.device}: no CUDA device is available")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        raise ValueError(f"unknown benchmark suite(s) {unknown}; choose from {list(SUITES)}")
    suites = args.suites or (CUDA_SUITES if args.device.startswith("cuda") else list(SUITES))
    for name in suites:
        t0 = time.perf_counter()
        print(f"== {name} ==", flush=True)
        run_suite(name, quick=args.quick, out_dir=args.out, device=args.device,
                  sweep=args.sweep, tf32=args.tf32, compile=args.compile)
        print(f"== {name} done in {time.perf_counter() - t0:.1f} s ==", flush=True)
    return 0
