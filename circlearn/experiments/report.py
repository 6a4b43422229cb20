"""An experiment's evidence: aggregates over seeds, comparisons, ``table.md``.

:func:`summarize_variant` turns one variant's runs (one per seed) into the ``results.json``
entry (``runs``, ``gap_mean``, ``gap_std`` with ``ddof = 1``, the mean curve with its spread,
the same on the test split, the paired interval against the linear-on-means baseline, and
the curve's plateau gain); :func:`comparisons` applies
:func:`circlearn.experiments.stats.compare` to the experiment's claims on one split, one
family for Holm's correction; :func:`format_table` writes ``table.md`` (fig-structures has its
own layout; fields an older ``results.json`` lacks are derived from its runs by
:func:`circlearn.experiments.evidence.complete`) and :func:`write_report` the files of an
experiment's folder (provenance: :mod:`~circlearn.experiments.provenance`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from circlearn.experiments import compression, scaling, structures
from circlearn.experiments.evidence import complete, paired_values, plateau_fields, with_holm
from circlearn.experiments.stats import ALPHA, BETTER, compare, mean_std
from circlearn.plotting.compress import plot_compress
from circlearn.plotting.paper import plot_experiment
from circlearn.plotting.scaling import PAPER_TRAIN_VIDEOS, paper_differences, plot_scaling, scaling_rows
from circlearn.plotting.structures import plot_structures

__all__ = ["summarize_variant", "comparisons", "markdown_table",
           "table_header", "format_table", "format_mean_std", "write_report"]


def format_mean_std(mean: float | None, std: float | None, digits: int = 3) -> str:
    """``"0.712 ± 0.013"``; ``"0.712 (1 seed)"`` without a spread; ``"–"`` without a value.

    >>> format_mean_std(0.71234, 0.0131), format_mean_std(0.7, None), format_mean_std(None, None)
    ('0.712 ± 0.013', '0.700 (1 seed)', '–')
    """
    if mean is None:
        return "–"
    if std is None:
        return f"{mean:.{digits}f} (1 seed)"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _mean_curve(curves: Sequence[list[dict]]) -> list[dict]:
    """Per evaluation: ``{epoch, gap (mean over seeds), gap_std}`` (seeds aligned by index)."""
    n = min(len(c) for c in curves)
    out = []
    for i in range(n):
        mean, std = mean_std([c[i]["gap"] for c in curves])
        out.append({"epoch": curves[0][i]["epoch"], "gap": mean, "gap_std": std})
    return out


def summarize_variant(variant: dict, runs: list[dict], baselines: dict | None) -> dict:
    """``variant`` (name, preset, label, overrides, model, params, model_mb) + seed aggregates.

    Each run is ``{seed, gap, curve, test_gap, hit_at_one, test_hit_at_one, videos_per_s,
    steps}`` (the test values ``None`` without a labelled test split); each metric present
    for every run gets its ``<metric>_mean`` and ``<metric>_std``.
    """
    gaps = [r["gap"] for r in runs]
    mean, std = mean_std(gaps)
    curve = _mean_curve([r["curve"] for r in runs])
    out = {**variant, "runs": runs, "gap_mean": mean, "gap_std": std, "gap": mean,
           "curve": curve, **plateau_fields(curve),
           "videos_per_s": round(sum(r["videos_per_s"] for r in runs) / len(runs), 2),
           "steps": runs[0]["steps"]}
    for key in ("test_gap", "hit_at_one", "test_hit_at_one"):
        values = [r[key] for r in runs if r.get(key) is not None]
        if len(values) == len(runs):
            out[f"{key}_mean"], out[f"{key}_std"] = mean_std(values)
    if baselines:
        ref = baselines["linear_means"]
        out["vs_linear_means"] = compare("linear_means", [ref] * len(gaps), variant["name"], gaps,
                                         BETTER)
    return out


def comparisons(claims: Iterable[tuple[str, str, str]], variants: list[dict],
                key: str = "gap") -> list[dict]:
    """One :func:`circlearn.experiments.stats.compare` per ``(a, b, claim)``, paired by seed,
    on the runs' ``key`` (one split); the list is one family, each with its ``verdict_holm``."""
    out = []
    for a, b, claim in claims:
        pair = paired_values(variants, a, b, key)
        if pair is not None:
            out.append(compare(a, pair[0], b, pair[1], claim))
    return with_holm(out)


def markdown_table(rows: Sequence[Mapping | Sequence], columns: Sequence[str] | None = None,
                   align: str | None = None) -> str:
    """Rows → a GitHub markdown table: a header of ``columns``, a rule, one line per row.

    A row is a dict (cells by column name, missing ones empty; ``columns`` defaults to the
    first row's keys) or a sequence of cells. Floats show 4 significant digits, anything else
    ``str(cell)``. ``align`` has one letter per column, ``"l"`` (``---``) or ``"r"``
    (``---:``); default all ``"l"``. No rows give ``"(no rows)"``.

    >>> print(markdown_table([{"model": "dbof", "ms": 0.123456}, {"model": "netvlad"}]), end="")
    | model | ms |
    |---|---|
    | dbof | 0.1235 |
    | netvlad |  |
    >>> print(markdown_table([["a", "1,024"]], ["name", "params"], align="lr"), end="")
    | name | params |
    |---|---:|
    | a | 1,024 |
    """
    if not rows:
        return "(no rows)\n"
    columns = list(columns or rows[0])
    align = align or "l" * len(columns)
    if len(align) != len(columns) or set(align) - {"l", "r"}:
        raise ValueError(f"align must be one of l/r per column ({len(columns)}), got {align!r}")

    def fmt(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |",
             "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    for row in rows:
        cells = [row.get(c, "") for c in columns] if isinstance(row, Mapping) else row
        lines.append("| " + " | ".join(fmt(v) for v in cells) + " |")
    return "\n".join(lines) + "\n"


def _ci(c: dict, digits: int = 3) -> str:
    lo, hi = c["ci95"] or (None, None)
    return "–" if lo is None else f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _p(p: float | None) -> str:
    """A p-value to 4 decimals (Holm's thresholds are ``0.025 / m``); ``–`` without one."""
    return "–" if p is None else "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _plateau(v: dict) -> str:
    """``"+0.012 ✗"``: the plateau gain and whether the curve is flat (``✓``) or not."""
    gain = v.get("plateau_gain")
    return ("–" if gain is None else f"{gain:+.3f}") + (" ✓" if v.get("plateau") else " ✗")


def _comparison_table(cs: list[dict], labels: dict[str, str]) -> str:
    rows = [[f"{labels.get(c['b'], c['b'])} vs {labels.get(c['a'], c['a'])}",
             c["claim"] + (f" (margin {c['margin']})" if c["margin"] is not None else ""),
             f"{c['diff_mean']:+.3f}", _ci(c), _p(c.get("p_holds")), _p(c.get("p_fails")),
             f"**{c['verdict']}**", f"**{c.get('verdict_holm') or '–'}**"] for c in cs]
    return markdown_table(rows, ["b vs a", "claim", "mean difference", "95% CI", "p (holds)",
                                 "p (does not hold)", "verdict", "Holm verdict"],
                          align="llrlrrll")


def _stopping_line(results: dict) -> str | None:
    """The stopping rule, the budget, and "not converged" unless every variant is flat."""
    st = results.get("stopping")
    if not st:
        return None
    b = st["budget"]
    decay = b.get("learning_rate_decay", 1.0)
    schedule = (f"learning rate {b.get('base_learning_rate', float('nan')):g}"
                + (f" × {decay:g} every {b.get('learning_rate_decay_examples', 0):,} examples"
                   if decay != 1 else " without decay"))
    text = (f"Stopping: {st['rule']} of the mean validate curve (✓ flat, ✗ not); budget "
            f"{b.get('epochs')} epochs ({b.get('steps')} steps), {schedule}.")
    if st["converged"]:
        return text + " Every variant's curve has flattened."
    return (text + f" **Not converged**: {len(st['not_flat'])} of {len(results['variants'])} "
                   f"variants have not flattened (✗).")


def _sizes_line(sizes: dict) -> str:
    """The streams, classes and widths the experiment used, and the rule that gave them."""
    streams = ", ".join(f"{k} {v}" for k, v in sizes["streams"].items())
    widths = "; ".join(f"{k} {'/'.join(map(str, v))}" for k, v in sizes["clusters"].items())
    hidden = sizes["hidden_size"] if sizes["hidden_size"] is not None else "each preset's"
    frames = sizes["max_frames"] if sizes["max_frames"] is not None else "the scale's"
    return (f"Sizes: streams {streams} (one pooling branch each), {sizes['num_classes']} "
            f"classes; widths per stream {widths}; FC hidden size {hidden}; max_frames "
            f"{frames} ({sizes['max_frames_source']}). Rule: {sizes['rule']}.")


def _hit_sections(results: dict, labels: dict[str, str]) -> list[str]:
    """Hit@1 (accuracy on single-label data): the baselines and the figure's claims on
    validate and test, each family with its Holm verdicts; nothing without Hit@1 runs."""
    lines = []
    for split, key in (("validate", "baselines_hit_at_one"), ("test", "baselines_hit_at_one_test")):
        b = results.get(key)
        if b:
            lines.append(f"\nBaselines, Hit@1 ({split}): class prior {b['class_prior']:.3f}, "
                         f"linear on video-level means {b['linear_means']:.3f}.")
    for split, key in (("validate, the primary split", "comparisons_hit_at_one"),
                       ("test, the check", "comparisons_hit_at_one_test")):
        cs = results.get(key)
        if cs:
            lines += ["", f"Hit@1 comparisons on {split} (b − a, paired over seeds, 95% "
                          f"t-interval, the same claims and margin as for GAP; Holm over "
                          f"these {len(cs)}):", "", _comparison_table(cs, labels).rstrip("\n")]
    return lines


def _own_widths_line(results: dict) -> str | None:
    """The widths a figure's models use where they differ from the sizes line's (a figure's
    own cluster count, such as ``SCALES[scale]["figure_clusters"]``), read from the models."""
    scale_widths = (results.get("sizes") or {}).get("clusters") or {}
    own = {}
    for v in results["variants"]:
        model = v.get("model") or {}
        pooling, widths = model.get("pooling"), model.get("cluster_sizes")
        if pooling in scale_widths and widths and list(widths) != list(scale_widths[pooling]):
            own.setdefault(f"{pooling} {'/'.join(map(str, widths))}", []).append(v["name"])
    if not own:
        return None
    return ("This figure's own widths (its models, in `results.json`): "
            + "; ".join(f"{w} ({', '.join(names)})" for w, names in own.items()) + ".")


def table_header(results: dict) -> list[str]:
    """The first lines of a results table: title, seeds, the synthetic-data note, protocol,
    the sizes and their rule, the stopping rule, the primary split."""
    seeds = results.get("seeds", [0])
    lines = [f"# {results['experiment']} ({results['title']}), scale {results['scale']}, "
             f"{results['epochs']} epochs, {len(seeds)} seed(s)", ""]
    if results.get("synthetic"):
        lines += ["Data: **synthetic** (circlearn's generator), not YouTube-8M.", ""]
    if results.get("protocol"):
        lines += [f"Protocol: {results['protocol']}", ""]
    if results.get("sizes"):
        lines += [_sizes_line(results["sizes"]), ""]
    if own := _own_widths_line(results):
        lines += [own, ""]
    if _stopping_line(results):
        lines += [_stopping_line(results), ""]
    if results.get("primary_split"):
        lines += [f"Primary split: {results['primary_split']}, as in the paper; test is the "
                  f"check. Each claim gets two verdicts: unadjusted, from the 95% interval, "
                  f"and Holm's (step-down at α = {ALPHA} per direction over the figure's "
                  f"comparisons on one split).", ""]
    return lines


def format_table(results: dict) -> str:
    """The ``table.md`` of an experiment's results dict (fig-structures has its own layout).

    Fields an older results dict lacks (p-values, Holm verdicts, plateau gains, the stopping
    rule) are computed from its runs first (:func:`circlearn.experiments.evidence.complete`).
    """
    results = complete(results)
    if results["experiment"] == structures.NAME:
        return _structures_table(results)
    if results["experiment"] == scaling.NAME:
        return _scaling_table(results)
    return _paper_table(results)


def write_report(results: dict, out: Path) -> None:
    """Write ``results.json``, ``table.md`` and ``figure.png`` of ``results`` into ``out``."""
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "table.md").write_text(format_table(results))
    plot = {structures.NAME: plot_structures, scaling.NAME: plot_scaling,
            compression.NAME: plot_compress}.get(
        results["experiment"], plot_experiment)
    plot(results, out / "figure.png")


def _paper_table(results: dict) -> str:
    """Markdown: per variant mean ± std (validate and test), baselines, comparisons."""
    lines = table_header(results)
    extra = [(name, key) for name, key in (("test GAP", "test_gap"),
                                           ("validate Hit@1", "hit_at_one"),
                                           ("test Hit@1", "test_hit_at_one"))
             if any(f"{key}_mean" in v for v in results["variants"])]
    own = all("epochs" in v for v in results["variants"])  # fig-compress: epochs per variant
    columns = ["variant", "preset", *(["epochs trained"] if own else []), "trainable params",
               "model MB (fp32)", "validate GAP", *[name for name, _ in extra], "plateau gain",
               "vs linear baseline (95% CI; Holm)", "training videos/s"]
    rows = []
    for v in results["variants"]:
        vs = v.get("vs_linear_means")
        test = [format_mean_std(v.get(f"{key}_mean"), v.get(f"{key}_std")) for _, key in extra]
        rows.append([v["label"], f"`{v['preset']}`", *([str(v["epochs"])] if own else []),
                     f"{v['params']:,}", f"{v['model_mb']:.3f}",
                     format_mean_std(v["gap_mean"], v["gap_std"]), *test, _plateau(v),
                     f"{vs['diff_mean']:+.3f} {_ci(vs)} {vs['verdict']} "
                     f"(Holm: {vs.get('verdict_holm') or '–'})" if vs else "–",
                     f"{v['videos_per_s']:.0f}"])
    align = "ll" + "r" * own + "rrr" + "r" * len(extra) + "rlr"
    lines.append(markdown_table(rows, columns, align).rstrip("\n"))
    for split, key in (("validate", "baselines"), ("test", "baselines_test")):
        b = results.get(key)
        if b:
            lines.append(f"\nBaselines ({split}): class prior GAP {b['class_prior']:.3f}, "
                         f"linear on video-level means GAP {b['linear_means']:.3f}.")
    labels = {v["name"]: v["label"] for v in results["variants"]}
    for split, key in (("validate, the primary split", "comparisons"),
                       ("test, the check", "comparisons_test")):
        cs = results.get(key)
        if cs:
            lines += ["", f"Comparisons on {split} (b − a, paired over seeds, 95% t-interval; "
                          f"one-sided paired t-test p-values; Holm over these {len(cs)}):",
                      "", _comparison_table(cs, labels).rstrip("\n")]
    lines += _hit_sections(results, labels)
    return "\n".join(lines) + "\n"


def _structures_table(results: dict) -> str:
    """fig-structures' table: per variant its FC and total trainable parameters, the model's
    float32 size, its batch-1 inference latency (whole model, one video of ``max_frames``
    frames, CPU, one thread, median of 30 calls), GAP mean ± std over seeds, the plateau
    gain, and the paired difference from the dense variant with its 95% t-interval and two
    verdicts: **not adjusted**, and Holm's over the figure's comparisons on the split; then
    the same two verdicts on test, the check."""
    lines = table_header(results)
    n = len(results.get("comparisons", []))
    lines += [f"Difference from dense: b − dense on validate, paired over seeds, 95% "
              f"t-interval; its verdict is **not adjusted** for the {n} comparisons, Holm's is. "
              f"The last column is the check on test (verdict / Holm). Batch-1 latency: whole "
              f"model, one video, CPU, one thread, median of 30 calls (machine load in "
              f"results.json).", ""]
    comps = {c["b"]: c for c in results.get("comparisons", [])}
    tests = {c["b"]: c for c in results.get("comparisons_test") or []}
    hits = any("hit_at_one_mean" in v for v in results["variants"])
    rows = []
    for v in results["variants"]:
        fc = v.get("fc", "dense")
        detail = (f"rank {v['rank']}" if v.get("rank") else
                  f"k={v['n_factors']}" if fc == "circulant" else
                  f"hidden {v['hidden_size']}" if v.get("kind") == "thin" else "")
        c, t = comps.get(v["name"]), tests.get(v["name"])
        diff = "–" if c is None else f"{c['diff_mean']:+.3f}" + (
            "" if c["ci95"] is None else f" {_ci(c)}")
        rows.append([v["label"], f"{fc} {detail}", f"{v.get('fc_params', 0):,}",
                     f"{v['params']:,}", f"{v['model_mb']:.3f}",
                     f"{v.get('latency_ms_batch1', float('nan')):.2f}",
                     format_mean_std(v["gap_mean"], v["gap_std"]),
                     *([format_mean_std(v.get("hit_at_one_mean"), v.get("hit_at_one_std"))]
                       if hits else []), _plateau(v), diff,
                     "–" if c is None else c["verdict"],
                     "–" if c is None else c.get("verdict_holm") or "–",
                     "–" if t is None else f"{t['verdict']} / {t.get('verdict_holm') or '–'}"])
    columns = ["variant", "FC", "FC params", "trainable params", "model MB (fp32)", "batch-1 ms",
               "GAP", *(["Hit@1"] if hits else []), "plateau gain", "− dense [95% CI]",
               "no worse than dense (margin 0.01)?", "Holm", "on test: verdict / Holm"]
    align = "llrrrrr" + "r" * hits + "rrlll"
    lines.append(markdown_table(rows, columns, align=align).rstrip("\n"))
    b = results.get("baselines")
    if b:
        lines.append(f"\nBaselines (validate): class prior GAP {b['class_prior']:.3f}, "
                     f"linear on video-level means GAP {b['linear_means']:.3f}.")
    lines += _hit_sections(results, {v["name"]: v["label"] for v in results["variants"]})
    return "\n".join(lines) + "\n"


def _gap_cell(v: dict, gap: str) -> str:
    """``"0.801 ± 0.004 (+0.002 ✓)"``: mean ± std on a split, with the validate plateau."""
    return (format_mean_std(v.get(f"{gap}_mean"), v.get(f"{gap}_std"))
            + f" ({_plateau(v)})")


def _scaling_table(results: dict) -> str:
    """fig-scaling's table: per pooling and training-set size, the videos and epochs, dense
    and circulant GAP mean ± std with plateau marks, the paired difference with its 95 %
    interval and both verdicts, on validate and then on test; the paper's difference."""
    lines = table_header(results)
    paper = paper_differences()
    for split, key in (("validate, the primary split", "comparisons"),
                       ("test, the check", "comparisons_test")):
        rows = []
        for r in scaling_rows(results, key):
            c, gap = r["comparison"], ("gap" if key == "comparisons" else "test_gap")
            rows.append([r["pooling"], f"{r['train_videos']:,}", str(r["dense"].get("epochs")),
                         _gap_cell(r["dense"], gap), _gap_cell(r["compact"], gap),
                         f"{c['diff_mean']:+.3f}", _ci(c), f"**{c['verdict']}**",
                         f"**{c.get('verdict_holm') or '–'}**"])
        if rows:
            lines += [f"Circulant FC − dense FC on {split} (paired over seeds; Holm over these "
                      f"{len(rows)}; plateau ✓/✗ from the validate curve):", "",
                      markdown_table(rows, ["pooling", "training videos", "epochs",
                                            "dense GAP", "circulant GAP", "difference",
                                            "95% CI", "verdict (margin 0.01)", "Holm verdict"],
                                     align="lrrrrrlll").rstrip("\n"), ""]
            slopes = scaling.trend(results, "gap" if key == "comparisons" else "test_gap")
            lines += ["Trend per doubling of the training videos (each seed's least-squares "
                      "slope of the difference against log2 videos; mean over seeds, 95% "
                      "t-interval, not adjusted): " + ", ".join(
                          f"{p} {t['slope']:+.4f} {_ci({'ci95': t['ci95']}, 4)}"
                          for p, t in slopes.items()) + ".", ""] if slopes else []
    lines.append(f"The paper (YouTube-8M, about {PAPER_TRAIN_VIDEOS:,} training videos, "
                 f"figure B's last epoch): "
                 + ", ".join(f"{p} {d:+.3f}" for p, d in paper.items()) + ".")
    b = results.get("baselines")
    if b:
        lines.append(f"\nBaselines (validate): class prior GAP {b['class_prior']:.3f}, "
                     f"linear on video-level means GAP {b['linear_means']:.3f} (all the "
                     f"training data).")
    return "\n".join(lines) + "\n"
