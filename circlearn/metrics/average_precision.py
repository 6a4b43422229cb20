"""Non-interpolated average precision of pooled (score, label) entries, with exact tie handling.

For entries sorted by descending score, with ``M`` ground-truth positives (possibly more than
the positives present among the entries),

    AP = (1 / M) * sum over positive ranks i of  P@i,    P@i = (positives in ranks 1..i) / i.

**Ties.** The YouTube-8M reference shuffles the entries with a fixed seed and then sorts them
stably, so tied scores take one pseudo-random order that depends on how the entries were
accumulated (batch order, heap layout, number of processes). Here every tie group is scored by
the **expectation over all orders of the tied entries**: the shuffle's value averaged over
seeds, independent of accumulation order, batching and process count. A tie group of ``n``
entries holding ``p`` positives, after ``r0`` entries of which ``h0`` are positive, contributes

    (p / n) * sum_{j=1..n} (h0 + 1 + (j - 1) * (p - 1) / (n - 1)) / (r0 + j)

(for ``n = 1`` this is ``label * (h0 + 1) / (r0 + 1)``, the usual term), because the entry at
place ``j`` of the group is positive with probability ``p / n`` and, given that, the expected
number of positives before it inside the group is ``(j - 1)(p - 1)/(n - 1)``. On tie-free
input the result is the reference's, up to floating-point rounding.

>>> import numpy as np
>>> average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]))  # (1 + 2/3)/2
0.8333...
>>> average_precision(np.array([0.5, 0.5]), np.array([False, True]))  # (1 + 1/2) / 2
0.75
"""

from __future__ import annotations

import numpy as np

__all__ = ["precision_sums", "average_precision", "class_average_precisions"]


def precision_sums(scores: np.ndarray, labels: np.ndarray, segments: np.ndarray | None = None,
                   num_segments: int = 1, *, descending: np.ndarray | None = None) -> np.ndarray:
    """Per segment, the sum over positive entries of the expected precision at their rank.

    ``scores`` (N,), ``labels`` (N,) bool and ``segments`` (N,) ints in ``[0, num_segments)``
    (one ranking per segment, e.g. per class; None: a single ranking). Returns
    (num_segments,) float64; dividing by the segment's positive count gives its AP.
    ``descending``: a precomputed ``np.argsort(scores)[::-1]`` to reuse (any order of ties).
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels, dtype=bool)
    out = np.zeros(num_segments, dtype=np.float64)
    if scores.size == 0:
        return out
    # Descending; the order inside a tie group is irrelevant.
    order = np.argsort(scores)[::-1] if descending is None else descending
    if segments is not None:
        order = order[np.argsort(segments[order], kind="stable")]
        seg = segments[order]
    else:
        seg = np.zeros(scores.size, dtype=np.int64)
    s, y = scores[order], labels[order]
    n_all = s.size
    new_seg = np.empty(n_all, dtype=bool)
    new_seg[0] = True
    np.not_equal(seg[1:], seg[:-1], out=new_seg[1:])
    new_grp = new_seg.copy()
    new_grp[1:] |= s[1:] != s[:-1]
    gstart = np.flatnonzero(new_grp)  # (G,) first position of each tie group
    gsize = np.diff(np.append(gstart, n_all))
    before = np.concatenate([[0], np.cumsum(y, dtype=np.int64)])  # positives before position
    gpos = before[gstart + gsize] - before[gstart]
    keep = gpos > 0  # groups without a positive contribute nothing
    gstart, gsize, gpos = gstart[keep], gsize[keep], gpos[keep]
    if gstart.size == 0:
        return out
    seg_first = np.flatnonzero(new_seg)[np.cumsum(new_seg)[gstart] - 1]  # segment start
    r0 = gstart - seg_first  # entries ranked before the group in its segment
    h0 = before[gstart] - before[seg_first]  # positives ranked before the group
    slope = np.where(gsize > 1, (gpos - 1) / np.maximum(gsize - 1, 1), 0.0)
    # One term per place j = 0..n-1 of every kept group: (h0 + 1 + j * slope) / (r0 + 1 + j).
    first = np.concatenate([[0], np.cumsum(gsize)[:-1]])
    j = np.arange(gsize.sum()) - np.repeat(first, gsize)
    terms = (np.repeat(h0 + 1, gsize) + j * np.repeat(slope, gsize)) / (np.repeat(r0 + 1, gsize)
                                                                        + j)
    contrib = gpos / gsize * np.add.reduceat(terms, first)
    return np.bincount(seg[gstart], weights=contrib, minlength=num_segments)


def average_precision(scores: np.ndarray, labels: np.ndarray,
                      num_positives: int | None = None) -> float:
    """Non-interpolated AP of one pooled ranking; 0.0 when there is no positive.

    ``num_positives`` defaults to ``labels.sum()``; pass the true total (GAP passes every
    positive of the label matrix, also those outside the videos' top k).
    """
    labels = np.asarray(labels, dtype=bool)
    total = int(labels.sum()) if num_positives is None else int(num_positives)
    if total < int(labels.sum()):
        raise ValueError(f"num_positives={total} is below the {int(labels.sum())} positive "
                         "labels given")
    if total == 0:
        return 0.0
    return float(precision_sums(scores, labels)[0] / total)


def class_average_precisions(scores: np.ndarray, classes: np.ndarray, labels: np.ndarray,
                             positives: np.ndarray, *, descending: np.ndarray | None = None
                             ) -> np.ndarray:
    """AP of every class (C,): each class ranks its own entries; ``positives`` (C,) holds its
    total positive count. A class without positives gets AP 0 (as the reference)."""
    positives = np.asarray(positives)
    sums = precision_sums(scores, labels, np.asarray(classes), positives.size,
                          descending=descending)
    return np.divide(sums, positives, out=np.zeros_like(sums), where=positives > 0)
