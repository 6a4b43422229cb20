"""fig-compress's figure: GAP of the projected, fine-tuned and from-scratch compact models.

:func:`plot_compress` draws the ``results.json`` of ``circlearn experiment fig-compress``: one
panel per pooling (the variants' ``source`` or dense name), the FC structures along x, per
structure three columns (the projection before fine-tuning, the projection fine-tuned, the
compact model trained from scratch for as many steps), each seed a dot and the mean ± std a
bar; the dense model as a horizontal line with its ± std band, and the class-prior and
linear-on-means baselines.
"""

from __future__ import annotations

from .files import save_png

__all__ = ["STAGE_STYLES", "plot_compress"]

#: Stage → (legend text, colour, x offset within a structure's group).
STAGE_STYLES = {"projected": ("projected, not fine-tuned", "tab:gray", -0.25),
                "fine-tuned": ("projected + fine-tuned", "tab:red", 0.0),
                "scratch": ("from scratch, same steps", "tab:blue", 0.25)}


def _panel(ax, dense: dict, compact: list[dict], baselines: dict | None) -> None:
    kinds = list(dict.fromkeys(v["overrides"]["fc"] for v in compact))
    mean, std = dense["gap_mean"], dense["gap_std"] or 0.0
    ax.axhline(mean, color="black", lw=1.2, label=f"dense ({mean:.3f})")
    ax.axhspan(mean - std, mean + std, color="black", alpha=0.08, lw=0)
    for stage, (text, color, dx) in STAGE_STYLES.items():
        for i, kind in enumerate(kinds):
            v = next((v for v in compact if v["stage"] == stage
                      and v["overrides"]["fc"] == kind), None)
            if v is None:
                continue
            gaps = [r["gap"] for r in v["runs"]]
            ax.plot([i + dx] * len(gaps), gaps, ".", color=color, alpha=0.5, ms=5)
            ax.errorbar(i + dx, v["gap_mean"], yerr=v["gap_std"] or 0.0, fmt="o", color=color,
                        capsize=4, ms=6, label=text if i == 0 else None)
    for key, style in (("class_prior", ":"), ("linear_means", "--")):
        if baselines:
            ax.axhline(baselines[key], color="tab:brown", ls=style, lw=1,
                       label=f"{key.replace('_', ' ')} ({baselines[key]:.3f})")
    ax.set_xticks(range(len(kinds)), [f"{k} FC" for k in kinds])
    ax.set_xlim(-0.6, len(kinds) - 0.4)
    ax.grid(True, axis="y", alpha=0.3)


def plot_compress(results: dict, path=None):
    """The figure of a fig-compress ``results`` dict (module docstring); saved to ``path``
    when given; returns the figure."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    dense = [v for v in results["variants"] if v.get("stage") == "dense"]
    fig, axes = plt.subplots(1, len(dense), figsize=(5.2 * len(dense), 5), squeeze=False)
    n = len(results.get("seeds", [0]))
    for ax, d in zip(axes[0], dense):
        compact = [v for v in results["variants"] if v.get("stage") in STAGE_STYLES
                   and v["preset"] == d["preset"]]
        _panel(ax, d, compact, results.get("baselines"))
        ax.set(ylabel="validation GAP", title=f"{d['label'].split()[0]}, scale "
                                              f"{results['scale']}, {n} seeds (bar: mean ± std)")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2,
                  frameon=False)  # below the axis: it hides no point
    fig.suptitle("fig-compress (beyond the paper): project a trained dense FC, then fine-tune, "
                 "vs train from scratch" + (" (synthetic data)" if results.get("synthetic")
                                            else ""), fontsize=10)
    fig.tight_layout()
    if path is not None:
        save_png(fig, path, dpi=100)
        plt.close(fig)
    return fig
