"""Stored figures are palette PNGs: the same picture as matplotlib's file, a fraction of its size."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from circlearn.plotting.files import COLOURS, save_png, shrink_png  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(5, 3))
    x = np.linspace(0, 10, 200)
    for k in range(4):
        ax.plot(x, np.sin(x + k), label=f"curve {k}")
        ax.fill_between(x, np.sin(x + k) - 0.1, np.sin(x + k) + 0.1, alpha=0.2)
    ax.legend()
    return fig


def test_save_png_is_a_small_palette_image_of_the_same_picture(tmp_path):
    fig = _figure()
    fig.savefig(tmp_path / "rgba.png", dpi=100)
    save_png(fig, tmp_path / "palette.png", dpi=100)
    plt.close(fig)
    with Image.open(tmp_path / "rgba.png") as a, Image.open(tmp_path / "palette.png") as b:
        assert b.mode == "P" and len(b.getcolors(COLOURS)) <= COLOURS
        assert a.size == b.size
        diff = np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float))
    assert diff.mean() < 2.0 and np.percentile(diff, 99) < 40  # 0–255 scale
    assert (tmp_path / "palette.png").stat().st_size < 0.7 * (tmp_path / "rgba.png").stat().st_size


def test_shrink_png_rewrites_once(tmp_path):
    fig = _figure()
    fig.savefig(tmp_path / "f.png", dpi=100)
    plt.close(fig)
    before, after = shrink_png(tmp_path / "f.png")
    assert after < before
    with Image.open(tmp_path / "f.png") as image:
        assert image.mode == "P"
    assert shrink_png(tmp_path / "f.png") == (after, after)
