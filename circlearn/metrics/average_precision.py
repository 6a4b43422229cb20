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


def _order_keys(scores: np.ndarray, composite: bool) -> np.ndarray:
    """uint64 keys ordered like ``scores`` (equal scores, equal keys; -0.0 counts as 0.0).

    ``composite``: keys must fit in 32 bits (float32 scores as their bits, other scores as
    their dense rank) so that a class index can go in the upper half.
    """
    scores = np.asarray(scores)
    if scores.dtype != np.float32:
        as32 = scores.astype(np.float32)
        if np.array_equal(as32, scores):  # float32 (or fewer bits) in disguise: same order
            scores = as32
    if scores.dtype == np.float32:
        bits = (scores + np.float32(0.0)).view(np.uint32).astype(np.uint64)  # +0.0: -0.0 -> 0.0
        return np.where(bits >= 2**31, np.uint64(2**32 - 1) - bits, bits + np.uint64(2**31))
    if composite:
        return np.unique(scores, return_inverse=True)[1].astype(np.uint64).reshape(-1)
    bits = (scores.astype(np.float64) + 0.0).view(np.uint64)
    sign = np.uint64(2**63)
    return np.where(bits >= sign, ~bits, bits | sign)


def _run_lengths(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs."""
    first = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
    return sorted_keys[first], np.diff(np.append(first, sorted_keys.size))


def precision_sums(scores: np.ndarray, labels: np.ndarray, segments: np.ndarray | None = None,
                   num_segments: int = 1) -> np.ndarray:
    """Per segment, the sum over positive entries of the expected precision at their rank.

    ``scores`` (N,), ``labels`` (N,) bool and ``segments`` (N,) ints in ``[0, num_segments)``
    (one ranking per segment, e.g. per class; None: a single ranking). Returns
    (num_segments,) float64; dividing by the segment's positive count gives its AP.

    Only sorted keys are needed, no permutation: every entry gets a uint64 key (segment in the
    upper 32 bits, an order-preserving code of its score below), all keys and the positives'
    keys are sorted, and each tie group holding a positive reads its size ``n``, its positives
    ``p``, the entries ``r0`` and positives ``h0`` above it in its segment from run lengths and
    cumulative sums.
    """
    labels = np.asarray(labels, dtype=bool)
    out = np.zeros(num_segments, dtype=np.float64)
    if not labels.any():
        return out
    keys = _order_keys(scores, composite=segments is not None)
    if segments is not None:
        keys |= np.asarray(segments).astype(np.uint64) << np.uint64(32)
    all_keys, n_all = _run_lengths(np.sort(keys))  # (U,) distinct keys, entries per key
    pos_keys, gpos = _run_lengths(np.sort(keys[labels]))  # (G,) keys holding a positive
    group = np.searchsorted(all_keys, pos_keys)  # (G,) exact matches
    gsize = n_all[group]
    shift = np.uint64(32)
    if segments is None:
        seg_all = np.zeros(all_keys.size, np.uint64)
        seg = np.zeros(pos_keys.size, np.uint64)
    else:
        seg_all, seg = all_keys >> shift, pos_keys >> shift
    # Entries (positives) above a group in its segment: the segment's total up to its last
    # key minus the running total up to the group (keys ascend, so "above" = larger key).
    cum_all = np.cumsum(n_all)
    r0 = cum_all[np.searchsorted(seg_all, seg, side="right") - 1] - cum_all[group]
    cum_pos = np.cumsum(gpos)
    h0 = cum_pos[np.searchsorted(seg, seg, side="right") - 1] - cum_pos
    slope = np.where(gsize > 1, (gpos - 1) / np.maximum(gsize - 1, 1), 0.0)
    # One term per place j = 0..n-1 of every group: (h0 + 1 + j * slope) / (r0 + 1 + j).
    first = np.concatenate([[0], np.cumsum(gsize)[:-1]])
    j = np.arange(gsize.sum()) - np.repeat(first, gsize)
    terms = (np.repeat(h0 + 1, gsize) + j * np.repeat(slope, gsize)) / (np.repeat(r0 + 1, gsize)
                                                                        + j)
    contrib = gpos / gsize * np.add.reduceat(terms, first)
    return np.bincount(seg.astype(np.int64), weights=contrib, minlength=num_segments)


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
                             positives: np.ndarray) -> np.ndarray:
    """AP of every class (C,): each class ranks its own entries; ``positives`` (C,) holds its
    total positive count. A class without positives gets AP 0 (as the reference)."""
    positives = np.asarray(positives)
    sums = precision_sums(scores, labels, np.asarray(classes), positives.size)
    return np.divide(sums, positives, out=np.zeros_like(sums), where=positives > 0)
