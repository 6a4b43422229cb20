"""One harness for every benchmark: ``python -m benchmarks.run`` or ``circlearn bench``.

Suites (each also runnable alone as ``python -m benchmarks.bench_<suite>``):

- ``layers``  CirculantLinear vs nn.Linear vs the paper's complex-FFT formulation
  (headline cases; ``--sweep`` adds n ∈ {1024, 4096, 8192, 16384} × batch ∈ {1 … 1024},
  forward and forward+backward, achieved GB/s beside the measured copy bandwidth);
- ``models``  training videos/s and parameter memory per preset;
- ``data``    TFRecord frame-level reading speed vs the ``tfrecord`` package;
- ``metrics`` EvaluationMetrics vs the literal reference algorithm, speed and memory.

Protocol (structured.md §5.5, benchmarks/common.py): pinned threads, warm-up, medians of
interleaved rounds, CUDA events on GPU, machine facts stored with every result. Results go to
``benchmarks/results/<suite>-<machine>.{json,md}``; ``--quick`` runs tiny sizes and writes
nothing (a smoke test).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import time

import torch

SUITES = ("layers", "models", "data", "metrics")
CUDA_SUITES = ("layers", "models")


def run_suite(name: str, *, quick: bool, out_dir, device: str, sweep: bool = False,
              tf32: bool = False, compile: bool = False) -> list[dict]:
    module = importlib.import_module(f"benchmarks.bench_{name}")
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
    suites = args.suites or (CUDA_SUITES if args.device.startswith("cuda") else SUITES)
    for name in suites:
        t0 = time.perf_counter()
        print(f"== {name} ==", flush=True)
        run_suite(name, quick=args.quick, out_dir=args.out, device=args.device,
                  sweep=args.sweep, tf32=args.tf32, compile=args.compile)
        print(f"== {name} done in {time.perf_counter() - t0:.1f} s ==", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    configure_parser(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
