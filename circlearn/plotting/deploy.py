"""The deployment figure of ``circlearn bench deploy``: size against GAP, size against latency.

Left: ONNX fp32 file size (MB, log scale) against validation GAP — the paper's digitized GAP
for the paper presets, circlearn's measured GAP for the other scales (synthetic data; the
two GAP axes are not comparable across scales), each compact model joined to its dense
counterpart. Right: the same sizes against batch-1, one-thread latency (ONNX Runtime fp32 and
torch eager, p50, log scale).
"""

from __future__ import annotations

import os

from .files import save_png

__all__ = ["plot_deploy"]

_MARKERS = {"paper": "o", "quick": "s", "medium": "D"}


def plot_deploy(rows: list[dict], path: str | os.PathLike | None = None):
    """Draw the rows of ``circlearn bench deploy``; saved to ``path`` when given."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax_gap, ax_lat) = plt.subplots(1, 2, figsize=(12, 4.6))
    scales = list(dict.fromkeys(r["scale"] for r in rows))
    colors = dict(zip(scales, ("tab:red", "tab:blue", "tab:green", "tab:purple")))
    by = {(r["scale"], r["preset"]): r for r in rows}
    for r in rows:
        style = {"marker": _MARKERS.get(r["scale"], "^"), "color": colors[r["scale"]]}
        compact = r["dense"] is not None
        face = "white" if compact else colors[r["scale"]]
        if r["gap"] is not None:
            ax_gap.scatter(r["fp32_MB"], r["gap"], facecolors=face, edgecolors=style["color"],
                           marker=style["marker"], s=40, zorder=3)
            ax_gap.annotate(r["preset"], (r["fp32_MB"], r["gap"]), fontsize=6,
                            xytext=(4, 2), textcoords="offset points")
            dense = by.get((r["scale"], r["dense"]))
            if dense is not None and dense["gap"] is not None:
                ax_gap.plot([dense["fp32_MB"], r["fp32_MB"]], [dense["gap"], r["gap"]], ":",
                            color=style["color"], lw=0.8)
        ax_lat.scatter(r["fp32_MB"], r["onnx-fp32_p50_ms"], marker=style["marker"], s=40,
                       facecolors=face, edgecolors=style["color"], zorder=3)
        ax_lat.scatter(r["fp32_MB"], r["eager_p50_ms"], marker="x", color=style["color"],
                       s=25, zorder=3)
    for scale in scales:
        source = "paper's digitized GAP" if scale == "paper" else "circlearn's GAP, synthetic"
        ax_gap.scatter([], [], marker=_MARKERS.get(scale, "^"), color=colors[scale],
                       label=f"{scale} ({source})")
        ax_lat.scatter([], [], marker=_MARKERS.get(scale, "^"), color=colors[scale],
                       label=f"{scale}: ONNX Runtime fp32")
    ax_lat.scatter([], [], marker="x", color="gray", label="torch eager")
    ax_gap.scatter([], [], marker="o", facecolors="white", edgecolors="gray",
                   label="hollow: compact (circulant); dotted: to its dense model")
    ax_gap.set_xscale("log")
    ax_gap.set_xlabel("ONNX fp32 file (MB, log)")
    ax_gap.set_ylabel("validation GAP")
    ax_gap.set_title("size vs accuracy", fontsize=10)
    ax_lat.set_xscale("log")
    ax_lat.set_yscale("log")
    ax_lat.set_xlabel("ONNX fp32 file (MB, log)")
    ax_lat.set_ylabel("batch-1 latency p50, 300 frames, 1 thread (ms)")
    ax_lat.set_title("size vs latency", fontsize=10)
    for ax in (ax_gap, ax_lat):
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    if path is not None:
        save_png(fig, path, dpi=110)
        plt.close(fig)
    return fig
