"""The Pareto figure: the front, the label placement, and the figure from the stored results."""

from __future__ import annotations

import importlib.util
import itertools
import random
from pathlib import Path

import pytest

from circlearn.models import PRESETS
from circlearn.plotting.pareto import boxes_overlap, pareto_front, place_labels, scale_points

ROOT = Path(__file__).resolve().parents[1]


def test_front_on_hand_made_points():
    #        0    1    2    3    4    5    6    7
    xs = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 0.5]
    ys = [0.5, 0.4, 0.7, 0.7, 0.7, 0.9, 0.9, 0.1]
    # 1: same size as 0, lower GAP; 4: same GAP as 2 and 3, larger; 6: same GAP as 5,
    # larger; 2 and 3 tie exactly and neither dominates the other; 7: smallest, worst
    assert pareto_front(xs, ys) == [7, 0, 2, 3, 5]
    # smaller y better (latency): 7 alone is smallest on both axes
    assert pareto_front(xs, ys, larger_y=False) == [7]
    assert pareto_front([2.0, 1.0], [0.1, 0.1], larger_y=False) == [1]
    assert pareto_front([], []) == []


def _crowd(n=40, seed=0):
    rng = random.Random(seed)
    anchors = [(100 + rng.uniform(0, 30), 100 + rng.uniform(0, 20)) for _ in range(n)]
    sizes = [(rng.uniform(20, 120), rng.uniform(6, 12)) for _ in range(n)]
    return anchors, sizes


def test_labels_never_overlap_on_a_crowded_set():
    anchors, sizes = _crowd()
    boxes = place_labels(anchors, sizes, marker=4.0, gap=1.0, bounds=(0, 0, 300, 250))
    assert len(boxes) == len(anchors)
    for a, b in itertools.combinations(boxes, 2):
        assert not boxes_overlap(a, b)
    for box, (w, h) in zip(boxes, sizes):
        assert box[2] - box[0] == pytest.approx(w) and box[3] - box[1] == pytest.approx(h)
        assert not any(boxes_overlap(box, (x - 4, y - 4, x + 4, y + 4)) for x, y in anchors)
    assert boxes == place_labels(anchors, sizes, marker=4.0, gap=1.0, bounds=(0, 0, 300, 250))
    # an isolated point's label sits just right of its marker
    assert place_labels([(0.0, 0.0)], [(10.0, 4.0)]) == [(5.0, -2.0, 15.0, 2.0)]


def _script():
    spec = importlib.util.spec_from_file_location("pareto_figure",
                                                  ROOT / "benchmarks" / "pareto_figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scale_points_keep_one_data_draw_and_one_point_per_model(tmp_path):
    points, notes = scale_points(ROOT / "data_samples" / "results", "medium")
    assert notes == []  # every stored medium figure is the fresh draw
    assert {p["figure"] for p in points} == {"fig-embeddings", "fig-layers", "fig-compress",
                                             "fig-structures"}
    quick, _ = scale_points(ROOT / "data_samples" / "results", "quick")
    labels = [p["label"] for p in quick]
    assert labels.count("DBoF dense") == 1 and "dbof dense" not in labels  # one per model
    assert labels.count("NetVLAD dense") == 1  # fig-compress' dense runs: fig-embeddings'
    assert "DBoF circulant projected" in labels and "DBoF circulant projected + fine-tuned" \
        in labels
    assert "DBoF circulant from scratch" in labels
    assert scale_points(tmp_path, "quick")[0] == []


def test_a_figure_trained_on_other_data_is_left_out_with_a_note(tmp_path):
    import json

    stored = json.loads((ROOT / "data_samples" / "results" / "medium" / "fig-embeddings"
                         / "results.json").read_text())
    other = {**stored, "provenance": {**stored["provenance"], "data_sha256": "0" * 64}}
    for fig, results in (("fig-embeddings", stored), ("fig-layers", other)):
        (tmp_path / "medium" / fig).mkdir(parents=True)
        (tmp_path / "medium" / fig / "results.json").write_text(json.dumps(results))
    points, notes = scale_points(tmp_path, "medium")
    assert "fig-layers: other data (another draw), left out" in notes
    assert {p["figure"] for p in points} == {"fig-embeddings"} and len(points) == 6


def test_figure_from_the_stored_results_has_every_label_and_no_overlap(tmp_path):
    pytest.importorskip("matplotlib")
    script = _script()
    panels = script.panels()
    assert [len(p["points"]) > 0 for p in panels] == [True] * 4
    from circlearn.plotting.pareto import plot_pareto

    fig, labels = plot_pareto(panels)
    fig.savefig(tmp_path / "pareto.png", dpi=fig.dpi)  # as plot_pareto saves it
    assert (tmp_path / "pareto.png").stat().st_size > 50_000
    renderer = fig.canvas.get_renderer()
    for panel, texts in zip(panels, labels):
        assert sorted(t.get_text() for t in texts) == sorted(p["label"] for p in panel["points"])
        assert not set(t.get_text() for t in texts) & set(PRESETS)  # variants, not presets
        extents = [t.get_window_extent(renderer).extents for t in texts]
        for a, b in itertools.combinations(extents, 2):
            assert not boxes_overlap(a, b)


def test_latency_points_label_a_named_variant_by_its_own_name():
    from circlearn.plotting.pareto import latency_points

    rows = [{"model": m, "preset": p, "scale": s, "fp32_MB": 1.0, "onnx-fp32_p50_ms": 2.0}
            for m, p, s in (("dbof-video-moe-circulant", "dbof-video-moe-circulant", "paper"),
                            ("dbof-video-all-circulant", "dbof-video-moe-circulant", "paper"),
                            ("dbof-video (quick)", "dbof-video", "quick"))]
    labels = {"dbof-video-moe-circulant": "video only: Compact MoE"}
    points = latency_points({"rows": rows}, labels)
    assert [p["label"] for p in points] == ["video only: Compact MoE", "dbof-video-all-circulant"]
