"""The Pareto figure: model size against GAP per scale, the paper's points, and latency.

Panels (:func:`circlearn.plotting.pareto.plot_pareto`):

1. and 2. ``quick`` and ``medium``: every variant of the stored results of
   :data:`circlearn.plotting.pareto.FIGURES` at that scale (synthetic data; a figure trained
   on another draw of the data than the scale's first is left out and named), x the fp32 MB
   of the trainable parameters, y the mean validate GAP over seeds;
3. the paper's presets at paper size, YouTube-8M 2018, the paper's last-epoch GAP;
4. the paper-size presets of the stored ``circlearn bench deploy`` JSON: ONNX fp32 file MB
   against ONNX Runtime fp32 batch-1 latency (p50, one thread as the benchmark times it;
   machine and date in the panel's title).

It prints each panel's Pareto front (the numbers the texts may quote) and writes the PNG::

    python -m benchmarks.pareto_figure [--out data_samples/results/pareto.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from circlearn.bench.deploy.specs import PAPER_VARIANTS
from circlearn.plotting.paper import PAPER_CURVES
from circlearn.plotting.pareto import (latency_points, paper_points, pareto_front,
                                       plot_pareto, scale_points)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data_samples" / "results"
DEPLOY = ROOT / "benchmarks" / "results" / "deploy-amd-epyc-2cores.json"
SIZE = "fp32 MB of the trainable parameters (log)"


def preset_labels() -> dict[str, str]:
    """Preset → the variant label the paper's figures give it (fig-layers': "video only")."""
    labels = {p: label for p, (label, _) in PAPER_CURVES["fig-embeddings"].items()}
    labels.update({p: f"video only: {label}"
                   for p, (label, _) in PAPER_CURVES["fig-layers"].items()})
    labels.update({name: "video only: all circulant (circlearn variant)"
                   for name in PAPER_VARIANTS})
    return labels


def panels(results: Path = RESULTS, deploy: Path = DEPLOY) -> list[dict]:
    """The four panels (module docstring)."""
    out = []
    for scale in ("quick", "medium"):
        points, notes = scale_points(results, scale)
        out.append({"title": f"{scale} scale, synthetic data: validate GAP (mean over seeds)",
                    "points": points, "xlabel": SIZE, "ylabel": "validate GAP",
                    "notes": notes})
    out.append({"title": "paper: YouTube-8M 2018, the paper's last-epoch validation GAP",
                "points": paper_points(), "xlabel": SIZE, "ylabel": "validation GAP"})
    bench = json.loads(deploy.read_text())
    machine = bench["machine"]
    out.append({"title": f"paper size: ONNX Runtime fp32 on one thread, batch 1, p50 "
                         f"({machine['cpu']}, {bench['date']})",
                "points": latency_points(bench, preset_labels()), "larger_y": False,
                "xlabel": "ONNX fp32 file (MB, log)", "ylabel": "latency p50 (ms)"})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(RESULTS / "pareto.png"))
    args = p.parse_args(argv)
    figure_panels = panels()
    for panel in figure_panels:
        pts = panel["points"]
        front = pareto_front([q["x"] for q in pts], [q["y"] for q in pts],
                             larger_y=panel.get("larger_y", True))
        print(f"{panel['title']}: {len(pts)} points; front:")
        for i in front:
            print(f"  {pts[i]['label']} ({pts[i]['figure']}): x {pts[i]['x']:.3f}, "
                  f"y {pts[i]['y']:.3f}")
        for note in panel.get("notes", []):
            print(f"  note: {note}")
    plot_pareto(figure_panels, args.out, title="Size against accuracy and latency, with the "
                                               "Pareto front (bold labels)")
    print(f"figure: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
