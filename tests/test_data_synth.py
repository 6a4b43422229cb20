"""Synthetic generator: byte-identical per seed, version 1's documented statistics, the data CLI.

Version 2 (verticals, lengths, presets, the cache): ``tests/test_data_synth_v2.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from circlearn.cli import main
from circlearn.data.synth import SynthConfig, generate
from circlearn.data.yt8m import dequantize, read_frame_examples, read_video_examples

SMALL = dict(num_classes=12, rgb_size=16, audio_size=4, train_videos=60, validate_videos=10,
             test_videos=6, shards=2, min_frames=4, max_frames=20)


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("version", [1, 2])
def test_same_seed_same_bytes(tmp_path, version):
    generate(tmp_path / "a", SynthConfig(seed=5, generator_version=version, **SMALL))
    generate(tmp_path / "b", SynthConfig(seed=5, generator_version=version, **SMALL))
    generate(tmp_path / "c", SynthConfig(seed=6, generator_version=version, **SMALL))
    a, b, c = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert a == b
    assert a["frame/train0000.tfrecord"] != c["frame/train0000.tfrecord"]
    assert sorted(a) == sorted(["dataset.json", "vocabulary.csv", "test_labels.csv"] + [
        f"{lvl}/{s}{i:0{w}d}.tfrecord" for lvl, w in (("frame", 4), ("video", 2))
        for s in ("train", "validate", "test") for i in range(2)])


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(root, SynthConfig(seed=0, num_classes=20, rgb_size=64, audio_size=4,
                               train_videos=600, validate_videos=1, test_videos=1,
                               generator_version=1))
    return root


def test_documented_statistics(big):
    exs = [e for f in sorted((big / "frame").glob("train*")) for e in read_frame_examples(
        f, feature_sizes=(64, 4))]
    n_labels = np.array([e.labels.size for e in exs])
    assert 2.7 < n_labels.mean() < 3.3  # about 3 labels per video
    freq = np.bincount(np.concatenate([e.labels for e in exs]), minlength=20)
    assert freq[0] > 5 * freq[-1]  # long tail, class 0 most frequent
    frames = np.array([e.num_frames for e in exs])
    assert frames.min() >= 10 and frames.max() <= 50 and len(set(frames)) > 20
    vocab = (big / "vocabulary.csv").read_text().splitlines()
    assert vocab[0].startswith("Index,TrainVideoCount,KnowledgeGraphId,Name")
    assert [int(line.split(",")[1]) for line in vocab[1:]] == freq.tolist()


def test_video_level_is_mean_of_dequantized_frames(big):
    fr = next(read_frame_examples(big / "frame/train0000.tfrecord", feature_sizes=(64, 4)))
    vi = next(read_video_examples(big / "video/train00.tfrecord", feature_sizes=(64, 4)))
    assert fr.id == vi.id and fr.labels.tolist() == vi.labels.tolist()
    np.testing.assert_allclose(vi.features["mean_rgb"], dequantize(fr.features["rgb"]).mean(0),
                               rtol=1e-6, atol=1e-6)


def test_test_split_has_no_labels_but_truth_file(big):
    ex = next(read_frame_examples(big / "frame/test0000.tfrecord", feature_sizes=(64, 4)))
    assert ex.labels.size == 0
    truth = (big / "test_labels.csv").read_text().splitlines()
    assert truth[0] == "VideoId,Labels" and truth[1].split(",")[0] == ex.id


def test_evidence_is_learnable_signal(big):
    """A class direction estimated on half the videos separates the other half (AUC)."""
    exs = [e for f in sorted((big / "video").glob("train*")) for e in read_video_examples(
        f, feature_sizes=(64, 4))]
    x = np.stack([e.features["mean_rgb"] for e in exs]).astype(np.float64)  # (600, 64)
    y = np.array([0 in e.labels for e in exs])
    assert 0.2 < y.mean() < 0.8
    fit, held = slice(0, 300), slice(300, 600)
    direction = x[fit][y[fit]].mean(0) - x[fit][~y[fit]].mean(0)
    score, truth = x[held] @ direction, y[held]
    pos, neg = score[truth], score[~truth]
    auc = (pos[:, None] > neg[None, :]).mean()
    assert auc > 0.75, auc


@pytest.mark.parametrize("bad", [dict(min_frames=0), dict(num_classes=2), dict(shards=0),
                                 dict(evidence_min=0.0), dict(id_key="vid"),
                                 dict(generator_version=3), dict(num_verticals=60),
                                 dict(vertical_purity=1.0), dict(flip=1.5),
                                 dict(max_duration=5), dict(generator_version=1, flip=0.2)])
def test_invalid_config(bad):
    with pytest.raises(ValueError, match="invalid synthetic-data config"):
        SynthConfig(**bad)


def test_cli_synth_and_inspect(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["data", "synth", "--out", str(out), "--seed", "1", "--num-classes", "12",
                 "--rgb_size", "16", "--audio-size", "4", "--train-videos", "9",
                 "--validate-videos", "3", "--test-videos", "2", "--id-key", "video_id"]) == 0
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["config"]["id_key"] == "video_id" and meta["generator_version"] == 2
    capsys.readouterr()
    assert main(["data", "inspect", f"{out}/frame/train*", str(out / "video/test00.tfrecord")]) == 0
    text = capsys.readouterr().out
    assert "frame-level, id key video_id" in text and "features: rgb 16, audio 4" in text
    assert "video-level" in text and "features: mean_rgb 16, mean_audio 4" in text
    assert "frames per video" in text and "first ids:" in text


def test_cli_inspect_reports_corruption(tmp_path, capsys):
    generate(tmp_path, SynthConfig(seed=0, **SMALL))
    path = tmp_path / "frame/train0001.tfrecord"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert main(["data", "inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "train0001.tfrecord" in err and "byte offset" in err
    assert main(["data", "inspect", str(tmp_path / "frame/nothing*")]) == 2
    assert "no file matches" in capsys.readouterr().err
