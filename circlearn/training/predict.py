"""Predictions in the Kaggle YouTube-8M format (``yt8m.md`` §1.9, §2.2 ``inference.py``).

The file is a CSV with header ``VideoId,LabelConfidencePairs``; each row holds a video id
and its top ``k`` (20) classes as ``"label confidence label confidence ..."``, sorted by
decreasing confidence (ties: lower class index first), confidences with 6 decimals. With a
vocabulary (``vocabulary.csv``: ``Index``, ``Name`` columns), a third column ``LabelNames``
lists the same classes' names separated by ``"; "`` (for people; leave it out of a
submission).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from circlearn.data.batch import Batch
from circlearn.training.evaluation import model_inputs

__all__ = ["predict_top_k", "write_predictions", "read_predictions", "read_vocabulary",
           "HEADER"]

HEADER = ("VideoId", "LabelConfidencePairs")


@torch.no_grad()
def predict_top_k(model: torch.nn.Module, batches: Iterable[Batch], top_k: int = 20,
                  device="cpu") -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(video_id, classes (k,), confidences (k,))`` per video, best first."""
    model.eval()
    for batch in batches:
        probs = model(*model_inputs(batch, device)).float().cpu().numpy()  # (B, C)
        k = min(top_k, probs.shape[1])
        for vid, p in zip(batch.ids, probs):
            order = np.lexsort((np.arange(p.size), -p))[:k]  # by -score, then class index
            yield vid, order, p[order]


def read_vocabulary(path: str | os.PathLike, num_classes: int | None = None) -> list[str]:
    """Class names by index from ``vocabulary.csv``; checks the count against the model."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary {path} not found")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"Index", "Name"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected columns Index and Name, got {reader.fieldnames}")
        names = {int(row["Index"]): row["Name"] for row in reader}
    if num_classes is not None and sorted(names) != list(range(num_classes)):
        raise ValueError(f"{path} has {len(names)} classes (indices {min(names, default=0)}.."
                         f"{max(names, default=-1)}) but the model has {num_classes}")
    return [names[i] for i in range(len(names))]


def write_predictions(path: str | os.PathLike, rows: Iterable[tuple[str, np.ndarray, np.ndarray]],
                      vocabulary: list[str] | None = None) -> int:
    """Write the CSV (see the module docstring); returns the number of videos."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise FileNotFoundError(f"output directory {path.parent} does not exist")
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER + (("LabelNames",) if vocabulary is not None else ()))
        for vid, classes, scores in rows:
            pairs = " ".join(f"{int(c)} {float(s):.6f}" for c, s in zip(classes, scores))
            row = [vid, pairs]
            if vocabulary is not None:
                row.append("; ".join(vocabulary[int(c)] for c in classes))
            writer.writerow(row)
            n += 1
    return n


def read_predictions(path: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Parse and validate a predictions CSV: ``{video_id: [(label, confidence), ...]}``."""
    out: dict[str, list[tuple[int, float]]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = tuple(next(reader, ()))
        if header[:2] != HEADER:
            raise ValueError(f"{path}: header must start with {','.join(HEADER)}, got {header}")
        for line, row in enumerate(reader, start=2):
            tokens = row[1].split()
            if len(tokens) % 2:
                raise ValueError(f"{path}:{line}: odd number of label/confidence tokens")
            pairs = [(int(a), float(b)) for a, b in zip(tokens[::2], tokens[1::2])]
            if any(p[1] < q[1] for p, q in zip(pairs, pairs[1:])):
                raise ValueError(f"{path}:{line}: confidences not sorted in decreasing order")
            if row[0] in out:
                raise ValueError(f"{path}:{line}: duplicate video id {row[0]!r}")
            out[row[0]] = pairs
    return out
