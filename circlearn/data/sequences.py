r"""Your own sequences → a circlearn dataset (the YouTube-8M layout that training reads).

An item is ``(id, labels, {stream: (T, D) float array})``: one sequence of ``T`` steps
("frames") with ``D`` features per stream, and its label ids. :func:`write_sequence_dataset`
turns splits of items into what ``circlearn train``, ``circlearn experiment --data`` and the
loaders read::

    out/frame/<split>0000.tfrecord …   SequenceExample shards (uint8 frames per stream)
    out/video/<split>00.tfrecord …     Example shards: mean_<stream> (float32), as the real data
    out/vocabulary.csv                 Index, TrainVideoCount, …, Name (the 2018 header)
    out/test_labels.csv                VideoId,Labels of the test split (as a generated set's:
                                       experiments score test from it)
    out/dataset.json                   classes, streams and sizes, counts, the statistics used

Preprocessing, "like the real features" (``yt8m.md`` §1.6: PCA-whitened, then quantized with
±2 bounds)::

    mean_c, std_c  per stream and channel c over every frame of the *train* split (NaN-aware;
                   a constant channel gets std 1)
    z = (x - mean_c) / std_c            missing values (NaN) → the train mean, i.e. z = 0
    frames = quantize(z)                = round((clip(z, -2, 2) + 2) · 255/4)  (uint8)

Values beyond ±2 train standard deviations are clipped; ``dataset.json`` records the clipped
fraction per split. ``standardize=False`` skips the scaling (for features already on that
scale) but still fills missing values with the train mean. The other splits use the train
statistics, so nothing about them leaks into preprocessing.

The folder is written next to ``out`` and renamed into place at the end: an error leaves no
half-written dataset. ``out`` must not exist, or be an empty folder.

Example::

    items = [("walk-01", [2], {"imu": np.random.randn(120, 6)}), ...]
    write_sequence_dataset("my_data", {"train": items, "validate": held_out},
                           class_names=["sit", "stand", "walk"])
    # circlearn train --train-dir runs/imu --model dbof --feature-names imu --feature-sizes 6 \
    #     --num-classes 3 --cluster-sizes 64 --hidden-size 32 \
    #     --train-data-pattern 'my_data/frame/train*.tfrecord' \
    #     --eval-data-pattern 'my_data/frame/validate*.tfrecord'
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import atomic_directory
from .yt8m import VideoExample, quantize, video_mean, write_frame_examples, write_video_examples

__all__ = ["SequenceStats", "fit_stats", "preprocess", "write_sequence_dataset", "SPLITS",
           "CLIP"]

SPLITS = ("train", "validate", "test")
#: Quantization bounds of the real features (±2).
CLIP = 2.0

Item = tuple[str, Sequence[int], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class SequenceStats:
    """Per-stream, per-channel train statistics: ``mean[stream]`` and ``std[stream]`` ``(D,)``."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    def to_dict(self) -> dict:
        return {s: {"mean": self.mean[s].tolist(), "std": self.std[s].tolist()}
                for s in self.mean}


def _check_items(split: str, items: Sequence[Item], streams: dict[str, int] | None,
                 num_classes: int | None) -> dict[str, int]:
    """Validate every item; return the streams and their sizes (from the first item)."""
    for i, item in enumerate(items):
        where = f"split {split!r}, item {i}"
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise ValueError(f"{where}: expected (id, labels, {{stream: (T, D) array}}), got "
                             f"{type(item).__name__}")
        vid, labels, feats = item
        if not isinstance(vid, str) or not vid:
            raise ValueError(f"{where}: id must be a non-empty string, got {vid!r}")
        where = f"{where} (id {vid!r})"
        labels = np.asarray(labels)
        if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
            raise ValueError(f"{where}: labels must be a list of integers, got {labels!r}")
        top = num_classes if num_classes is not None else np.iinfo(np.int64).max
        bad = labels[(labels < 0) | (labels >= top)] if labels.size else labels
        if bad.size:
            raise ValueError(f"{where}: label {int(bad[0])} outside [0, "
                             f"{num_classes if num_classes is not None else 'inf'})")
        if not isinstance(feats, Mapping) or not feats:
            raise ValueError(f"{where}: features must be a non-empty "
                             f"{{stream: (T, D) array}} dict")
        sizes = {}
        for name, x in feats.items():
            x = np.asarray(x)
            if x.ndim != 2 or not (np.issubdtype(x.dtype, np.floating) or
                                   np.issubdtype(x.dtype, np.integer)):
                raise ValueError(f"{where}: stream {name!r} must be a numeric (T, D) array, "
                                 f"got {x.dtype} {x.shape}")
            if np.isinf(x).any():
                raise ValueError(f"{where}: stream {name!r} holds infinite values")
            sizes[name] = x.shape[1]
        lengths = {np.asarray(x).shape[0] for x in feats.values()}
        if len(lengths) != 1:
            raise ValueError(f"{where}: streams have different lengths {sorted(lengths)}")
        if streams is None:
            streams = sizes
        elif sizes != streams:
            raise ValueError(f"{where}: streams {sizes} differ from the first item's {streams}")
    return streams or {}


def fit_stats(items: Sequence[Item]) -> SequenceStats:
    """Per-channel mean and standard deviation over every frame of ``items`` (NaN ignored)."""
    mean, std = {}, {}
    streams = list(items[0][2]) if items else []
    for s in streams:
        x = np.concatenate([np.asarray(it[2][s], dtype=np.float64) for it in items])  # (ΣT, D)
        seen = np.sum(~np.isnan(x), axis=0)
        total = np.where(np.isnan(x), 0.0, x).sum(axis=0)
        m = np.divide(total, seen, out=np.zeros(x.shape[1]), where=seen > 0)
        dev = np.where(np.isnan(x), 0.0, x - m)
        var = np.divide((dev ** 2).sum(axis=0), seen, out=np.zeros(x.shape[1]), where=seen > 0)
        sd = np.sqrt(var)
        mean[s], std[s] = m, np.where(sd > 0, sd, 1.0)
    return SequenceStats(mean, std)


def preprocess(features: Mapping[str, np.ndarray], stats: SequenceStats,
               standardize: bool = True) -> tuple[dict[str, np.ndarray], int, int]:
    """``{stream: uint8 (T, D)}``, the number of clipped values and of missing ones filled."""
    out, clipped, missing = {}, 0, 0
    for s, x in features.items():
        x = np.asarray(x, dtype=np.float64)
        nan = np.isnan(x)
        missing += int(nan.sum())
        x = np.where(nan, stats.mean[s], x)
        z = (x - stats.mean[s]) / stats.std[s] if standardize else x
        clipped += int(np.sum(np.abs(z) > CLIP))
        out[s] = quantize(z, CLIP, -CLIP)
    return out, clipped, missing


def _write_vocabulary(path: Path, names: Sequence[str], train_count: np.ndarray) -> None:
    header = ["Index", "TrainVideoCount", "KnowledgeGraphId", "Name", "WikiUrl", "Vertical1",
              "Vertical2", "Vertical3", "WikiDescription"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for k, (name, count) in enumerate(zip(names, train_count)):
            writer.writerow([k, int(count), "", name, "", "", "", "", ""])


def _write_test_labels(path: Path, items: Sequence[Item]) -> None:
    """``VideoId,Labels`` (space-separated label ids) of every test item."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["VideoId", "Labels"])
        for vid, labels, _ in items:
            writer.writerow([vid, " ".join(str(int(k)) for k in np.unique(labels))])


def _check_splits(splits: Mapping[str, Sequence[Item]], shards: int,
                  class_names: Sequence[str] | None,
                  num_classes: int | None) -> tuple[dict[str, int], int, list[str]]:
    """Validate the arguments of :func:`write_sequence_dataset`; return the streams and their
    sizes, the number of classes and the class names."""
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; valid: {', '.join(SPLITS)}")
    if not splits.get("train"):
        raise ValueError("the train split must hold at least one item (its statistics are used)")
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be an integer >= 1, got {shards!r}")
    if class_names is not None:
        if num_classes is not None and num_classes != len(class_names):
            raise ValueError(f"num_classes={num_classes} but {len(class_names)} class_names")
        num_classes = len(class_names)
    streams = None
    for split in SPLITS:
        if split in splits:
            streams = _check_items(split, splits[split], streams, num_classes)
    if num_classes is None:
        num_classes = 1 + max((int(np.max(it[1])) for items in splits.values() for it in items
                               if len(it[1])), default=0)
    names = list(class_names) if class_names is not None else [f"class {k}"
                                                               for k in range(num_classes)]
    ids = [it[0] for items in splits.values() for it in items]
    if len(set(ids)) != len(ids):
        dup = next(v for v in ids if ids.count(v) > 1)
        raise ValueError(f"id {dup!r} appears more than once (ids must be unique)")
    return streams, num_classes, names


def _write_split(tmp: Path, split: str, items: Sequence[Item], stats: SequenceStats,
                 standardize: bool, shards: int, train_count: np.ndarray) -> dict:
    """Preprocess and write one split's frame- and video-level shards under ``tmp``; count the
    train split's labels into ``train_count``; return the split's ``dataset.json`` entry."""
    frame_ex, video_ex, clipped, missing, values = [], [], 0, 0, 0
    for vid, labels, feats in items:
        q, c, m = preprocess(feats, stats, standardize)
        clipped, missing = clipped + c, missing + m
        values += sum(v.size for v in q.values())
        labels = np.unique(np.asarray(labels, dtype=np.int64))
        frame_ex.append(VideoExample(vid, labels, q))
        means = {f"mean_{s}": video_mean(v).astype(np.float32) for s, v in q.items()}
        video_ex.append(VideoExample(vid, labels, means))
        if split == "train":
            train_count[labels] += 1
    n = len(items)
    count = min(shards, n)
    bounds = np.linspace(0, n, count + 1).round().astype(int)
    for i in range(count):
        lo, hi = bounds[i], bounds[i + 1]
        write_frame_examples(tmp / "frame" / f"{split}{i:04d}.tfrecord", frame_ex[lo:hi])
        write_video_examples(tmp / "video" / f"{split}{i:02d}.tfrecord", video_ex[lo:hi])
    lengths = [e.num_frames for e in frame_ex]
    return {"videos": n, "shards": count, "frames": int(sum(lengths)),
            "min_frames": int(min(lengths)), "max_frames": int(max(lengths)),
            "labels": int(sum(e.labels.size for e in frame_ex)),
            "missing_values": missing, "clipped_values": clipped,
            "clipped_fraction": round(clipped / values, 6) if values else 0.0}


def write_sequence_dataset(out, splits: Mapping[str, Sequence[Item]], *,
                           class_names: Sequence[str] | None = None,
                           num_classes: int | None = None, shards: int = 1,
                           standardize: bool = True, source: dict | None = None) -> dict:
    """Write ``splits`` (``{"train": items, "validate": items, "test": items}``) under ``out``.

    ``class_names`` (or ``num_classes``; default: one more than the largest label) fixes the
    classes; ``shards`` files per split. Returns the ``dataset.json`` summary. See the module
    docstring for the layout and the preprocessing.
    """
    out = Path(out)
    streams, num_classes, names = _check_splits(splits, shards, class_names, num_classes)
    stats = fit_stats(splits["train"])
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: choose a new --out")
    with atomic_directory(out) as tmp:
        summary = {"source": source or {}, "num_classes": num_classes,
                   "frame_features": list(streams),
                   "video_features": [f"mean_{s}" for s in streams],
                   "feature_sizes": list(streams.values()), "classes": names,
                   "preprocessing": {"standardize": standardize, "clip": CLIP,
                                     "statistics": "train split", "missing": "train mean",
                                     "stats": stats.to_dict()},
                   "splits": {}}
        train_count = np.zeros(num_classes, dtype=np.int64)
        for split in SPLITS:
            items = splits.get(split)
            if items:
                summary["splits"][split] = _write_split(tmp, split, items, stats, standardize,
                                                        shards, train_count)
        _write_vocabulary(tmp / "vocabulary.csv", names, train_count)
        if splits.get("test"):
            _write_test_labels(tmp / "test_labels.csv", splits["test"])
        (tmp / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
