r"""``fig-structures``: circulant against other structures at the same budget (issue 13).

The FC after pooling (DBoF and NetVLAD, both streams) is replaced by, per pooling:

================== ===========================================================================
variant            FC after pooling
================== ===========================================================================
``dense``          ``nn.Linear`` (the reference)
``thin``           a dense FC with a smaller ``hidden_size`` ``h`` so that its weights match the
                   circulant FC's count: ``h = max(1, round(P_circ / Σ_s in_s))`` (``h = 2``
                   whenever ``in_s >= hidden``: the circulant FC has ``2 · in_s`` weights). The
                   classifier then reads ``h`` features per stream instead of ``hidden_size``.
``circulant-k1/2/4`` ``CirculantLinear`` with a learned diagonal and 1, 2, 4 factors
``toeplitz``       ``ToeplitzLinear`` (``in + out − 1`` weights)
``low-rank-x1/4/16`` ``LowRankLinear`` with ``m`` = 1, 4, 16 times the circulant FC's count:
                   one rank for every stream, ``r = max(1, round(m · P_circ / Σ_s (in_s +
                   out)))``, capped per layer at ``min(in, out)`` (so the budget is met within
                   half a rank's worth of weights: ``Σ_s (in_s + out) / 2``)
================== ===========================================================================

``P_circ`` is the trainable parameter count of the one-factor circulant FCs of both streams
(``2 · in_s`` each). At the paper's DBoF shapes (8192 → 512 and 4096 → 512) the equal-budget
rank is ``round(24576 / 13312) = 2``; at the quick scale's (256 → 64, 128 → 64) it is
``round(768 / 512) = 2`` (half to even).

Initialization: every FC's represented weight entries have standard deviation
``1/√hidden`` (the paper's rule for the FC, ``paper.md`` §2.4): dense and thin ``N(0,
1/hidden)`` (the thin FC with its own, smaller ``hidden``); circulant ``c, d ~ N(0,
1/hidden)`` (the paper's); Toeplitz ``t ~ N(0, 1/hidden)``; low rank ``U, V ~ N(0, s²)`` with
``rank · s⁴ = 1/hidden``. Batch norm follows every FC.

The table gives each variant's FC and total trainable parameters, the model's float32 size,
its batch-1 inference latency (whole model, one video of ``max_frames`` frames, CPU, one
thread, median of 30 calls: :func:`batch1_latency_ms`), GAP mean ± std over seeds, and the
paired difference from the dense variant with its 95% t-interval. The intervals are **not
adjusted** for the 8 comparisons per pooling. The figure plots GAP against the FC's trainable
parameters (log x) with a band of ± one standard deviation over seeds per kind, and the
baselines as horizontal lines.
"""

from __future__ import annotations

import time

import torch

__all__ = ["POOLINGS", "KINDS", "resolve_budget", "fc_parameters", "batch1_latency_ms",
           "variant_details", "format_table", "plot_structures"]

POOLINGS = ("dbof", "netvlad")
#: (suffix, label, kind, overrides); ``thin_fc`` and ``rank_budget`` are resolved per data.
KINDS = (
    ("dense", "dense", "dense", {}),
    ("thin", "thin dense (circulant's count)", "thin", {"thin_fc": 1}),
    ("circulant-k1", "circulant, 1 factor", "circulant", {"fc": "circulant", "n_factors": 1}),
    ("circulant-k2", "circulant, 2 factors", "circulant", {"fc": "circulant", "n_factors": 2}),
    ("circulant-k4", "circulant, 4 factors", "circulant", {"fc": "circulant", "n_factors": 4}),
    ("toeplitz", "Toeplitz", "toeplitz", {"fc": "toeplitz"}),
    ("low-rank-x1", "low rank, 1x circulant's count", "low-rank",
     {"fc": "low-rank", "rank_budget": 1}),
    ("low-rank-x4", "low rank, 4x", "low-rank", {"fc": "low-rank", "rank_budget": 4}),
    ("low-rank-x16", "low rank, 16x", "low-rank", {"fc": "low-rank", "rank_budget": 16}),
)
_KIND_OF = {f"{p}-{suffix}": kind for p in POOLINGS for suffix, _, kind, _ in KINDS}
_COLORS = {"dense": "black", "thin": "tab:gray", "circulant": "tab:red", "toeplitz": "tab:green",
           "low-rank": "tab:blue"}


def fc_parameters(model: torch.nn.Module) -> int:
    """Trainable parameters of the FCs after pooling (``model.fc.<stream>.linear``)."""
    return sum(p.numel() for fc in model.fc.values() for p in fc.linear.parameters()
               if p.requires_grad)


def resolve_budget(preset: str, overrides: dict) -> dict:
    """Replace ``thin_fc`` / ``rank_budget`` by the ``hidden_size`` / ``rank`` they mean
    (module docstring) for ``preset`` with the other ``overrides``; other keys pass through.

    >>> resolve_budget("dbof", {"fc": "low-rank", "rank_budget": 1})["rank"]   # paper shapes
    2
    >>> resolve_budget("dbof", {"thin_fc": 1})["hidden_size"]
    2
    """
    from circlearn.models import VideoClassifier, preset_config

    overrides = dict(overrides)
    thin, budget = overrides.pop("thin_fc", None), overrides.pop("rank_budget", None)
    if thin is None and budget is None:
        return overrides
    ref = {k: v for k, v in overrides.items() if k not in ("fc", "n_factors", "rank")}
    model = VideoClassifier(preset_config(preset, **ref, fc="circulant", n_factors=1),
                            device="meta")
    p_circ = fc_parameters(model)
    ins = [fc.linear.in_features for fc in model.fc.values()]
    if thin is not None:
        overrides["hidden_size"] = max(1, round(thin * p_circ / sum(ins)))
    if budget is not None:
        hidden = model.config.hidden_size
        overrides["rank"] = max(1, round(budget * p_circ / sum(i + hidden for i in ins)))
    return overrides


@torch.no_grad()
def batch1_latency_ms(config, frames: int, repeats: int = 30) -> float:
    """Median wall time (ms) of one evaluation forward pass on one video of ``frames`` frames
    (CPU, one thread, after 3 warm-up calls)."""
    from circlearn.models import VideoClassifier

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        model = VideoClassifier(config).eval()
        x = torch.randint(0, 256, (1, frames, config.input_size), dtype=torch.uint8,
                          generator=gen)
        for _ in range(3):
            model(x)
        times = []
        for _ in range(repeats):
            tick = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - tick)
    finally:
        torch.set_num_threads(threads)
    return round(1e3 * sorted(times)[len(times) // 2], 3)


def variant_details(name: str, config, frames: int) -> dict:
    """``kind``, ``fc_params``, ``hidden_size``, the low-rank FCs' ranks as built (after the
    ``min(in, out)`` cap; ``"a/b"`` when the streams differ) and ``latency_ms_batch1``."""
    from circlearn.models import VideoClassifier

    model = VideoClassifier(config, device="meta")
    ranks = sorted({fc.linear.rank for fc in model.fc.values() if hasattr(fc.linear, "rank")})
    return {"kind": _KIND_OF.get(name, "dense"), "fc_params": fc_parameters(model),
            "hidden_size": config.hidden_size, "rank": "/".join(map(str, ranks)) or None,
            "n_factors": config.n_factors, "fc": config.fc,
            "latency_ms_batch1": batch1_latency_ms(config, frames)}


def format_table(results: dict) -> str:
    """Markdown table of a ``fig-structures`` results dict (module docstring)."""
    from circlearn.experiments.report import format_mean_std, table_header

    lines = table_header(results)
    lines += ["Difference from dense: b − dense, paired over seeds, 95% t-interval, **not "
              "adjusted** for the 8 comparisons per pooling. Batch-1 latency: whole model, "
              "one video, CPU, one thread, median of 30 calls (machine load in results.json).",
              ""]
    comps = {c["b"]: c for c in results.get("comparisons", [])}
    lines += ["| variant | FC | FC params | trainable params | model MB (fp32) | batch-1 ms | "
              "GAP | − dense [95% CI] | no worse than dense (margin 0.01)? |",
              "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for v in results["variants"]:
        fc = v.get("fc", "dense")
        detail = (f"rank {v['rank']}" if v.get("rank") else
                  f"k={v['n_factors']}" if fc == "circulant" else
                  f"hidden {v['hidden_size']}" if v.get("kind") == "thin" else "")
        c = comps.get(v["name"])
        diff = "–" if c is None else (
            f"{c['diff_mean']:+.3f}" + ("" if c["ci95"] is None else
                                        f" [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]"))
        lines.append(f"| {v['label']} | {fc} {detail} | {v.get('fc_params', 0):,} | "
                     f"{v['params']:,} | {v['model_mb']:.3f} | "
                     f"{v.get('latency_ms_batch1', float('nan')):.2f} | "
                     f"{format_mean_std(v['gap_mean'], v['gap_std'])} | {diff} | "
                     f"{'–' if c is None else c['verdict']} |")
    b = results.get("baselines")
    if b:
        lines.append(f"\nBaselines (validate): class prior GAP {b['class_prior']:.3f}, "
                     f"linear on video-level means GAP {b['linear_means']:.3f}.")
    return "\n".join(lines) + "\n"


def plot_structures(results: dict, path=None):
    """GAP against FC parameters (log x), one panel per pooling, band ± std over seeds."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pools = [p for p in POOLINGS if any(v["name"].startswith(p + "-") for v in
                                        results["variants"])]
    fig, axes = plt.subplots(1, len(pools), figsize=(5.2 * len(pools), 4), squeeze=False)
    for ax, pool in zip(axes[0], pools):
        vs = [v for v in results["variants"] if v["name"].startswith(pool + "-")]
        for kind, color in _COLORS.items():
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
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("fig-structures: FC after pooling at equal and larger budgets"
                 + (" (synthetic data)" if results.get("synthetic") else ""), fontsize=11)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
