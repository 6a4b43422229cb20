"""Benchmark protocol shared by every benchmark (structured.md §5.5).

- threads pinned (``torch.set_num_threads``) and recorded;
- warm-up runs before timing; the reported figure is the **median** of repeats;
- on CUDA, time with CUDA events after a synchronize;
- machine facts (CPU model, cores, GPU model, torch version) recorded with every result;
- results written as JSON + a markdown table under ``benchmarks/results/``, one file per
  benchmark and machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = ["machine_info", "machine_tag", "sync", "time_fn", "copy_bandwidth_gbs", "write_results",
           "markdown_table", "RESULTS_DIR"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str = "cpu") -> dict:
    """Facts that make a number comparable: CPU/GPU model, threads, library versions."""
    info = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
        info["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    return info


def machine_tag(device: str = "cpu") -> str:
    """A file-name-safe machine name: the GPU model on CUDA, else the CPU model."""
    info = machine_info(device)
    name = info.get("gpu") or f"{info['cpu']}-{info['cpu_count']}cores"
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower()[:60]


def sync(device: str) -> None:
    """Wait for queued CUDA work (no-op on CPU), so a timer brackets finished work."""
    if device.startswith("cuda"):
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
        if device.startswith("cuda"):
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


def copy_bandwidth_gbs(device: str = "cpu", nbytes: int = 256 * 2**20) -> float:
    """Measured copy bandwidth (GB/s, read + write counted) of a large float32 tensor."""
    n = nbytes // 4
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    t = time_fn(lambda: dst.copy_(src), device=device, warmup=2, repeats=7)
    return 2 * nbytes / t / 1e9


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows of dicts → a GitHub markdown table (floats shown with 4 significant digits)."""
    if not rows:
        return "(no rows)\n"
    columns = columns or list(rows[0])

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_results(name: str, rows: list[dict], *, device: str = "cpu", notes: str = "",
                  out_dir: Path | str | None = None, columns: list[str] | None = None) -> Path:
    """Write ``<name>-<machine>.json`` and ``.md`` under ``out_dir``; return the markdown path."""
    out = Path(out_dir) if out_dir is not None else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{machine_tag(device)}"
    info = machine_info(device)
    payload = {"benchmark": name, "machine": info, "notes": notes, "rows": rows,
               "date": time.strftime("%Y-%m-%d")}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n")
    md = [f"# {name} on {info.get('gpu') or info['cpu']}", "",
          f"torch {info['torch']}, {info['torch_threads']} threads, {payload['date']}.", ""]
    if notes:
        md += [notes, ""]
    md.append(markdown_table(rows, columns))
    path = out / f"{stem}.md"
    path.write_text("\n".join(md))
    return path
