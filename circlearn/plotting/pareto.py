"""Size against accuracy (and latency), with the Pareto front, every point labelled.

A point ``(x, y)`` is on the **Pareto front** of a set when no other point is at least as
good on both axes and strictly better on one (:func:`pareto_front`; here smaller x, the
model's size, is better, and larger y, GAP, or smaller y, latency). Equal points do not
dominate each other, so ties are all on the front.

Labels are placed by :func:`place_labels`, a deterministic greedy routine in display
coordinates: points are taken in order, and each label box is put at the first candidate
position (rings of growing radius around its point, 16 directions each, nearest first) that
overlaps neither a label already placed nor a point's marker; a label away from its point
gets a thin leader line. The rings grow until a free place is found, so no two label boxes
overlap.

:func:`plot_pareto` draws panels of points; :func:`scale_points` reads a scale's stored
experiment results (only those on the same data as the first, so that GAPs compare),
:func:`paper_points` the paper's YouTube-8M GAP (:data:`circlearn.plotting.paper.PAPER_CURVES`,
last epoch) and :func:`latency_points` the paper-size rows of a ``circlearn bench deploy``
JSON. ``benchmarks/pareto_figure.py`` writes ``data_samples/results/pareto.png``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from .files import save_png

__all__ = ["FIGURES", "pareto_front", "place_labels", "boxes_overlap", "scale_points",
           "paper_points", "latency_points", "plot_pareto"]

#: The stored experiments whose variants a scale's panel shows, in this order (a model
#: trained alike in two figures is shown once, from the first).
FIGURES = ("fig-embeddings", "fig-layers", "fig-structures", "fig-compress")


def pareto_front(xs: Sequence[float], ys: Sequence[float], *, larger_y: bool = True) -> list[int]:
    """Indices of the points not dominated (smaller x better; larger y better when
    ``larger_y``, else smaller), sorted by x then y.

    >>> pareto_front([1, 2, 2, 3], [0.5, 0.7, 0.6, 0.7])
    [0, 1]
    >>> pareto_front([1, 1], [0.5, 0.5])  # a tie: neither dominates
    [0, 1]
    """
    sign = 1 if larger_y else -1
    pts = [(float(x), sign * float(y)) for x, y in zip(xs, ys)]
    front = [i for i, (x, y) in enumerate(pts)
             if not any(x2 <= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in pts)]
    return sorted(front, key=lambda i: (pts[i][0], -pts[i][1]))


def boxes_overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether boxes ``(x0, y0, x1, y1)`` overlap with positive area.

    >>> boxes_overlap((0, 0, 2, 1), (1, 0.5, 3, 2)), boxes_overlap((0, 0, 1, 1), (1, 0, 2, 1))
    (True, False)
    """
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _free_box(anchor, size, blocked, *, marker, step, gap, bounds) -> tuple:
    """The first box of ``size`` around ``anchor`` that overlaps nothing in ``blocked``."""
    (ax, ay), (w, h) = anchor, size
    angles = [2 * math.pi * k / 16 for k in range(16)]  # 0 (right) first, counter-clockwise
    ring = 0
    while True:
        r = marker + gap + ring * step
        for t in angles:
            cx, cy = ax + (r + w / 2) * math.cos(t), ay + (r + h / 2) * math.sin(t)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            inside = bounds is None or ring >= 12 or (
                bounds[0] <= box[0] and box[2] <= bounds[2]
                and bounds[1] <= box[1] and box[3] <= bounds[3])
            grown = (box[0] - gap, box[1] - gap, box[2] + gap, box[3] + gap)
            if inside and not any(boxes_overlap(grown, o) for o in blocked):
                return box
        ring += 1


def place_labels(anchors: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]],
                 *, marker: float = 4.0, step: float = 6.0, gap: float = 1.0,
                 bounds: tuple[float, float, float, float] | None = None) -> list[tuple]:
    """Boxes ``(x0, y0, x1, y1)`` for labels of ``sizes`` (width, height) near ``anchors``,
    all in display units, in the anchors' order: none overlaps another (``gap`` apart) or a
    marker (a square of half-width ``marker`` around each anchor); module docstring.
    Candidates inside ``bounds`` ``(x0, y0, x1, y1)`` are preferred over the first 12 rings.

    >>> boxes = place_labels([(0, 0), (0, 0)], [(10, 4), (10, 4)])  # right, then above
    >>> [tuple(round(v, 3) for v in b) for b in boxes]
    [(5.0, -2.0, 15.0, 2.0), (-5.0, 5.0, 5.0, 9.0)]
    """
    markers = [(x - marker, y - marker, x + marker, y + marker) for x, y in anchors]
    placed: list[tuple] = []
    for anchor, size in zip(anchors, sizes):
        placed.append(_free_box(anchor, size, placed + markers, marker=marker, step=step,
                                gap=gap, bounds=bounds))
    return placed


def _config_key(model: dict | None) -> str:
    """A model configuration as text, with the defaults of fields an older file lacks."""
    from circlearn.models import ModelConfig

    return json.dumps(model and ModelConfig.from_dict(model).to_dict(), sort_keys=True)


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def scale_points(root: str | os.PathLike, scale: str, figures: Sequence[str] = FIGURES
                 ) -> tuple[list[dict], list[str]]:
    """Points ``{label, x (fp32 MB of the trainable parameters), y (validate GAP mean),
    figure}`` of ``root/<scale>/<figure>/results.json`` and notes on the figures left out
    (absent, or trained on other data than the first found)."""
    points, notes, seen, data = [], [], set(), None
    for fig in figures:
        results = _read(Path(root) / scale / fig / "results.json")
        if results is None:
            notes.append(f"{fig}: no stored result")
            continue
        sha = results.get("provenance", {}).get("data_sha256")
        data = data or sha
        if sha != data:
            notes.append(f"{fig}: other data (another draw), left out")
            continue
        for v in results["variants"]:
            derived = v.get("stage") in ("projected", "fine-tuned")  # not trained alike
            key = (_config_key(v.get("model")), v.get("stage") if derived else None,
                   v.get("epochs", results["epochs"]))
            if key in seen:
                continue
            seen.add(key)
            label = f"video only: {v['label']}" if fig == "fig-layers" else v["label"]
            points.append({"label": label, "x": v["model_mb"], "y": v["gap_mean"],
                           "figure": fig})
    return points, notes


def paper_points() -> list[dict]:
    """The paper's last-epoch validation GAP (figures B and C, YouTube-8M 2018) of each
    preset, against the fp32 MB of its trainable parameters at paper size."""
    from circlearn.models import VideoClassifier, count_parameters, preset_config
    from circlearn.plotting.paper import PAPER_CURVES

    points = []
    for fig in ("fig-embeddings", "fig-layers"):
        for preset, (label, curve) in PAPER_CURVES[fig].items():
            params = count_parameters(VideoClassifier(preset_config(preset), device="meta"))
            points.append({"label": f"video only: {label}" if fig == "fig-layers" else label,
                           "x": 4 * params / 1e6, "y": curve[-1], "figure": fig})
    return points


def latency_points(deploy: dict, labels: dict[str, str]) -> list[dict]:
    """The paper-size rows of a ``circlearn bench deploy`` JSON: ONNX fp32 file MB against
    ONNX Runtime fp32 batch-1 p50 latency (ms); ``labels``: model name → variant label (a
    preset's row is named after the preset); a model without a label keeps its own name."""
    return [{"label": labels.get(r["model"], r["model"]), "x": r["fp32_MB"],
             "y": r["onnx-fp32_p50_ms"], "figure": "bench deploy"}
            for r in deploy["rows"] if r["scale"] == "paper"]


_COLORS = {"fig-embeddings": "tab:blue", "fig-layers": "tab:purple", "fig-structures": "tab:green",
           "fig-compress": "tab:red", "bench deploy": "tab:orange"}


def _panel(ax, panel: dict, renderer) -> list:
    """Points, front and placed labels of one panel; returns the label artists."""
    pts = panel["points"]
    xs, ys = [p["x"] for p in pts], [p["y"] for p in pts]
    larger = panel.get("larger_y", True)
    front = pareto_front(xs, ys, larger_y=larger)
    for fig in dict.fromkeys(p["figure"] for p in pts):
        sub = [p for p in pts if p["figure"] == fig]
        ax.scatter([p["x"] for p in sub], [p["y"] for p in sub], s=18, zorder=3,
                   color=_COLORS.get(fig, "gray"), label=fig)
    ax.step([xs[i] for i in front], [ys[i] for i in front], where="post", color="black",
            lw=1, zorder=2, label="Pareto front")
    ax.set_xscale("log")
    ax.margins(x=0.35, y=0.3)
    notes = "\n(" + "; ".join(panel["notes"]) + ")" if panel.get("notes") else ""
    ax.set(xlabel=panel["xlabel"], ylabel=panel["ylabel"], title=panel["title"] + notes)
    ax.title.set_fontsize(9)
    ax.grid(True, alpha=0.3, which="both")
    ax.figure.canvas.draw()
    ax.set_xlim(ax.get_xlim())  # frozen: the leader lines must not rescale the axes
    ax.set_ylim(ax.get_ylim())
    order = front + [i for i in sorted(range(len(pts)), key=lambda i: xs[i]) if i not in front]
    texts = {i: ax.text(0, 0, pts[i]["label"], fontsize=6, ha="center", va="center",
                        zorder=4, fontweight="bold" if i in front else "normal")
             for i in order}
    anchors = [tuple(ax.transData.transform((xs[i], ys[i]))) for i in order]
    sizes = [(texts[i].get_window_extent(renderer).width,
              texts[i].get_window_extent(renderer).height) for i in order]
    boxes = place_labels(anchors, sizes, gap=3.0, bounds=tuple(ax.bbox.extents))
    to_data = ax.transData.inverted()
    for i, (x, y), box in zip(order, anchors, boxes):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        texts[i].set_position(to_data.transform((cx, cy)))
        nx, ny = min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])  # box's nearest
        if math.dist((x, y), (nx, ny)) > 8:  # not beside its point: a leader line
            ax.plot(*zip(to_data.transform((x, y)), to_data.transform((nx, ny))),
                    color="gray", lw=0.4, zorder=1)
    return list(texts.values())


def plot_pareto(panels: Sequence[dict], path: str | os.PathLike | None = None, *,
                title: str = "", ncols: int = 2):
    """One axis per panel ``{title, points, xlabel, ylabel, larger_y, notes}`` (points
    ``{label, x, y, figure}``): the points coloured by figure, the Pareto front as a step
    line (:func:`pareto_front`), every point labelled without overlap (:func:`place_labels`;
    front points first, in bold). Saved to ``path`` when given; returns the figure and each
    panel's label artists."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(9 * ncols, 7 * nrows), squeeze=False,
                             dpi=100)
    if title:
        fig.suptitle(title, fontsize=11)
    for ax, panel in zip(axes.flat, panels):  # titles and axis labels first, for the layout
        ax.set(xlabel=panel["xlabel"], ylabel=panel["ylabel"], title=panel["title"] + "\n")
    fig.tight_layout(rect=(0, 0.04, 1, 0.96), h_pad=3, w_pad=3)  # fixed before the labels
    renderer = fig.canvas.get_renderer()
    labels = [_panel(ax, panel, renderer) for ax, panel in zip(axes.flat, panels)]
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    handles = {}
    for ax in axes.flat:
        handles.update(zip(*reversed(ax.get_legend_handles_labels())))
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles),
               fontsize=8, frameon=False)
    if path is not None:
        save_png(fig, path, dpi=100)
        plt.close(fig)
    return fig, labels
