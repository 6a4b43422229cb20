"""Baselines on a tiny hand-made split, against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from circlearn.data.yt8m import VideoExample, write_frame_examples
from circlearn.experiments.baselines import (
    baseline_gaps,
    class_prior_scores,
    read_labels_csv,
    select_l2,
    video_means,
)

SIZES = (2, 1)  # rgb 2, audio 1


def _video(vid: str, labels, rgb_rows, audio_rows) -> VideoExample:
    return VideoExample(vid, np.array(labels, dtype=np.int64),
                        {"rgb": np.array(rgb_rows, dtype=np.uint8).reshape(-1, 2),
                         "audio": np.array(audio_rows, dtype=np.uint8).reshape(-1, 1)})


def test_video_means_by_hand(tmp_path):
    # frames 0 and 255 dequantize to -1.9921875 and 2.0078125: their mean is 0.0078125
    path = tmp_path / "train0000.tfrecord"
    write_frame_examples(path, [_video("a", [1], [[0, 255], [255, 255]], [[0], [255]]),
                                _video("b", [], [], [])])
    ids, x, y = video_means(str(path), feature_sizes=SIZES, num_classes=3)
    assert ids == ["a", "b"]
    np.testing.assert_allclose(x, [[0.0078125, 2.0078125, 0.0078125], [0, 0, 0]], atol=1e-12)
    assert y.tolist() == [[0, 1, 0], [0, 0, 0]]


def test_class_prior_gap_by_hand(tmp_path):
    train = [_video(f"t{i}", lab, [[10 * i, 0]], [[0]])
             for i, lab in enumerate([[0], [0, 1], [0, 2], [1], []])]
    write_frame_examples(tmp_path / "train0000.tfrecord", train)
    write_frame_examples(tmp_path / "validate0000.tfrecord",
                         [_video("e1", [1], [[5, 5]], [[5]]), _video("e2", [1], [[9, 9]], [[9]])])
    # training frequencies of classes 0, 1, 2: 3/5, 2/5, 1/5. Both evaluation videos are
    # labelled {1}: the pooled list sorted by score is neg, neg (0.6), pos, pos (0.4), neg,
    # neg (0.2), with 2 positives: GAP = (1/3 + 2/4) / 2 = 5/12.
    gaps = baseline_gaps(str(tmp_path / "train*.tfrecord"), str(tmp_path / "validate*.tfrecord"),
                         feature_sizes=SIZES, num_classes=3)
    assert gaps["class_prior"] == pytest.approx(5 / 12, abs=1e-12)
    assert class_prior_scores(np.array([[1, 0, 0], [1, 1, 0]])).tolist() == [1.0, 0.5, 0.0]


def _separable(tmp_path, n_per_class=6):
    """Class 0 videos have a high rgb[0], class 1 a high rgb[1]; audio is noise."""
    rng = np.random.default_rng(0)
    train = []
    for i in range(2 * n_per_class):
        k = i % 2
        rgb = rng.integers(100, 120, size=(3, 2))
        rgb[:, k] += 100
        train.append(_video(f"t{i}", [k], rgb, rng.integers(0, 255, size=(3, 1))))
    write_frame_examples(tmp_path / "train0000.tfrecord", train)
    test = [_video("x0", [], [[210, 110]], [[7]]), _video("x1", [], [[110, 210]], [[250]])]
    write_frame_examples(tmp_path / "test0000.tfrecord", test, with_labels=False)
    (tmp_path / "test_labels.csv").write_text("VideoId,Labels\nx0,0\nx1,1\n")


def test_linear_means_separates_a_separable_split(tmp_path):
    _separable(tmp_path)
    gaps = baseline_gaps(str(tmp_path / "train*"), str(tmp_path / "test0*"), feature_sizes=SIZES,
                         num_classes=2, labels_csv=tmp_path / "test_labels.csv")
    # both positives rank above both negatives: GAP = (1/1 + 2/2) / 2 = 1
    assert gaps["linear_means"] == pytest.approx(1.0)


def test_labels_csv_errors(tmp_path):
    _separable(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("VideoId,Labels\nx0,zero\n")
    with pytest.raises(ValueError, match="bad.csv: line 2: labels must be integers"):
        read_labels_csv(bad)
    (tmp_path / "missing.csv").write_text("VideoId,Labels\nx0,0\n")
    with pytest.raises(ValueError, match="video 'x1' has no row in the labels file"):
        baseline_gaps(str(tmp_path / "train*"), str(tmp_path / "test0*"), feature_sizes=SIZES,
                      num_classes=2, labels_csv=tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="header"):
        (tmp_path / "h.csv").write_text("id,labels\n")
        read_labels_csv(tmp_path / "h.csv")


def test_select_l2_is_deterministic_and_from_the_grid():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = (x[:, :2] > 0).astype(float)
    assert select_l2(x, y, seed=3) == select_l2(x, y, seed=3)
    assert select_l2(x, y, seed=3, grid=(0.5,)) == 0.5
    with pytest.raises(ValueError, match=">= 5 training videos"):
        select_l2(x[:4], y[:4])
