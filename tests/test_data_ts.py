"""UEA/UCR .ts reader, the sequences → records writer, and `circlearn data from-ts`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from circlearn.cli import main
from circlearn.data.sequences import fit_stats, write_sequence_dataset
from circlearn.data.ts import convert_ts, packaged_ts, read_ts
from circlearn.data.yt8m import dequantize, quantize, read_frame_examples, read_video_examples

# 2 channels, unequal lengths (3, 2 and 4 steps), missing values, comments, mixed-case tags
TRAIN = """\
# A hand-written multivariate problem
% percent comments too
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down flat
@data
1.0,2.0,3.0:10,20,30:up

3.0,?:30,10:down
0.5,1.5,2.5,3.5:5,?,15,NaN:flat
"""
TEST = """\
@problemName Tiny
@DIMENSIONS 2
@classlabel TRUE up down flat
@data
2.0,2.0:20,21:down
4.0,5.0,6.0:1,2:up
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_ts_cases_labels_missing_and_unequal_lengths(tmp_path):
    ts = read_ts(_write(tmp_path, "Tiny_TRAIN.ts", TRAIN))
    assert ts.problem_name == "Tiny" and ts.class_labels == ["up", "down", "flat"]
    assert ts.labels == ["up", "down", "flat"] and ts.lines == [11, 13, 14]
    assert [x.shape for x in ts.series] == [(3, 2), (2, 2), (4, 2)] and ts.channels == 2
    assert_allclose(ts.series[0], [[1, 10], [2, 20], [3, 30]])
    assert np.isnan(ts.series[1][1, 0]) and np.isnan(ts.series[2][1, 1])
    assert np.isnan(ts.series[2][3, 1]) and ts.padded_values == 0
    test = read_ts(_write(tmp_path, "Tiny_TEST.ts", TEST))
    assert test.series[1].shape == (3, 2) and np.isnan(test.series[1][2, 1])
    assert test.padded_values == 1  # channel 2 of case 2 is one step shorter


@pytest.mark.parametrize("line, message", [
    ("1.0,2.0:3.0,x:up", "line 11: channel 2, value 2: 'x' is not a number or '?'"),
    ("1.0,2.0:3.0,4.0:sideways", "line 11: class label 'sideways' is not declared"),
    ("1.0,2.0:up", "line 11: 1 channels, expected 2"),
    ("1.0,2.0,3.0", "line 11: expected channels separated by ':'"),
    ("1.0,,2.0:1,2,3:up", "line 11: channel 1, value 2: '' is not a number"),
    ("1.0,inf:1,2:up", "line 11: channel 1, value 2: 'inf' is not finite"),
    ("@seriesLength 3", "line 11: header tag '@seriesLength' after @data"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    lines = TRAIN.splitlines()
    lines[10] = line  # the first case (line 11)
    path = _write(tmp_path, "bad.ts", "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="bad.ts") as err:
        read_ts(path)
    assert message in str(err.value)


@pytest.mark.parametrize("header, message", [
    ("@classLabel false", "line 1: @classLabel false: the file has no class labels"),
    ("@targetLabel true", "line 1: @targetLabel true is a regression problem"),
    ("@timeStamps true\n@classLabel true a\n@data", "line 3: @timeStamps true"),
    ("@frobnicate 3", "line 1: unknown header tag '@frobnicate'"),
    ("@dimensions two", "line 1: @dimensions must be an integer"),
    ("@univariate maybe", "line 1: @univariate must be true or false"),
    ("1,2,3:a", "line 1: expected a header tag"),
    ("@classLabel true a a", "line 1: @classLabel lists a label twice"),
    ("@problemName X", "no @data line"),
    ("@classLabel true a\n@data", "no cases after @data"),
    ("@data", "line 1: @data before @classLabel"),
])
def test_malformed_header_is_named(tmp_path, header, message):
    path = _write(tmp_path, "h.ts", header + "\n")
    with pytest.raises(ValueError, match="h.ts") as err:
        read_ts(path)
    assert message in str(err.value)


def test_equal_length_header_is_checked(tmp_path):
    text = "@equalLength true\n@seriesLength 3\n@classLabel true a\n@data\n1,2,3:a\n1,2:a\n"
    with pytest.raises(ValueError, match=r"line 6: channel lengths \[2\] differ from "
                                         r"@seriesLength 3"):
        read_ts(_write(tmp_path, "e.ts", text))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nowhere.ts not found"):
        read_ts("nowhere.ts")


def test_convert_standardizes_with_train_statistics(tmp_path):
    train = _write(tmp_path, "Tiny_TRAIN.ts", TRAIN)
    test = _write(tmp_path, "Tiny_TEST.ts", TEST)
    out = tmp_path / "tiny"
    summary = convert_ts(train, test, out=out)
    meta = json.loads((out / "dataset.json").read_text())
    assert meta == summary
    assert meta["num_classes"] == 3 and meta["classes"] == ["up", "down", "flat"]
    assert meta["frame_features"] == ["series"] and meta["feature_sizes"] == [2]
    assert meta["splits"]["train"]["videos"] == 3 and meta["splits"]["validate"]["videos"] == 2
    assert meta["splits"]["train"]["missing_values"] == 3
    assert meta["splits"]["validate"]["missing_values"] == 1  # the padded step
    assert meta["source"]["padded_values"] == {"train": 0, "validate": 1}
    # train statistics: channel 1 = [1, 2, 3, 3, 0.5, 1.5, 2.5, 3.5] (the '?' ignored)
    ch1 = np.array([1, 2, 3, 3, 0.5, 1.5, 2.5, 3.5])
    ch2 = np.array([10, 20, 30, 30, 10, 5, 15])
    stats = meta["preprocessing"]["stats"]["series"]
    assert_allclose(stats["mean"], [ch1.mean(), ch2.mean()])
    assert_allclose(stats["std"], [ch1.std(), ch2.std()])
    train_ex = list(read_frame_examples(out / "frame" / "train0000.tfrecord",
                                        feature_names=("series",)))
    assert [e.id for e in train_ex] == ["train-00000", "train-00001", "train-00002"]
    assert [e.labels.tolist() for e in train_ex] == [[0], [1], [2]]
    z = (np.array([[1.0, 10], [2, 20], [3, 30]]) - stats["mean"]) / stats["std"]
    np.testing.assert_array_equal(train_ex[0].features["series"], quantize(z))
    assert train_ex[1].features["series"][1, 0] == quantize(0.0)  # missing → train mean
    val = list(read_frame_examples(out / "frame" / "validate0000.tfrecord",
                                   feature_names=("series",)))
    zv = (np.array([2.0, 20]) - stats["mean"]) / stats["std"]  # validate uses train stats
    np.testing.assert_array_equal(val[0].features["series"][0], quantize(zv))
    videos = list(read_video_examples(out / "video" / "train00.tfrecord",
                                      feature_names=("mean_series",)))
    assert_allclose(videos[2].features["mean_series"],
                    dequantize(train_ex[2].features["series"]).mean(axis=0), rtol=1e-6)
    vocab = (out / "vocabulary.csv").read_text().splitlines()
    assert vocab[0].startswith("Index,TrainVideoCount") and vocab[2] == "1,1,,down,,,,,"


def test_out_must_be_new_or_empty_and_errors_leave_nothing(tmp_path):
    train = _write(tmp_path, "Tiny_TRAIN.ts", TRAIN)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="busy exists and is not an empty folder"):
        convert_ts(train, out=busy)
    other = _write(tmp_path, "Other_TEST.ts", "@classLabel true x y\n@data\n1:x\n")
    with pytest.raises(ValueError, match="differs from"):
        convert_ts(train, other, out=tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder
    empty = tmp_path / "empty"
    empty.mkdir()
    convert_ts(train, out=empty)
    assert (empty / "dataset.json").is_file() and "validate" not in json.loads(
        (empty / "dataset.json").read_text())["splits"]


def test_write_sequence_dataset_checks_items(tmp_path):
    ok = ("a", [0], {"s": np.zeros((3, 2))})
    cases = [
        ({"train": []}, "train split must hold at least one item"),
        ({"train": [ok], "dev": [ok]}, r"unknown split\(s\) \['dev'\]"),
        ({"train": [("a", [0], {"s": np.zeros(3)})]}, "stream 's' must be a numeric (T, D)"),
        ({"train": [ok, ("b", [0], {"s": np.zeros((3, 4))})]}, "item 1 (id 'b'): streams"),
        ({"train": [ok, ("a", [1], {"s": np.zeros((2, 2))})]}, "id 'a' appears more than once"),
        ({"train": [("a", [-1], {"s": np.zeros((3, 2))})]}, "label -1 outside"),
        ({"train": [("a", [0], {"s": np.full((3, 2), np.inf)})]}, "infinite values"),
        ({"train": [("", [0], {"s": np.zeros((3, 2))})]}, "id must be a non-empty string"),
    ]
    for splits, message in cases:
        with pytest.raises(ValueError) as err:
            write_sequence_dataset(tmp_path / "x", splits)
        assert message in str(err.value) or re.search(message, str(err.value))
    with pytest.raises(ValueError, match=r"label 3 outside \[0, 2\)"):
        write_sequence_dataset(tmp_path / "x", {"train": [("a", [3], {"s": np.zeros((1, 2))})]},
                               class_names=["p", "q"])
    assert not (tmp_path / "x").exists()


def test_fit_stats_ignores_missing_and_constant_channels():
    items = [("a", [0], {"s": np.array([[1.0, 5.0], [np.nan, 5.0], [3.0, 5.0]])})]
    stats = fit_stats(items)
    assert_allclose(stats.mean["s"], [2.0, 5.0])
    assert_allclose(stats.std["s"], [1.0, 1.0])  # constant channel: std 1, not 0


def test_cli_from_ts_then_train_a_step(tmp_path, capsys):
    train = _write(tmp_path, "Tiny_TRAIN.ts", TRAIN)
    test = _write(tmp_path, "Tiny_TEST.ts", TEST)
    out = tmp_path / "tiny"
    assert main(["data", "from-ts", str(train), str(test), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "train: 3 series, 2-4 steps, 3 missing values filled" in text
    assert "--feature-names series --feature-sizes 2 --num-classes 3" in text
    run = tmp_path / "run"
    assert main(["train", "--train-dir", str(run), "--model", "dbof-fc-circulant",
                 "--feature-names", "series", "--feature-sizes", "2", "--num-classes", "3",
                 "--cluster-sizes", "8", "--hidden-size", "4", "--n-bagging", "1",
                 "--iterations", "3", "--max-frames", "4", "--batch-size", "3",
                 "--max-steps", "2", "--eval-every-steps", "2", "--no-progress",
                 "--no-tensorboard", "--device", "cpu",
                 "--train-data-pattern", str(out / "frame" / "train*.tfrecord"),
                 "--eval-data-pattern", str(out / "frame" / "validate*.tfrecord")]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and 0 <= rows[-1]["gap"] <= 1
    capsys.readouterr()
    # a malformed line: one line on stderr naming the file and line, exit code 2
    bad = _write(tmp_path, "Bad_TRAIN.ts", TRAIN.replace("3.0,?:30,10:down",
                                                         "3.0,?:30,1O:down"))
    assert main(["data", "from-ts", str(bad), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Bad_TRAIN.ts, line 13: channel 2, value 2: '1O'" in err[0]


def test_packaged_ts_finds_files_without_importing(tmp_path, monkeypatch):
    pkg = tmp_path / "fakets"
    folder = pkg / "datasets" / "data" / "Tiny"
    folder.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (folder / "Tiny_TRAIN.ts").write_text(TRAIN)
    (folder / "Tiny_TEST.ts").write_text(TEST)
    monkeypatch.syspath_prepend(str(tmp_path))
    train, test = packaged_ts("Tiny", packages=("no_such_package_xyz", "fakets"))
    assert train == folder / "Tiny_TRAIN.ts" and test == folder / "Tiny_TEST.ts"
    with pytest.raises(FileNotFoundError, match=r"no_such_package_xyz \(not installed\)"):
        packaged_ts("Other", packages=("no_such_package_xyz", "fakets"))


def test_models_read_the_converted_records(tmp_path):
    """The loader feeds converted series to a DBoF model (one stream named 'series')."""
    from circlearn.data.datasets import LoaderConfig, YT8MLoader
    from circlearn.models import from_preset

    out = tmp_path / "tiny"
    convert_ts(_write(tmp_path, "T_TRAIN.ts", TRAIN), out=out)
    cfg = LoaderConfig(batch_size=3, feature_names=("series",), feature_sizes=(2,),
                       num_classes=3, max_frames=4, shuffle=False)
    batch = next(iter(YT8MLoader(str(out / "frame" / "train*.tfrecord"), cfg)))
    assert tuple(batch.frames.shape) == (3, 4, 2) and batch.num_frames.tolist() == [3, 2, 4]
    model = from_preset("dbof", feature_names=("series",), feature_sizes=(2,), num_classes=3,
                        cluster_sizes=(8,), hidden_size=4, n_bagging=1, iterations=3)
    assert torch.isfinite(model(batch.frames, batch.num_frames)).all()
