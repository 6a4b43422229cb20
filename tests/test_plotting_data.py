"""circlearn.plotting.data: YouTube-8M figures draw dequantised data and the right counts."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from circlearn.data import yt8m  # noqa: E402
from circlearn.plotting import data  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_plot_frames_is_dequantised_transpose(rng):
    frames = rng.integers(0, 256, size=(7, 5), dtype=np.uint8)
    fig = data.plot_frames(frames, title="t")
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), yt8m.dequantize(frames).T)
    with pytest.raises(ValueError, match="frames must be"):
        data.plot_frames(np.zeros(3, np.uint8))


def test_plot_quantization_levels():
    fig = data.plot_quantization(np.linspace(-3, 3, 11))
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(),
                               yt8m.dequantize(np.arange(256, dtype=np.uint8)))


def test_plot_quantization_zoom_shows_the_staircase():
    # The staircase must be visible; the zoom panel draws the round trip on a fine
    # grid, so it takes only the byte levels' values and has several steps in view.
    fig = data.plot_quantization(np.linspace(-3, 3, 11), zoom=0.1)
    x, y = fig.axes[2].lines[0].get_xdata(), fig.axes[2].lines[0].get_ydata()
    assert x.min() == -0.1 and x.max() == 0.1
    levels = yt8m.dequantize(np.arange(256, dtype=np.uint8))
    assert np.isin(y, levels).all()
    assert 10 <= np.unique(y).size <= 16          # 0.2 / (4/255) ≈ 12.75 steps in view


def test_plot_quantization_bad_zoom():
    with pytest.raises(ValueError, match="zoom"):
        data.plot_quantization(np.zeros(3), zoom=0)


def test_dataset_stats_counts():
    labels = [np.array([0, 1]), np.array([1]), np.array([1, 2, 3])]
    fig = data.plot_dataset_stats(labels, [10, 20, 30], num_classes=5)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [3, 1, 1, 1, 0]


@pytest.mark.parametrize("labels,frames,classes,match", [
    ([np.array([0])], [1, 2], 3, "label arrays"),
    ([np.array([5])], [1], 3, r"\[0, 3\)"),
])
def test_dataset_stats_rejects(labels, frames, classes, match):
    with pytest.raises(ValueError, match=match):
        data.plot_dataset_stats(labels, frames, classes)
