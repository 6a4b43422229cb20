"""Paired differences with their intervals, several datasets side by side (a forest plot).

:func:`difference_rows` reads one figure's comparisons (``results.json``'s ``comparisons``,
or any list of dicts with ``a``, ``b``, ``diff_mean``, ``ci95``, ``verdict`` and
``verdict_holm``) into rows; :func:`plot_differences` draws, per comparison, one point per
dataset at ``b − a`` with its 95 % interval as a band, the line at 0 and the claim's margin.
A hollow point is an interval that does not decide the claim (Holm's verdict "undecided").

:func:`paired_curves` and :func:`plot_paired_curves` draw the quantity a figure's claims test,
per epoch: for each comparison, ``b − a`` of the validate GAP paired by seed, its mean over
seeds and its 95 % t-interval as a band, all comparisons on one axis with zero and the
margin, the legend outside the axis so that it hides nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from .files import save_png

__all__ = ["difference_rows", "plot_differences", "paired_curves", "plot_paired_curves"]


def difference_rows(dataset: str, comparisons: Sequence[Mapping],
                    labels: Mapping[str, str] | None = None) -> list[dict]:
    """One row per comparison: ``{dataset, label, diff, lo, hi, verdict, holm}`` (``lo`` and
    ``hi`` ``None`` without an interval); ``label`` is ``labels[b]`` (default ``b``).

    >>> difference_rows("d", [{"a": "x", "b": "y", "diff_mean": -0.1, "ci95": [-0.2, 0.0],
    ...                        "verdict": "undecided at this sample size"}])[0]["hi"]
    0.0
    """
    labels = labels or {}
    out = []
    for c in comparisons:
        lo, hi = c["ci95"] if c.get("ci95") else (None, None)
        out.append({"dataset": dataset, "label": labels.get(c["b"], c["b"]),
                    "diff": c["diff_mean"], "lo": lo, "hi": hi, "verdict": c["verdict"],
                    "holm": c.get("verdict_holm") or c["verdict"]})
    return out


def plot_differences(panels: Mapping[str, Sequence[Mapping]], margin: float | None = 0.01,
                     path: str | os.PathLike | None = None, title: str | None = None):
    """One axis per panel (``{title: rows}``), stacked, each as tall as its comparisons; rows
    of :func:`difference_rows`, grouped by ``label`` (top to bottom in first appearance) with
    one color per ``dataset``. Returns the figure (saved to ``path`` when given)."""
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for rows in panels.values() for r in rows))
    colors = {d: f"C{i}" for i, d in enumerate(datasets)}
    per_panel = [list(dict.fromkeys(r["label"] for r in rows)) for rows in panels.values()]
    heights = [max(len(labels), 1) + 1.5 for labels in per_panel]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 0.3 * sum(heights) + 0.8),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    step = 0.8 / max(len(datasets), 1)
    for ax, labels, (name, rows) in zip(axes[:, 0], per_panel, panels.items()):
        for r in rows:
            offset = (datasets.index(r["dataset"]) - (len(datasets) - 1) / 2) * step
            y, c = labels.index(r["label"]) + offset, colors[r["dataset"]]
            if r["lo"] is not None:
                ax.plot([r["lo"], r["hi"]], [y, y], color=c, lw=3, alpha=0.45,
                        solid_capstyle="butt")
            filled = r["holm"] != "undecided at this sample size"
            ax.plot(r["diff"], y, "o", ms=4.5, color=c, mfc=c if filled else "white")
        ax.axvline(0, color="black", lw=0.8)
        if margin is not None:
            ax.axvline(-margin, color="gray", lw=0.8, ls="--")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("b − a (paired over seeds, 95% interval)", fontsize=8)
    handles = [plt.Line2D([], [], color=colors[d], marker="o", lw=3, alpha=0.7, label=d)
               for d in datasets]
    fig.legend(handles=handles, loc="lower center", ncol=len(datasets), fontsize=7,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    if path is not None:
        save_png(fig, path, dpi=110)
    return fig


def paired_curves(results: Mapping) -> list[dict]:
    """Per comparison of ``results["comparisons"]``: ``{a, b, label, epochs, mean, lo, hi}``,
    the per-epoch validate GAP difference ``b − a`` over the seeds both variants ran (paired
    by seed), its mean and 95 % t-interval (``lo = hi = mean`` with one seed).

    >>> r = {"variants": [{"name": n, "label": n, "runs": [
    ...     {"seed": s, "curve": [{"epoch": 1.0, "gap": g + s}, {"epoch": 2.0, "gap": g}]}
    ...     for s in (0, 1)]} for n, g in (("a", 0.5), ("b", 0.4))],
    ...     "comparisons": [{"a": "a", "b": "b"}]}
    >>> [round(x, 3) for x in paired_curves(r)[0]["mean"]]
    [-0.1, -0.1]
    """
    import numpy as np
    from scipy.stats import t as student_t

    by_name = {v["name"]: v for v in results["variants"]}
    out = []
    for c in results.get("comparisons") or []:
        runs = [{r["seed"]: r["curve"] for r in by_name[k]["runs"]} for k in (c["a"], c["b"])]
        seeds = sorted(set(runs[0]) & set(runs[1]))
        n = min(len(runs[0][s]) for s in seeds) if seeds else 0
        d = np.array([[runs[1][s][e]["gap"] - runs[0][s][e]["gap"] for e in range(n)]
                      for s in seeds])  # (seeds, epochs)
        mean = d.mean(axis=0)
        half = (student_t.ppf(0.975, len(seeds) - 1) * d.std(axis=0, ddof=1) / np.sqrt(len(seeds))
                if len(seeds) > 1 else np.zeros(n))
        out.append({"a": c["a"], "b": c["b"], "label": by_name[c["b"]].get("label", c["b"]),
                    "epochs": [runs[0][seeds[0]][e]["epoch"] for e in range(n)],
                    "mean": mean.tolist(), "lo": (mean - half).tolist(),
                    "hi": (mean + half).tolist()})
    return out


def plot_paired_curves(results: Mapping, margin: float | None = 0.01, ax=None):
    """:func:`paired_curves` on one axis: a line per comparison with its band, zero, the
    margin; the legend below the axis. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.6))
    for i, c in enumerate(paired_curves(results)):
        ax.plot(c["epochs"], c["mean"], "o-", ms=3, color=f"C{i}",
                label=f"{c['label']} − {c['a']}")
        ax.fill_between(c["epochs"], c["lo"], c["hi"], color=f"C{i}", alpha=0.15, lw=0)
    ax.axhline(0, color="black", lw=0.8)
    if margin is not None:
        ax.axhline(-margin, color="gray", lw=0.8, ls="--", label=f"margin −{margin}")
    ax.set(xlabel="epoch", ylabel="validate GAP difference b − a")
    ax.set_title(f"{results.get('experiment', '')}: the tested difference per epoch (mean over "
                 f"{len(results.get('seeds', []))} seeds, band: 95% CI)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
              frameon=False)
    ax.figure.tight_layout()
    return ax.figure
