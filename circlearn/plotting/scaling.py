"""fig-scaling's figure: the compact − dense difference against the number of training videos.

:func:`plot_scaling` draws the ``results.json`` of ``circlearn experiment fig-scaling``
(:mod:`circlearn.experiments.scaling`): per pooling, the paired difference (circulant FC −
dense FC, validation GAP, mean over seeds) at each training-set size on a log axis, with its
95 % t-interval as a band; a star marks the paper's difference (the last point of its
figure B curves, :data:`~circlearn.plotting.paper.PAPER_CURVES`) at the paper's
training-set size; the "no worse" margin (−0.01) and zero are horizontal lines.
"""

from __future__ import annotations

from .files import save_png

__all__ = ["POOLING_COLORS", "PAPER_TRAIN_VIDEOS", "paper_differences", "scaling_rows",
           "plot_scaling"]

#: Line colour per pooling.
POOLING_COLORS = {"dbof": "tab:red", "netvlad": "tab:blue", "netfv": "tab:green"}
#: Training videos behind the paper's figure B: the 2018 train split, about 3.89 M videos (its
#: pattern ``validate[A-Za-z]*`` matches no 2018 shard, ``paper.md`` §3.6), of the 6.1 M in
#: the release. The paper's differences are marked there.
PAPER_TRAIN_VIDEOS = 3_890_000


def paper_differences() -> dict[str, float]:
    """The paper's compact − dense validation GAP at the last epoch of figure B, per pooling.

    >>> {k: round(v, 3) for k, v in paper_differences().items()}
    {'dbof': -0.001, 'netvlad': -0.013, 'netfv': -0.012}
    """
    from circlearn.plotting.paper import PAPER_CURVES

    curves = PAPER_CURVES["fig-embeddings"]
    return {p: curves[f"{p}-fc-circulant"][1][-1] - curves[p][1][-1]
            for p in ("dbof", "netvlad", "netfv")}


def scaling_rows(results: dict, split_key: str = "comparisons") -> list[dict]:
    """Per comparison of ``results[split_key]`` (one per pooling and size): the pooling, the
    training fraction and videos, the dense and compact variants, and the comparison."""
    by_name = {v["name"]: v for v in results["variants"]}
    rows = []
    for c in results.get(split_key) or []:
        dense, compact = by_name[c["a"]], by_name[c["b"]]
        rows.append({"pooling": dense["preset"], "fraction": dense.get("train_fraction"),
                     "train_videos": dense.get("train_videos"), "dense": dense,
                     "compact": compact, "comparison": c})
    return rows


def plot_scaling(results: dict, path=None, split_key: str = "comparisons"):
    """Difference against training videos (log x), one line per pooling with its band."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = scaling_rows(results, split_key)
    paper = paper_differences()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    for pool in dict.fromkeys(r["pooling"] for r in rows):
        pts = sorted((r["train_videos"], r["comparison"]) for r in rows if r["pooling"] == pool)
        x = [n for n, _ in pts]
        y = [c["diff_mean"] for _, c in pts]
        color = POOLING_COLORS.get(pool, "black")
        ax.plot(x, y, "o-", color=color, label=f"{pool}: circulant − dense (mean)")
        if all(c["ci95"] is not None for _, c in pts):
            ax.fill_between(x, [c["ci95"][0] for _, c in pts], [c["ci95"][1] for _, c in pts],
                            color=color, alpha=0.15, lw=0)
        if pool in paper:
            ax.plot([PAPER_TRAIN_VIDEOS], [paper[pool]], "*", color=color, ms=12,
                    label=f"{pool}: paper (YouTube-8M)")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.axhline(-0.01, color="gray", ls="--", lw=1, label="margin −0.01 (no worse)")
    ax.set_xscale("log")
    split = "test" if split_key.endswith("_test") else "validate"
    ax.set(xlabel="training videos (log scale)", ylabel=f"{split} GAP difference",
           title=f"fig-scaling, scale {results['scale']}, {len(results.get('seeds', [0]))} "
                 "seeds (band: 95% CI)" + (" — synthetic" if results.get("synthetic") else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
              frameon=False)  # below the axis: it hides no line
    fig.tight_layout()
    if path is not None:
        save_png(fig, path, dpi=100)
        plt.close(fig)
    return fig
