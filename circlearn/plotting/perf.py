"""Speed, memory and size figures (notebooks 02, 05, 07).

Cost model (floating-point operations for one ``n``-vector, real input), :func:`matvec_flops`::

    dense   y = W x                    2 n²                 (n² multiply-adds)
    FFT     y = irfft(rfft(x) · ĉ, n)  2 · 2.5 n log2 n + 6 (n/2 + 1)
                                       (one rfft and one irfft at ≈ 2.5 n log2 n each — half
                                       a complex FFT's 5 n log2 n — and n/2+1 complex products;
                                       the weight's spectrum ĉ is computed once per weight)

Memory: a dense ``n × n`` layer stores ``n²`` weights, a circulant one ``n`` (plus ``n`` for a
learned diagonal); :func:`layer_sizes` reads the counts off real layers.

The figures draw measurements they are given: timings are taken by the caller, e.g. with
:func:`circlearn.bench.layers.time_layers` (dense ``x @ W.T`` against
:func:`circlearn.nn.functional.circulant_matmul`, medians of interleaved rounds of the one
timer, :mod:`circlearn.bench.timing`). Timings vary between machines and runs; the notebooks
never compare them as outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from circlearn.nn import CirculantLinear

from .algebra import DPI

__all__ = ["matvec_flops", "layer_sizes", "plot_cost_model", "plot_timings", "plot_memory",
           "plot_layer_rounds", "plot_parameter_budget", "plot_layer_sweep"]


def matvec_flops(n: int) -> dict:
    """Operation counts of one length-``n`` product: ``{"dense": 2n², "fft": ...}`` (above)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fft = 2 * 2.5 * n * math.log2(n) + 6 * (n // 2 + 1) if n > 1 else 1.0
    return {"n": n, "dense": 2.0 * n * n, "fft": float(fft)}


def layer_sizes(ns: Sequence[int], diagonal: str | None = "learned") -> list[dict]:
    """Trainable parameters and float32 bytes of ``nn.Linear(n, n)`` vs ``CirculantLinear``.

    Layers are built on the ``meta`` device (nothing allocated); no bias, so the counts are
    ``n²`` and ``n · (1 + learned diagonal)``.
    """
    rows = []
    for n in ns:
        dense = torch.nn.Linear(n, n, bias=False, device="meta")
        circ = CirculantLinear(n, n, bias=False, diagonal=diagonal, device="meta")
        pd = sum(p.numel() for p in dense.parameters())
        pc = sum(p.numel() for p in circ.parameters() if p.requires_grad)
        rows.append({"n": int(n), "dense_params": pd, "circulant_params": pc,
                     "dense_bytes": 4 * pd, "circulant_bytes": 4 * pc, "ratio": pd / pc})
    return rows


def _dense_vs_circulant(rows: Sequence[Mapping], dense, circulant, ylabel: str):
    """Log-log (base-2 n) figure of two per-row quantities; ``dense`` and ``circulant`` are
    ``(key, scale, label)``."""
    ns = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(4.6, 3.2), dpi=DPI)
    for (key, scale, label), marker in ((dense, "o-"), (circulant, "s-")):
        ax.loglog(ns, [scale * r[key] for r in rows], marker, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig


def plot_cost_model(ns: Sequence[int]):
    """Log-log operation counts of :func:`matvec_flops`: O(n²) against O(n log n)."""
    return _dense_vs_circulant([matvec_flops(int(n)) for n in ns], ("dense", 1, "dense 2n²"),
                               ("fft", 1, "FFT ≈ 5 n log2 n + 3n"), "flops per vector")


def plot_timings(rows: Sequence[Mapping]):
    """Measured medians of :func:`circlearn.bench.layers.time_layers` rows (log-log), dense
    against FFT."""
    if not rows:
        raise ValueError("plot_timings needs at least one row")
    return _dense_vs_circulant(rows, ("dense_s", 1e6, "dense x @ W.T"),
                               ("fft_s", 1e6, "circulant_matmul (FFT)"), "median µs per batch")


def plot_memory(rows: Sequence[Mapping]):
    """float32 weight bytes of :func:`layer_sizes` rows (log-log), dense against circulant."""
    if not rows:
        raise ValueError("plot_memory needs at least one row")
    return _dense_vs_circulant(rows, ("dense_bytes", 1, "nn.Linear (n²)"),
                               ("circulant_bytes", 1, "CirculantLinear (2n)"),
                               "weight bytes (float32)")


def plot_layer_rounds(rows: Sequence[Mapping], variants=("nn.Linear", "CirculantLinear")):
    """Grouped bars: the median time of each layer per setting, with spread bars.

    ``rows`` are :func:`circlearn.bench.layers.layer_rounds` results (every round's seconds
    under each variant's name); a bar is the median, its whisker runs from the 25th to the
    75th percentile (as :func:`circlearn.bench.timing.quartiles`), on a log scale.
    """
    if not rows:
        raise ValueError("plot_layer_rounds needs at least one row")
    fig, ax = plt.subplots(figsize=(5.6, 3.2), dpi=DPI)
    where = np.arange(len(rows))
    width = 0.8 / len(variants)
    for i, name in enumerate(variants):
        q = np.array([np.percentile(r[name], [25, 50, 75]) for r in rows]) * 1e3  # (settings, 3) ms
        ax.bar(where + (i - (len(variants) - 1) / 2) * width, q[:, 1], width, label=name,
               color=f"C{i}", yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]], capsize=3)
    ax.set_xticks(where, [f"batch {r['batch']}\n{r['pass']}" for r in rows], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per call (median, quartiles)")
    shapes = sorted({f"{r['n_in']} → {r['n_out']}" for r in rows})
    ax.set_title(", ".join(shapes), fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_parameter_budget(budgets: Mapping[str, Mapping[str, int]]):
    """Stacked horizontal bars: parameters per component (millions) for each model.

    ``budgets[model][component]`` is a parameter count, e.g. built from
    :func:`circlearn.models.size_report` rows (without the ``total`` row).
    """
    if not budgets:
        raise ValueError("plot_parameter_budget needs at least one model")
    components: list[str] = []
    for parts in budgets.values():
        components += [c for c in parts if c not in components]
    models = list(budgets)
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(models) + 1.2), dpi=DPI)
    left = np.zeros(len(models))
    for i, comp in enumerate(components):
        vals = np.array([budgets[m].get(comp, 0) for m in models], dtype=float) / 1e6
        ax.barh(models, vals, left=left, color=f"C{i % 10}", label=comp)
        left += vals
    ax.invert_yaxis()
    ax.set_xlabel("trainable parameters (millions)")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_layer_sweep(rows: Sequence[Mapping], title: str = ""):
    """Speed-up of the circulant layer over dense (and over the paper's formulation) vs batch.

    ``rows`` are :mod:`circlearn.bench.layers` results (keys ``n_in``, ``batch``, ``pass``,
    ``speedup_vs_dense`` and optionally ``speedup_vs_paper``); one panel per pass, one line
    per ``n``, log-log axes, the break-even line at 1.
    """
    passes = sorted({r["pass"] for r in rows})
    fig, axes = plt.subplots(1, len(passes), figsize=(4.2 * len(passes), 3.2), dpi=DPI,
                             squeeze=False)
    for ax, kind in zip(axes[0], passes):
        for n in sorted({r["n_in"] for r in rows}):
            sel = sorted((r for r in rows if r["pass"] == kind and r["n_in"] == n),
                         key=lambda r: r["batch"])
            if not sel:
                continue
            line, = ax.plot([r["batch"] for r in sel], [r["speedup_vs_dense"] for r in sel],
                            marker="o", label=f"n={n} vs dense")
            if all("speedup_vs_paper" in r for r in sel):
                ax.plot([r["batch"] for r in sel], [r["speedup_vs_paper"] for r in sel],
                        ls="--", color=line.get_color(), alpha=0.6)
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set(xscale="log", yscale="log", xlabel="batch", ylabel="speed-up (×)",
               title=f"{title} {kind}".strip())
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
