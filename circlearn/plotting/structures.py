"""fig-structures' figure: validation GAP against the FC's trainable parameters.

:func:`plot_structures` draws the ``results.json`` of ``circlearn experiment fig-structures``
(:mod:`circlearn.experiments.structures`): one panel per pooling (the ``<pooling>-`` prefix of
the variant names), one line per FC kind over its budgets (log x) with a band of ± one
standard deviation over seeds, and the class-prior and linear-on-means baselines as
horizontal lines.
"""

from __future__ import annotations

from .files import save_png

__all__ = ["KIND_COLORS", "plot_structures"]

#: Line colour of each FC kind (a variant's ``kind`` in ``results.json``), in drawing order.
KIND_COLORS = {"dense": "black", "thin": "tab:gray", "circulant": "tab:red",
               "toeplitz": "tab:green", "low-rank": "tab:blue"}


def plot_structures(results: dict, path=None):
    """GAP against FC parameters (log x), one panel per pooling, band ± std over seeds."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pools = list(dict.fromkeys(v["name"].split("-", 1)[0] for v in results["variants"]))
    fig, axes = plt.subplots(1, len(pools), figsize=(5.2 * len(pools), 5), squeeze=False)
    for ax, pool in zip(axes[0], pools):
        vs = [v for v in results["variants"] if v["name"].startswith(pool + "-")]
        for kind, color in KIND_COLORS.items():
            pts = sorted((v["fc_params"], v["gap_mean"], v["gap_std"] or 0.0)
                         for v in vs if v.get("kind") == kind)
            if not pts:
                continue
            x, y, s = (list(t) for t in zip(*pts))
            ax.plot(x, y, "o-" if len(x) > 1 else "o", color=color, label=kind, ms=4)
            lo, hi = [a - b for a, b in zip(y, s)], [a + b for a, b in zip(y, s)]
            if len(x) > 1:
                ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
            else:
                ax.errorbar(x, y, yerr=s, color=color, capsize=3, fmt="none")
        for key, style in (("class_prior", ":"), ("linear_means", "--")):
            if results.get("baselines"):
                ax.axhline(results["baselines"][key], color="tab:brown", ls=style, lw=1,
                           label=key.replace("_", " "))
        ax.set_xscale("log")
        ax.set(xlabel="FC trainable parameters (both streams)", ylabel="validation GAP",
               title=f"{pool}, scale {results['scale']}, {len(results.get('seeds', [0]))} "
                     "seeds (band: ± std)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3,
                  frameon=False)  # below the axis: it hides no line
    fig.suptitle("fig-structures: FC after pooling at equal and larger budgets"
                 + (" (synthetic data)" if results.get("synthetic") else ""), fontsize=11)
    fig.tight_layout()
    if path is not None:
        save_png(fig, path, dpi=100)
        plt.close(fig)
    return fig
