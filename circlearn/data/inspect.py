"""Validate YouTube-8M TFRecord files and summarise them (``circlearn data inspect``).

Every record's CRCs and schema are checked; the level (frame: ``SequenceExample``; video:
``Example``) and the feature names come from the first record, the feature sizes from the
first record that has frames; every later record must agree. The first problem raises a
``ValueError`` naming the file and record.
"""

from __future__ import annotations

import numpy as np

from . import protowire as pw
from .tfrecord import read_records
from .yt8m import ID_KEYS, decode_frame_example, decode_video_example

__all__ = ["inspect_file", "format_summary", "record_layout"]


def record_layout(payload: bytes) -> tuple[str, list[str], str]:
    """Level, feature names and id key of one serialized record."""
    tops = {f: (a, b) for f, w, a, b in pw.iter_fields(payload, 0, len(payload)) if w == 2}
    if 2 in tops:
        ctx = pw.parse_map(payload, *tops.get(1, (0, 0)))
        names = sorted(pw.parse_map(payload, *tops[2]))
        level = "frame"
    else:
        ctx = pw.parse_map(payload, *tops.get(1, (0, 0)))
        names = sorted(k for k in ctx if k not in ID_KEYS + ("labels",)
                       and pw.decode_feature(payload, *ctx[k])[0] == "float")
        level = "video"
    id_key = next((k for k in ID_KEYS if k in ctx), "")
    return level, _ordered(names), id_key


def _ordered(names: list[str]) -> list[str]:
    """rgb before audio (the starter code's order), others after, alphabetically."""
    rank = {"rgb": 0, "mean_rgb": 0, "audio": 1, "mean_audio": 1}
    return sorted(names, key=lambda n: (rank.get(n, 2), n))


def inspect_file(path, num_classes: int | None = None, max_ids: int = 5) -> dict:
    """Read every record of ``path`` (CRC and schema checked) and return a summary dict."""
    level, names, id_key = None, [], ""
    sizes: dict[str, int] = {}
    frames, labels, ids = [], [], []
    label_max = -1
    for i, payload in enumerate(read_records(path, verify=True)):
        try:
            if level is None:
                level, names, id_key = record_layout(payload)
            if level == "frame":
                ex = decode_frame_example(payload, names, [sizes.get(n) for n in names],
                                          num_classes, copy=False)
                frames.append(ex.num_frames)
            else:
                ex = decode_video_example(payload, names, [sizes.get(n) for n in names],
                                          num_classes)
            for n in names:
                d = ex.features[n].shape[-1]
                if n not in sizes and (ex.features[n].size or level == "video"):
                    sizes[n] = d
        except ValueError as exc:
            raise ValueError(f"{path}: record {i}: {exc}") from None
        labels.append(ex.labels.size)
        if ex.labels.size:
            label_max = max(label_max, int(ex.labels.max()))
        if len(ids) < max_ids:
            ids.append(ex.id)
    summary = {"path": str(path), "level": level or "empty", "records": len(labels),
               "id_key": id_key, "features": {n: sizes.get(n) for n in names},
               "first_ids": ids, "max_label": label_max}
    for key, values in (("frames", frames), ("labels", labels)):
        if values:
            v = np.asarray(values)
            summary[key] = {"min": int(v.min()), "mean": float(v.mean()), "max": int(v.max())}
    return summary


def format_summary(s: dict) -> str:
    """A few human-readable lines for one file's summary."""
    lines = [f"{s['path']}: {s['records']} records, {s['level']}-level, id key "
             f"{s['id_key'] or '-'}"]
    feats = ", ".join(f"{n} {d if d is not None else '?'}" for n, d in s["features"].items())
    lines.append(f"  features: {feats or '-'}")
    for key, what in (("frames", "frames per video"), ("labels", "labels per video")):
        if key in s:
            m = s[key]
            lines.append(f"  {what}: min {m['min']}, mean {m['mean']:.2f}, max {m['max']}")
    if s["max_label"] >= 0:
        lines.append(f"  largest label id: {s['max_label']}")
    lines.append(f"  first ids: {' '.join(s['first_ids']) or '-'}")
    return "\n".join(lines)
