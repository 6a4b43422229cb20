"""Where benchmark results go and what is stored with them (structured.md §5.5).

- machine facts (CPU model, cores, torch threads, GPU model, torch version) with every result;
- results written as JSON + a markdown table (:func:`circlearn.experiments.report.markdown_table`,
  the one table writer), one file per benchmark and machine, under the
  folder given (``circlearn bench --out DIR``), by default :data:`RESULTS_DIR`,
  ``benchmarks/results`` under the working directory of the call (``make bench`` runs in the
  source checkout, whose ``benchmarks/results/`` holds the stored results).

Timing itself is :mod:`circlearn.bench.timing`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from circlearn.experiments.report import markdown_table

__all__ = ["machine_info", "machine_tag", "write_results", "results_markdown", "RESULTS_DIR"]


#: Default results folder, relative: ``benchmarks/results`` under the working directory of
#: the call that writes (never the folder circlearn is imported from).
RESULTS_DIR = Path("benchmarks") / "results"


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


def write_results(name: str, rows: list[dict], *, device: str = "cpu", notes: str = "",
                  out_dir: Path | str | None = None, columns: list[str] | None = None) -> Path:
    """Write ``<name>-<machine>.json`` and ``.md`` under ``out_dir`` (default
    :data:`RESULTS_DIR`, under the working directory); return the markdown path."""
    out = Path(out_dir) if out_dir is not None else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{machine_tag(device)}"
    info = machine_info(device)
    payload = {"benchmark": name, "machine": info, "notes": notes, "rows": rows,
               "date": time.strftime("%Y-%m-%d")}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n")
    path = out / f"{stem}.md"
    path.write_text(results_markdown(payload, columns))
    return path


def results_markdown(payload: dict, columns: list[str] | None = None) -> str:
    """The markdown of a results payload (``{benchmark, machine, notes, rows, date}``): a title
    naming the machine, torch and the date, the notes, then the rows as a table."""
    info = payload["machine"]
    md = [f"# {payload['benchmark']} on {info.get('gpu') or info['cpu']}", "",
          f"torch {info['torch']}, {info['torch_threads']} threads, {payload['date']}.", ""]
    if payload.get("notes"):
        md += [payload["notes"], ""]
    md.append(markdown_table(payload["rows"], columns))
    return "\n".join(md)
