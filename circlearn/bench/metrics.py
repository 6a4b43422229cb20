"""Streaming YouTube-8M metrics: circlearn.metrics vs the slow literal twin of the reference.

Workload: 100,000 videos x 3,862 classes streamed in batches of 1,024. Labels: a
Poisson(3) number per video drawn from a long-tailed class popularity (some classes stay
empty, as in YouTube-8M); scores: float64 ``N(0, 1) + 3 * label``, so no two pooled scores tie
and the reference's tie shuffling cannot make the two differ (checked on the pooled entries).
Batches are generated on the fly from ``default_rng([seed, batch])``; generation is not timed.

Measured:

- ``literal``: :class:`circlearn.metrics.literal.LiteralEvaluationMetrics` over the **full**
  set, once, timed batch by batch, interleaved with a ``fast`` pass on the same batches;
- ``fast``: :class:`circlearn.metrics.EvaluationMetrics`, the interleaved pass plus further
  full passes; the figure is the median total (accumulate + compute). Its per-batch selection
  runs the numba kernels (:mod:`circlearn.metrics.kernels`) when numba is installed; their
  JIT compilation happens in an untimed warm-up (its time is reported, and the cold compile
  time is measured in a fresh process with an empty numba cache);
- ``fast, NumPy path``: the same with ``backend="numpy"`` (the pre-numba selection), passes
  interleaved with the default ones;
- ``fast float32``: the same with float32 scores (what models emit), fast only: float32 pools
  have ties, where the reference's result depends on its shuffle;
- peak extra memory of the fast path: ``tracemalloc`` peak during its calls minus the memory
  before the evaluation and minus the caller's input batch (NumPy allocations are traced;
  the CPU path allocates nothing through torch), in a separate untimed pass; plus the growth of
  the process's peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs``) over that pass,
  which also includes batch generation.

Run: ``circlearn bench metrics [--quick]``, or
``python -m circlearn.bench.metrics [--quick] [--videos N] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from circlearn.bench.results import write_results
from circlearn.metrics import EvaluationMetrics, kernels
from circlearn.metrics.literal import LiteralEvaluationMetrics

__all__ = ["run", "main", "make_batch"]

NUM_CLASSES = 3862
KEYS = ("gap", "hit_at_one", "perr", "map")


def make_batch(seed: int, index: int, n_videos: int, dtype=np.float64):
    """One batch: scores (n, C) ``dtype`` and labels (n, C) bool."""
    g = np.random.default_rng([seed, index])
    popularity = 1.0 / (np.arange(NUM_CLASSES) + 10.0)
    counts = g.poisson(3.0, n_videos)
    rows = np.repeat(np.arange(n_videos), counts)
    cols = g.choice(NUM_CLASSES, size=rows.size, p=popularity / popularity.sum())
    labels = np.zeros((n_videos, NUM_CLASSES), dtype=bool)
    labels[rows, cols] = True
    scores = g.standard_normal((n_videos, NUM_CLASSES))
    scores += 3.0 * labels
    return scores.astype(dtype, copy=False), labels


def _batches(n_videos: int, batch: int):
    return [(i, min(batch, n_videos - s)) for i, s in enumerate(range(0, n_videos, batch))]


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class _Clock:
    """Wall (perf_counter) and CPU (process_time, all threads) seconds spent inside ``with``."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


_COLD_COMPILE = """
import time, numpy as np
t0 = time.perf_counter()
from circlearn.metrics import EvaluationMetrics
for dtype in (np.float64, np.float32):
    m = EvaluationMetrics(40, top_k=3, backend="numba")
    m.accumulate(np.arange(80, dtype=dtype).reshape(2, 40), np.eye(2, 40, dtype=bool))
print(time.perf_counter() - t0)
"""


def _warm_up() -> float:
    """Compile (or load from numba's disk cache) the kernels for both score dtypes; seconds."""
    t0 = time.perf_counter()
    for dtype in (np.float64, np.float32):
        m = EvaluationMetrics(NUM_CLASSES, num_threads=1)
        m.accumulate(*make_batch(0, 0, 4, dtype))
        m.compute()
    return time.perf_counter() - t0


def _cold_compile_s() -> float | None:
    """Import + first accumulate (both dtypes) in a fresh process with an empty numba cache."""
    if not kernels.HAVE_NUMBA:
        return None
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2]),
                                                           os.environ.get("PYTHONPATH")]))}
        out = subprocess.run([sys.executable, "-c", _COLD_COMPILE], env=env, check=True,
                             capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def _fast_pass(plan, seed, dtype, threads=1, literal=None, backend=None) -> dict:
    """One full streamed pass of the fast path (and of ``literal`` on the same batches)."""
    fast = EvaluationMetrics(NUM_CLASSES, num_threads=threads, backend=backend)
    acc, cmp_, lit_acc, lit_cmp = _Clock(), _Clock(), _Clock(), _Clock()
    for index, n in plan:
        scores, labels = make_batch(seed, index, n, dtype)
        with acc:
            fast.accumulate(scores, labels)
        if literal is not None:
            with lit_acc:
                literal.accumulate(scores, labels)
    with cmp_:
        result = fast.compute()
    out = {"result": result, "acc": acc.wall, "compute": cmp_.wall, "cpu": acc.cpu + cmp_.cpu,
           "pooled": np.concatenate(fast._scores)}  # the pooled top-k scores (tie check)
    if literal is not None:
        with lit_cmp:
            out["lit_result"] = literal.get()
        out.update(lit_acc=lit_acc.wall, lit_compute=lit_cmp.wall,
                   lit_cpu=lit_acc.cpu + lit_cmp.cpu)
    return out


def _memory_pass(plan, seed, dtype):
    """Peak extra memory (bytes) of the fast path: tracemalloc and RSS views."""
    rss_ok = _reset_peak_rss()
    rss0 = _status("VmRSS")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fast = EvaluationMetrics(NUM_CLASSES, num_threads=1)
    peak_extra = 0
    for index, n in plan:
        scores, labels = make_batch(seed, index, n, dtype)
        tracemalloc.reset_peak()
        fast.accumulate(scores, labels)
        peak_extra = max(peak_extra, tracemalloc.get_traced_memory()[1] - base
                         - scores.nbytes - labels.nbytes)
        del scores, labels
    tracemalloc.reset_peak()
    fast.compute()
    peak_extra = max(peak_extra, tracemalloc.get_traced_memory()[1] - base)
    tracemalloc.stop()
    rss_extra = _status("VmHWM") - rss0 if rss_ok else None
    return peak_extra, rss_extra


def _timed_passes(plan, seed, fast_repeats):
    """The literal twin once, interleaved with a first fast pass, then the further fast passes:
    one and two threads alternating, the NumPy path, float32 scores."""
    # 1. Interleaved: the literal twin and the fast path on the same batches, full set.
    first = _fast_pass(plan, seed, np.float64, 1, LiteralEvaluationMetrics(NUM_CLASSES))
    fast_res = first["result"]
    passes = {1: [first], 2: []}
    numpy_passes = []
    # 2. More fast passes for medians, one and two threads alternating, and the NumPy path.
    for r in range(2 * fast_repeats - 1):
        threads = 2 if r % 2 == 0 else 1
        p = _fast_pass(plan, seed, np.float64, threads)
        assert all(p["result"][k] == fast_res[k] for k in KEYS), "fast path is not deterministic"
        passes[threads].append(p)
        if threads == 1 or len(numpy_passes) < fast_repeats - 1:
            p = _fast_pass(plan, seed, np.float64, 1, backend="numpy")
            assert all(p["result"][k] == fast_res[k] for k in KEYS), "NumPy path differs"
            numpy_passes.append(p)
    f32 = [_fast_pass(plan, seed, np.float32, 1) for _ in range(fast_repeats)]
    return first, passes, numpy_passes, f32


def _medians(ps, lit_total: float, lit_cpu: float) -> dict:
    """Median times over the passes ``ps`` and their speedups against the literal twin."""
    total = statistics.median(p["acc"] + p["compute"] for p in ps)
    cpu = statistics.median(p["cpu"] for p in ps)
    return {"runs": len(ps), "total_s": total,
            "accumulate_s": statistics.median(p["acc"] for p in ps),
            "compute_s": statistics.median(p["compute"] for p in ps),
            "cpu_s": cpu, "speedup": lit_total / total, "cpu_speedup": lit_cpu / cpu}


def _rows(first, passes, numpy_passes, f32, memory, common: dict, diff: float,
          ties: int) -> list[dict]:
    """One row per variant: the literal twin, the fast path on 1 and 2 threads, its NumPy
    path, float32 scores."""
    fast_res, lit_res = first["result"], first["lit_result"]
    lit_total = first["lit_acc"] + first["lit_compute"]
    lit_cpu = first["lit_cpu"]
    peak_extra, rss_extra = memory
    mb = 2.0 ** 20
    rows = [{"variant": "literal twin (reference algorithm)", **common, "scores": "float64",
             "runs": 1, "total_s": lit_total, "accumulate_s": first["lit_acc"],
             "compute_s": first["lit_compute"], "cpu_s": lit_cpu, "speedup": 1.0,
             "cpu_speedup": 1.0, "gap": lit_res["gap"], "map": lit_res["map"]}]
    for threads in (1, 2):
        row = {"variant": f"circlearn EvaluationMetrics, {threads} thread(s)", **common,
               "scores": "float64", **_medians(passes[threads], lit_total, lit_cpu),
               "max_abs_diff_vs_twin": diff, "gap": fast_res["gap"], "map": fast_res["map"]}
        if threads == 1:
            row.update({"speedup_interleaved_pass": lit_total / (first["acc"] + first["compute"]),
                        "pooled_ties": ties, "peak_extra_mb_tracemalloc": peak_extra / mb,
                        "peak_rss_growth_mb": None if rss_extra is None else rss_extra / mb})
        rows.append(row)
    rows.append({"variant": "circlearn EvaluationMetrics, NumPy path, 1 thread(s)", **common,
                 "scores": "float64", **_medians(numpy_passes, lit_total, lit_cpu),
                 "max_abs_diff_vs_twin": diff, "gap": fast_res["gap"], "map": fast_res["map"]})
    rows.append({"variant": "circlearn EvaluationMetrics, 1 thread(s)", **common,
                 "scores": "float32", **_medians(f32, lit_total, lit_cpu),
                 "gap": f32[0]["result"]["gap"], "map": f32[0]["result"]["map"]})
    return rows


def _notes(warm_s, cold_s, torch_threads, videos, fast_repeats, diff, ties, fast_res) -> str:
    jit = (f"Selection: numba kernels, JIT compiled in an untimed warm-up ({warm_s:.2f} s here, "
           f"from numba's disk cache when present; cold compile in a fresh process with an "
           f"empty cache, import included: {cold_s:.2f} s). " if kernels.HAVE_NUMBA else
           "Selection: NumPy path (numba not installed). ")
    return (jit + f"torch threads pinned to {torch_threads}; the fast path's own threads are in the "
            f"variant name (the twin is single-threaded Python). The literal "
            f"twin ran once over all {videos:,} videos, interleaved batch by batch with the "
            f"first 1-thread fast pass; fast figures are medians of {fast_repeats} full passes "
            "(1- and 2-thread passes alternate). "
            f"Fast vs twin, largest |difference| over gap/hit_at_one/perr/map: {diff:.3g} "
            f"(pooled score ties: {ties}). hit_at_one {fast_res['hit_at_one']:.6f}, perr "
            f"{fast_res['perr']:.6f}. Memory: tracemalloc peak of the fast path's own "
            "allocations (state + temporaries, input batch excluded); RSS growth includes batch "
            "generation. float32 speedup is against the float64 twin run. cpu_s: process CPU "
            "time (all threads), which a busy shared machine inflates less than wall time.")


def run(quick: bool = False, out_dir=None, *, videos: int | None = None, batch: int = 1024,
        fast_repeats: int = 3, seed: int = 0, torch_threads: int = 1) -> list[dict]:
    """Time both implementations, check they agree, write ``bench_metrics-<machine>.*``."""
    torch.set_num_threads(torch_threads)
    videos = videos or (4096 if quick else 100_000)
    plan = _batches(videos, batch)
    cold_s = _cold_compile_s()
    warm_s = _warm_up()
    first, passes, numpy_passes, f32 = _timed_passes(plan, seed, fast_repeats)
    memory = _memory_pass(plan, seed, np.float64)
    fast_res, lit_res = first["result"], first["lit_result"]
    ties = first["pooled"].size - np.unique(first["pooled"]).size
    diff = max(abs(fast_res[k] - lit_res[k]) for k in KEYS)
    common = {"videos": videos, "classes": NUM_CLASSES, "batch": batch}
    rows = _rows(first, passes, numpy_passes, f32, memory, common, diff, ties)
    rows[1].update({"selection": "numba" if kernels.HAVE_NUMBA else "numpy",
                    "jit_warmup_s": warm_s, "jit_cold_compile_s": cold_s})
    notes = _notes(warm_s, cold_s, torch_threads, videos, fast_repeats, diff, ties, fast_res)
    if not quick:  # --quick is a smoke test: it must not overwrite the stored results
        write_results("bench_metrics", rows, notes=notes, out_dir=out_dir,
                      columns=["variant", "scores", "videos", "runs", "total_s", "accumulate_s",
                               "compute_s", "speedup", "cpu_s", "cpu_speedup",
                               "max_abs_diff_vs_twin", "peak_extra_mb_tracemalloc",
                               "peak_rss_growth_mb"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,096 videos instead of 100,000")
    parser.add_argument("--videos", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="full fast passes (median)")
    args = parser.parse_args(argv)
    for row in run(args.quick, videos=args.videos, fast_repeats=args.repeats):
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
