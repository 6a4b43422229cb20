"""Where a YouTube-8M-format dataset's splits are, and its feature sizes and class count.

``resolve_data(path)`` accepts a dataset root (``DIR``, holding ``frame/``) or its frame
folder (``DIR/frame``, the README's form) or any folder of ``train*``/``validate*``/``test*``
``.tfrecord`` files, and reads, in this order:

1. ``dataset.json`` (written by ``circlearn data synth``) in the folder given, else in its
   parent: ``frame_features``, ``feature_sizes``, ``num_classes``, ``generator_version``;
2. otherwise the **first record** of the first training file with frames (feature names and
   sizes; ``rgb`` before ``audio``) and ``vocabulary.csv`` in the folder or its parent (the
   class count is the largest ``Index`` + 1, as in the official vocabulary).

Anything missing raises an error naming the folder and what was looked for.
``max_frames`` is the longest sequence that ``dataset.json`` records (its splits'
``max_frames``, else the generator's ``config.max_frames``), ``None`` without one.
``test_labels.csv`` (the test split's truth; the test records carry no labels) is found
beside ``dataset.json``/``vocabulary.csv``; baseline GAPs recorded in ``dataset.json`` by
:func:`circlearn.data.synth.cached_dataset` (``"baselines"``) are kept in the layout.
"""

from __future__ import annotations

import csv
import glob
import json
from dataclasses import dataclass
from pathlib import Path

from .inspect import record_layout
from .tfrecord import read_records
from .yt8m import decode_frame_example

__all__ = ["DataLayout", "resolve_data", "sizes_from_records", "classes_from_vocabulary"]


@dataclass(frozen=True)
class DataLayout:
    """A frame-level dataset: its folders, feature names/sizes and class count."""

    root: Path
    frame_dir: Path
    feature_names: tuple[str, ...]
    feature_sizes: tuple[int, ...]
    num_classes: int
    source: str  # where the sizes came from
    test_labels: Path | None = None
    generator_version: int | None = None
    baselines: dict | None = None  # dataset.json's "baselines" ({"validate": …, "test": …})
    max_frames: int | None = None  # the longest sequence dataset.json records, if any

    def pattern(self, split: str) -> str:
        """The glob of a split's frame-level files, e.g. ``<frame_dir>/train*.tfrecord``."""
        return str(self.frame_dir / f"{split}*.tfrecord")

    def has_split(self, split: str) -> bool:
        return bool(glob.glob(self.pattern(split)))

    def files(self, split: str) -> list[Path]:
        return [Path(p) for p in sorted(glob.glob(self.pattern(split)))]


def classes_from_vocabulary(path: Path) -> int:
    """Class count of a ``vocabulary.csv``: largest ``Index`` + 1."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "Index" not in reader.fieldnames:
            raise ValueError(f"{path}: expected an Index column, got {reader.fieldnames}")
        top = -1
        for line, row in enumerate(reader, start=2):
            try:
                top = max(top, int(row["Index"]))
            except (TypeError, ValueError):
                raise ValueError(f"{path}: line {line}: Index {row['Index']!r} is not an "
                                 f"integer") from None
    if top < 0:
        raise ValueError(f"{path}: no class listed")
    return top + 1


def sizes_from_records(files: list[Path]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Feature names and sizes from the first frame-level record that has frames."""
    names = None
    for path in files:
        for i, payload in enumerate(read_records(path)):
            level, found, _ = record_layout(payload)
            if level != "frame":
                raise ValueError(f"{path}: record {i} is {level}-level; --data needs the "
                                 f"frame-level files (SequenceExample)")
            names = names or tuple(found)
            try:
                ex = decode_frame_example(payload, names, [None] * len(names), copy=False)
            except ValueError as exc:
                raise ValueError(f"{path}: record {i}: {exc}") from None
            if ex.num_frames:
                return names, tuple(int(ex.features[n].shape[1]) for n in names)
    raise ValueError(f"no record with frames in {[str(f) for f in files]}: cannot tell the "
                     f"feature sizes; add a dataset.json")


def _longest(meta: Path, info: dict) -> int | None:
    """The longest sequence ``dataset.json`` records: its splits' ``max_frames``, else the
    generator's ``config.max_frames``; ``None`` without either."""
    found = [s.get("max_frames") for s in (info.get("splits") or {}).values()
             if isinstance(s, dict) and s.get("max_frames") is not None]
    if not found and (info.get("config") or {}).get("max_frames") is not None:
        found = [info["config"]["max_frames"]]
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in found):
        raise ValueError(f"{meta}: max_frames must be integers >= 0, got {found}")
    return max(found) if found else None


def resolve_data(path: str | Path) -> DataLayout:
    """The :class:`DataLayout` of ``path`` (see the module docstring)."""
    given = Path(path)
    if not given.is_dir():
        raise FileNotFoundError(f"data folder {given} not found")
    frame_dir = given / "frame" if (given / "frame").is_dir() else given
    if not glob.glob(str(frame_dir / "train*.tfrecord")):
        raise FileNotFoundError(f"no train*.tfrecord in {frame_dir}: --data takes the dataset "
                                f"folder (holding frame/) or its frame-level folder")
    folders = [given] + ([given.parent] if frame_dir == given else [])
    meta = next((f / "dataset.json" for f in folders if (f / "dataset.json").is_file()), None)
    if meta is not None:
        info = json.loads(meta.read_text())
        try:
            sizes = tuple(int(s) for s in info["feature_sizes"])
            names = tuple(info.get("frame_features", ("rgb", "audio")))
            classes = int(info["num_classes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{meta}: needs feature_sizes and num_classes ({exc})") from None
        if len(names) != len(sizes):
            raise ValueError(f"{meta}: {len(names)} frame_features {list(names)} but "
                             f"{len(sizes)} feature_sizes {list(sizes)}")
        root, source, version = meta.parent, str(meta), info.get("generator_version")
        baselines, longest = info.get("baselines"), _longest(meta, info)
    else:
        vocab = next((f / "vocabulary.csv" for f in folders if (f / "vocabulary.csv").is_file()),
                     None)
        if vocab is None:
            raise FileNotFoundError(
                f"cannot tell the class count of {given}: no dataset.json or vocabulary.csv "
                f"in {' or '.join(str(f) for f in folders)}")
        names, sizes = sizes_from_records(sorted(frame_dir.glob("train*.tfrecord")))
        classes = classes_from_vocabulary(vocab)
        root, version, baselines, longest = vocab.parent, None, None, None
        source = f"first record of {frame_dir}/train* and {vocab}"
    labels = root / "test_labels.csv"
    return DataLayout(root=root, frame_dir=frame_dir, feature_names=names, feature_sizes=sizes,
                      num_classes=classes, source=source,
                      test_labels=labels if labels.is_file() else None,
                      generator_version=version, baselines=baselines, max_frames=longest)
