"""One-shot metrics on a whole ``(videos, classes)`` matrix (no distributed reduction).

Each function checks its inputs like :class:`~circlearn.metrics.EvaluationMetrics` and
computes the same value as accumulating everything in one batch. The 3 x 4 oracle of
``yt8m.md`` §2.4:

>>> P = [[.9, .8, .1, .05], [.2, .7, .6, .1], [.3, .1, .95, .4]]
>>> Y = [[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 1, 0]]
>>> hit_at_one(P, Y), round(perr(P, Y), 5)
(1.0, 0.83333)
>>> round(gap(P, Y, top_k=2), 5), round(gap(P, Y, top_k=4), 5)
(0.71, 0.79333)
>>> mean_average_precision(P, Y, top_k=2)
0.625
"""

from __future__ import annotations

import math

import numpy as np

from .average_precision import average_precision, class_average_precisions
from .selection import summarize_batch

__all__ = ["gap", "hit_at_one", "perr", "mean_average_precision", "reduce_map"]


def gap(predictions, labels, top_k: int = 20) -> float:
    """GAP@k: AP of the pooled top-k (score, label) entries of every video.

    The denominator is the number of positives of the whole label matrix, including positives
    outside every top k; 0.0 when there is none.
    """
    s = summarize_batch(predictions, labels, top_k)
    return average_precision(s.scores.ravel(), s.labels.ravel(), int(s.positives.sum()))


def hit_at_one(predictions, labels) -> float:
    """Share of videos whose highest-scored class is a positive (lowest index among ties,
    as ``numpy.argmax``)."""
    s = summarize_batch(predictions, labels, 1)
    return float(s.hits.sum() / s.hits.size)


def perr(predictions, labels) -> float:
    """Precision at equal recall rate: per video with ``L`` labels, the share of its top-L
    classes that are positive **and** scored > 0; a video without labels counts as 0.
    Ties at the L-th place count with their expected share."""
    s = summarize_batch(predictions, labels, 1)
    return math.fsum(s.perr) / s.perr.size


def reduce_map(aps: np.ndarray, positives: np.ndarray, filter_empty_classes: bool) -> float:
    """Mean of per-class APs: over classes with a positive (the 2019 reference), or over all
    classes with AP 0 for empty ones (``filter_empty_classes=False``, the 2017 code and the
    paper's). NaN when filtering leaves no class (``numpy.mean`` of nothing, as the reference)."""
    if filter_empty_classes:
        keep = np.asarray(positives) > 0
        return float(aps[keep].mean()) if keep.any() else math.nan
    return float(aps.mean())


def mean_average_precision(predictions, labels, top_k: int = 20,
                           filter_empty_classes: bool = True) -> float:
    """mAP: each class ranks the entries of the videos' top-k lists that name it; its AP
    divides by its positives in the whole label matrix; see :func:`reduce_map` for the mean."""
    s = summarize_batch(predictions, labels, top_k)
    aps = class_average_precisions(s.scores.ravel(), s.classes.ravel(), s.labels.ravel(),
                                   s.positives)
    return reduce_map(aps, s.positives, filter_empty_classes)
