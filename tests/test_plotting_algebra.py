"""circlearn.plotting.algebra: figures draw the numbers they are given, bad input raises."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from circlearn import reference as ref  # noqa: E402
from circlearn.plotting import algebra  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_show_matrices_shared_symmetric_scale(rng):
    a, b = rng.standard_normal((4, 4)), 3 * rng.standard_normal((5, 5))
    fig = algebra.show_matrices({"a": a, "b": b})
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    vmax = np.abs(b).max()
    for im in images:
        assert im.get_clim() == pytest.approx((-vmax, vmax))
    np.testing.assert_array_equal(images[0].get_array(), a)


def test_show_matrices_per_panel_scale(rng):
    # Notebook 01: small circulant panels are not washed out by a large dense one
    a, b = rng.standard_normal((4, 4)), 30 * rng.standard_normal((4, 4))
    fig = algebra.show_matrices({"a": a, "b": b}, shared_scale=False)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert images[0].get_clim() == pytest.approx((-np.abs(a).max(), np.abs(a).max()))
    assert images[1].get_clim() == pytest.approx((-np.abs(b).max(), np.abs(b).max()))
    assert len(fig.axes) == 4                     # two panels, two colour bars


@pytest.mark.parametrize("bad", [{}, {"v": np.ones(3)}])
def test_show_matrices_rejects(bad):
    with pytest.raises(ValueError):
        algebra.show_matrices(bad)


@pytest.mark.parametrize("n", [5, 8])
def test_spectrum_points_are_fft(rng, n):
    c = rng.standard_normal(n)
    fig = algebra.plot_spectrum(c)
    dft = fig.axes[0].collections[0].get_offsets()
    lam = ref.eigenvalues(c)
    np.testing.assert_allclose(dft[:, 0] + 1j * dft[:, 1], lam, atol=1e-12)


def test_fft_error_lines_and_length_check():
    fig = algebra.plot_fft_error([16, 64], {"f64": [1e-16, 2e-16]}, {"f64": 2.2e-16})
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_ydata(), [1e-16, 2e-16])
    with pytest.raises(ValueError, match="2 sizes"):
        algebra.plot_fft_error([16, 64], {"f64": [1e-16]})


def test_approximation_plot():
    fig = algebra.plot_approximation([1, 2], {"g": [0.9, 0.7]}, {"proj": 0.97})
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.9, 0.7])
    assert ax.lines[1].get_ydata()[0] == pytest.approx(0.97)
    with pytest.raises(ValueError, match="k's"):
        algebra.plot_approximation([1, 2, 3], {"g": [0.9]})
