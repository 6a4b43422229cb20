"""Figures for the YouTube-8M data notebook (06): frames, quantisation, label statistics.

Inputs are what :mod:`circlearn.data.yt8m` readers return (``uint8 (frames, dim)`` features,
label id arrays); the functions only draw. Each returns the ``pyplot`` figure it made.

- :func:`plot_frames`: one video's dequantised features as a (dimension × time) heatmap;
- :func:`plot_quantization`: the 256 levels of ``dequantize`` and the round trip error;
- :func:`plot_dataset_stats`: label frequencies (long tail), labels per video, frames per video.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from circlearn.data import yt8m

from .algebra import DPI

__all__ = ["plot_frames", "plot_quantization", "plot_dataset_stats"]


def plot_frames(frames: np.ndarray, title: str = ""):
    """Heatmap of ``dequantize(frames)`` for ``frames`` of shape ``(T, D)`` (time on x)."""
    frames = np.asarray(frames)
    if frames.ndim != 2:
        raise ValueError(f"frames must be (T, D), got shape {frames.shape}")
    x = yt8m.dequantize(frames).T                                  # (D, T)
    fig, ax = plt.subplots(figsize=(5.2, 2.8), dpi=DPI)
    im = ax.imshow(x, aspect="auto", cmap="RdBu_r", vmin=-2, vmax=2, interpolation="nearest")
    ax.set_xlabel("frame (second)")
    ax.set_ylabel("feature dimension")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def plot_quantization(values: np.ndarray, zoom: float = 0.1):
    """Three panels of the ``uint8`` quantisation (``circlearn.data.yt8m``).

    Left: ``dequantize(q)`` for q = 0..255. Middle: ``values`` against their round trip
    ``dequantize(quantize(values))`` (everything outside ``[-2, 2]`` is clipped). Right: the
    round trip on a fine grid of ``[-zoom, zoom]``, where the staircase of step ``4/255`` (too
    small to see at full range) is visible, with the dequantised levels marked.
    """
    if zoom <= 0:
        raise ValueError(f"zoom must be > 0, got {zoom}")
    values = np.asarray(values, dtype=np.float64).ravel()
    q = np.arange(256, dtype=np.uint8)
    back = yt8m.dequantize(yt8m.quantize(values))
    fig, (a, b, z) = plt.subplots(1, 3, figsize=(10.4, 3.0), dpi=DPI)
    a.step(q, yt8m.dequantize(q), where="mid")
    a.set_xlabel("stored byte q")
    a.set_ylabel("dequantize(q), feature value")
    a.set_title("256 levels over [-2, 2]", fontsize=9)
    order = np.argsort(values)
    b.plot(values[order], back[order], lw=1, label="dequantize(quantize(x))")
    b.plot(values[order], values[order], "--", lw=0.8, color="0.5", label="x")
    b.set_xlabel("feature value x")
    b.set_ylabel("after the round trip")
    b.set_title("clipped outside [-2, 2]", fontsize=9)
    b.legend(fontsize=8)
    grid = np.linspace(-zoom, zoom, 2001)
    z.plot(grid, yt8m.dequantize(yt8m.quantize(grid)), lw=1.2, label="round trip")
    z.plot(grid, grid, "--", lw=0.8, color="0.5", label="x")
    levels = yt8m.dequantize(q)
    shown = levels[(levels >= -zoom) & (levels <= zoom)]
    z.plot(shown, shown, "o", ms=3, color="C3", label="byte levels")
    z.set_xlabel("feature value x")
    z.set_title(f"zoom on [-{zoom:g}, {zoom:g}]: step 4/255", fontsize=9)
    z.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_dataset_stats(labels: Sequence[np.ndarray], num_frames: Sequence[int],
                       num_classes: int):
    """Three panels: videos per class (sorted), labels per video, frames per video.

    ``labels`` holds one array of label ids per video, ``num_frames`` one count per video.
    """
    if len(labels) != len(num_frames):
        raise ValueError(f"{len(labels)} label arrays for {len(num_frames)} frame counts")
    ids = np.concatenate([np.asarray(x, dtype=np.int64) for x in labels]) if labels else \
        np.zeros(0, np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"label ids must lie in [0, {num_classes}), got {ids.min()}..{ids.max()}")
    per_class = np.sort(np.bincount(ids, minlength=num_classes))[::-1]
    per_video = np.array([len(x) for x in labels])
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 2.8), dpi=DPI)
    axes[0].bar(np.arange(num_classes), per_class, width=1.0)
    axes[0].set_xlabel("class (by frequency)")
    axes[0].set_ylabel("videos")
    axes[1].hist(per_video, bins=np.arange(per_video.max() + 2) - 0.5 if per_video.size else 1)
    axes[1].set_xlabel("labels per video")
    axes[1].set_ylabel("videos")
    axes[2].hist(np.asarray(num_frames), bins=20)
    axes[2].set_xlabel("frames per video (seconds)")
    axes[2].set_ylabel("videos")
    fig.tight_layout()
    return fig
