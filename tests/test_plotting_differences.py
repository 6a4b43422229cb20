"""The forest plot of paired differences (notebook 10's figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from circlearn.plotting.differences import difference_rows, plot_differences  # noqa: E402


def _comparison(b, diff, ci, holm):
    return {"a": "dense", "b": b, "diff_mean": diff, "ci95": ci, "verdict": holm,
            "verdict_holm": holm}


def test_rows_and_one_point_and_band_per_dataset(tmp_path):
    real = difference_rows("real", [_comparison("c", -0.002, [-0.01, 0.006], "holds"),
                                    _comparison("t", -0.05, None, "does not hold")],
                           {"c": "circulant"})
    assert [r["label"] for r in real] == ["circulant", "t"] and real[1]["lo"] is None
    synth = difference_rows("synthetic", [_comparison("c", -0.03, [-0.05, -0.01],
                                                      "undecided at this sample size")],
                            {"c": "circulant"})
    fig = plot_differences({"GAP": real + synth, "Hit@1": real}, path=tmp_path / "f.png")
    gap, hit = fig.axes[:2]
    points = [line for line in gap.lines if line.get_marker() == "o"]
    assert len(points) == 3                              # one point per (comparison, dataset)
    bands = [line for line in gap.lines if line.get_marker() != "o" and len(line.get_xdata()) == 2
             and line.get_xdata()[0] != line.get_xdata()[1]]
    assert sorted(tuple(b.get_xdata()) for b in bands) == [(-0.05, -0.01), (-0.01, 0.006)]
    hollow = [p for p in points if p.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and hollow[0].get_xdata()[0] == -0.03   # Holm undecided
    assert [t.get_text() for t in gap.get_yticklabels()] == ["circulant", "t"]
    assert [t.get_text() for t in hit.get_yticklabels()] == ["circulant", "t"]
    assert any(line.get_xdata()[0] == -0.01 for line in gap.lines if line.get_linestyle() == "--")
    assert (tmp_path / "f.png").stat().st_size > 0 and len(hit.lines) > 0


def test_paired_curves_are_the_tested_difference_per_epoch():
    """Per epoch: b − a paired by seed, its mean and 95 % t-interval; the last epoch equals
    the stored comparison's difference and interval."""
    import json

    from circlearn.data import samples
    from circlearn.plotting.differences import paired_curves, plot_paired_curves

    r = json.loads((samples.path("results") / "quick" / "fig-embeddings" / "results.json")
                   .read_text())
    curves = paired_curves(r)
    assert [(c["a"], c["b"]) for c in curves] == [(c["a"], c["b"]) for c in r["comparisons"]]
    for c, stored in zip(curves, r["comparisons"]):
        assert len(c["epochs"]) == r["epochs"]
        assert abs(c["mean"][-1] - stored["diff_mean"]) < 1e-12
        assert abs(c["lo"][-1] - stored["ci95"][0]) < 1e-9
        assert abs(c["hi"][-1] - stored["ci95"][1]) < 1e-9
        assert all(lo <= m <= hi for lo, m, hi in zip(c["lo"], c["mean"], c["hi"]))
    fig = plot_paired_curves(r)
    assert len(fig.axes[0].get_lines()) == len(curves) + 2  # curves, zero, margin
