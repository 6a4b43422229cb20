"""Video-level means and the dequantisation constants: one place, the exact bits of each user.

The references below write out the formula of each user (synthetic generator v1 and v2,
sequence datasets, the linear baseline); stored data and results were computed with them, so
``yt8m.video_mean`` must reproduce them bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from circlearn.data.yt8m import (
    DEQUANTIZE_BIAS,
    DEQUANTIZE_SCALE,
    MAX_QUANTIZED_VALUE,
    MIN_QUANTIZED_VALUE,
    dequantize,
    video_mean,
)


def padded_videos(seed=0, videos=12, max_frames=40, dim=33):
    """Random bytes ``(B, T, D)`` (padding included: garbage past each length) and lengths,
    among them an empty video and a full-length one."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(videos, max_frames, dim), dtype=np.uint8)
    num_frames = rng.integers(1, max_frames + 1, size=videos)
    num_frames[0], num_frames[1] = 0, max_frames
    return frames, num_frames


def frames_reference(v):  # generator v1 and sequence datasets: float32 frames, float64 mean
    return (dequantize(v).astype(np.float64).mean(axis=0)
            if len(v) else np.zeros(v.shape[1])).astype(np.float32)


def sum_reference(q):  # generator v2: exact integer sums
    total = q.sum(axis=0, dtype=np.int64)
    return (total * (4.0 / 255.0 / q.shape[0]) + (4.0 / 512.0 - 2.0)).astype(np.float32)


def mean_reference(q, d):  # the linear baseline: the mean byte through the affine map
    return (np.zeros(d) if q.shape[0] == 0 else
            q.mean(axis=0, dtype=np.float64) * (4.0 / 255.0) + float(dequantize(np.uint8(0))))


def test_constants_are_the_starter_codes():
    assert (MAX_QUANTIZED_VALUE, MIN_QUANTIZED_VALUE) == (2.0, -2.0)
    assert DEQUANTIZE_SCALE == 4.0 / 255.0 and DEQUANTIZE_BIAS == 4.0 / 512.0 - 2.0 == -1.9921875
    b = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(
        dequantize(b), b.astype(np.float32) * np.float32(DEQUANTIZE_SCALE)
        + np.float32(DEQUANTIZE_BIAS))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_method_equals_its_users_formula_bit_for_bit(seed):
    frames, num_frames = padded_videos(seed)
    d = frames.shape[2]
    for b, n in enumerate(num_frames):
        q = frames[b, :n]  # the real frames only
        got = video_mean(q)
        assert got.dtype == np.float64 and got.shape == (d,)
        np.testing.assert_array_equal(got.astype(np.float32), frames_reference(q), strict=True)
        if n:  # generator v2 never makes a video without frames
            np.testing.assert_array_equal(video_mean(q, "sum").astype(np.float32),
                                          sum_reference(q), strict=True)
        np.testing.assert_array_equal(video_mean(q, "mean"), mean_reference(q, d), strict=True)
        # a strided view (as the record reader returns) gives the same bits
        wide = np.zeros((n, 2 * d), dtype=np.uint8)
        wide[:, ::2] = q
        for method in ("frames", "sum", "mean"):
            np.testing.assert_array_equal(video_mean(wide[:, ::2], method), video_mean(q, method))


def test_methods_agree_to_rounding_and_empty_videos_are_zero():
    frames, num_frames = padded_videos(3)
    for b, n in enumerate(num_frames):
        q = frames[b, :n]
        exact = (q.astype(np.float64).sum(axis=0) / max(n, 1)) * 4 / 255 + (4 / 512 - 2) * (n > 0)
        for method in ("frames", "sum", "mean"):
            np.testing.assert_allclose(video_mean(q, method), exact, rtol=0, atol=1e-6)
    for method in ("frames", "sum", "mean"):
        empty = video_mean(np.zeros((0, 5), dtype=np.uint8), method)
        assert empty.dtype == np.float64 and empty.tolist() == [0.0] * 5
    with pytest.raises(ValueError, match="unknown method 'median'"):
        video_mean(frames[1], "median")
