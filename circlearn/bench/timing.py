r"""The one timer: what every speed figure in circlearn is measured with.

Protocol (``structured.md`` §5.5), used by the benchmark suites (:mod:`circlearn.bench`; the
layer timings of the speed figures and notebooks come from :mod:`circlearn.bench.layers`):

- warm-up calls first (allocator, FFT plans, JIT compilation), never timed;
- the figure is the **median** of repeated calls (robust to the odd slow call);
- variants that are compared are timed in **interleaved rounds** (:func:`time_rounds`), so
  noise from other processes hits them alike and ratios are measured side by side;
- on CUDA, calls are bracketed by a synchronize (:func:`time_rounds`) or CUDA events
  (:func:`time_fn`), so a timer measures finished work.

Timings vary between machines and runs: report them with the machine
(:func:`circlearn.bench.results.machine_info`), never as a stored notebook output. A notebook
prints them with :func:`timeit_line`, in ``%timeit``'s shape, which its output sanitizer
replaces (``notebooks/sanitize.cfg``), and describes them in words.

>>> t = time_fn(lambda: sum(range(100)), warmup=1, repeats=3)
>>> t > 0
True
>>> rounds = time_rounds({"a": lambda: None, "b": lambda: None}, rounds=2)
>>> sorted(rounds), len(rounds["a"])
(['a', 'b'], 2)
>>> timeit_line([0.0021, 0.0020, 0.0024, 0.0022])
'2.15 ms ± 0.0875 ms per loop (median ± half the interquartile range of 4 rounds)'
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

__all__ = ["sync", "time_fn", "time_rounds", "quartiles", "timeit_line",
           "copy_bandwidth_gbs"]


def sync(device: str) -> None:
    """Wait for queued CUDA work (no-op on CPU), so a timer brackets finished work."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def time_fn(fn: Callable[[], object], *, device: str = "cpu", warmup: int = 3,
            repeats: int = 10, min_time: float = 0.0) -> float:
    """Median seconds per call of ``fn`` after ``warmup`` calls.

    On CUDA each call is bracketed by CUDA events; on CPU by ``time.perf_counter``.
    ``min_time`` keeps repeating (beyond ``repeats``) until that much time was measured, up to
    ``max(100, 10 * repeats)`` calls (sub-millisecond calls need many samples for a stable
    median).
    """
    for _ in range(warmup):
        fn()
    sync(device)
    times: list[float] = []
    total = 0.0
    while len(times) < repeats or total < min_time:
        if str(device).startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            t = start.elapsed_time(end) / 1e3
        else:
            t0 = time.perf_counter()
            fn()
            t = time.perf_counter() - t0
        times.append(t)
        total += t
        if len(times) >= max(100, 10 * repeats):
            break
    return statistics.median(times)


def time_rounds(fns: Mapping[str, Callable[[], object]], rounds: int, *, device: str = "cpu",
                warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of every call of each ``fns[name]``, timed in ``rounds`` interleaved rounds.

    Each function first runs ``warmup`` times (untimed); then every round calls each function
    once, in order, between synchronizes. Returns ``{name: [seconds per round]}``; take the
    :func:`statistics.median` (ratios of medians of one call are measured side by side).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def quartiles(seconds: Sequence[float]) -> tuple[float, float, float]:
    """The 25th, 50th and 75th percentiles of ``seconds`` (linear interpolation).

    The middle one is the median every figure reports; the outer two give its spread bars.
    """
    if not seconds:
        raise ValueError("quartiles needs at least one time")
    q1, q2, q3 = np.percentile(np.asarray(seconds, dtype=float), [25, 50, 75])
    return float(q1), float(q2), float(q3)


def _with_unit(seconds: float, unit: tuple[str, float]) -> str:
    """Three significant digits in positional notation (never ``1e-05``: the sanitizer
    matches digits and dots only)."""
    value = seconds / unit[1]
    text = f"{value:.3g}"
    if "e" in text:
        text = f"{value:.0f}" if value >= 1 else f"{value:.6f}".rstrip("0").rstrip(".")
    return f"{text} {unit[0]}"


def timeit_line(seconds: Sequence[float]) -> str:
    """``"<median> ± <half the interquartile range> per loop (...)"``, in ``%timeit``'s shape.

    Both numbers share the median's unit (s, ms, µs or ns, three significant digits), so the
    line matches the timeit sanitizer of ``notebooks/sanitize.cfg``: a stored notebook
    output then reads the same on every machine.
    """
    q1, median, q3 = quartiles(seconds)
    units = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))
    unit = next((u for u in units if round(median / u[1], 3) >= 1), units[-1])
    return (f"{_with_unit(median, unit)} ± {_with_unit((q3 - q1) / 2, unit)} per loop "
            f"(median ± half the interquartile range of {len(seconds)} rounds)")


def copy_bandwidth_gbs(device: str = "cpu", nbytes: int = 256 * 2**20) -> float:
    """Measured copy bandwidth (GB/s, read + write counted) of a large float32 tensor."""
    n = nbytes // 4
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    t = time_fn(lambda: dst.copy_(src), device=device, warmup=2, repeats=7)
    return 2 * nbytes / t / 1e9
