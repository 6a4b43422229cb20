"""circlearn.plotting.perf: cost model formula, layer sizes, figures."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from circlearn.plotting import perf  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("n", [2, 64, 1000])
def test_matvec_flops_formula(n):
    f = perf.matvec_flops(n)
    assert f["dense"] == 2 * n * n
    assert f["fft"] == pytest.approx(5 * n * math.log2(n) + 6 * (n // 2 + 1))


def test_matvec_flops_rejects_zero():
    with pytest.raises(ValueError, match="n must be"):
        perf.matvec_flops(0)


@pytest.mark.parametrize("diagonal,per_n", [("learned", 2), (None, 1), ("sign", 1)])
def test_layer_sizes_counts(diagonal, per_n):
    (row,) = perf.layer_sizes([64], diagonal=diagonal)
    assert row["dense_params"] == 64 * 64
    assert row["circulant_params"] == per_n * 64
    assert row["circulant_bytes"] == 4 * per_n * 64


def test_figures_draw_rows():
    rows = [{"n": 8, "dense_s": 1e-6, "fft_s": 2e-6, "ratio": 0.5},
            {"n": 16, "dense_s": 4e-6, "fft_s": 3e-6, "ratio": 4 / 3}]
    ax = perf.plot_timings(rows).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 4.0])
    ax = perf.plot_memory(perf.layer_sizes([8, 16])).axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [256, 1024])
    ax = perf.plot_cost_model([4, 8]).axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [32, 128])
    with pytest.raises(ValueError):
        perf.plot_timings([])


def test_parameter_budget_stacks():
    fig = perf.plot_parameter_budget({"a": {"x": 1_000_000, "y": 2_000_000}, "b": {"x": 500_000}})
    bars = fig.axes[0].patches
    widths = sorted(round(b.get_width(), 6) for b in bars)
    assert widths == [0.0, 0.5, 1.0, 2.0]
    with pytest.raises(ValueError):
        perf.plot_parameter_budget({})


def test_plot_layer_sweep_draws_one_line_pair_per_size():
    rows = [{"n_in": n, "batch": b, "pass": p, "speedup_vs_dense": n / 100 * b,
             "speedup_vs_paper": 1.5}
            for n in (1024, 4096) for b in (1, 8) for p in ("fwd", "fwd+bwd")]
    fig = perf.plot_layer_sweep(rows, title="test")
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 * 2 + 1  # per n: vs dense and vs paper; break-even
    assert list(fig.axes[0].lines[0].get_ydata()) == [10.24, 81.92]


def test_layer_rounds_figure_draws_medians_and_quartiles():
    rows = [{"n_in": 8, "n_out": 4, "batch": 1, "pass": "fwd",
             "nn.Linear": [1e-3, 2e-3, 3e-3, 4e-3, 5e-3], "CirculantLinear": [1e-3] * 5}]
    ax = perf.plot_layer_rounds(rows).axes[0]
    heights = sorted(round(b.get_height(), 9) for b in ax.patches)
    assert heights == [1.0, 3.0]  # medians in ms
    whiskers = [seg for coll in ax.collections for seg in coll.get_segments()]
    assert any(np.allclose([seg[0][1], seg[1][1]], [2.0, 4.0]) for seg in whiskers)
    with pytest.raises(ValueError):
        perf.plot_layer_rounds([])
