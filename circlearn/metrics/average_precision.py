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


def _ordered_bits(scores: np.ndarray) -> np.ndarray:
    """uint64 keys ordered like the float ``scores`` (-0.0 counts as 0.0; no NaN): the sign
    bit is set on non-negative numbers and every bit of negative ones is flipped."""
    width = scores.dtype.itemsize * 8
    bits = (scores + scores.dtype.type(0)).view(f"u{width // 8}")  # own copy; -0.0 -> 0.0
    uint = bits.dtype.type
    mask = bits >> uint(width - 1)  # 1 on negative numbers
    np.negative(mask, out=mask)  # all ones on negative numbers (unsigned wrap-around)
    mask |= uint(1 << (width - 1))
    bits ^= mask
    return bits.astype(np.uint64, copy=False)


def _segment_keys(scores: np.ndarray, segments: np.ndarray, num_segments: int
                  ) -> tuple[np.ndarray, int, np.ndarray]:
    """uint64 keys ordered by (segment, score), equal exactly when both are, the bit shift
    that recovers the segment (``key >> shift``), and the keys sorted.

    float32 scores: segment << 32 | score bits. Wider scores: the segment takes the top
    ``b = bit_length(num_segments - 1)`` bits and the score its top ``64 - b`` bits; that is
    exact unless two distinct scores of one segment agree in those bits (relative gap below
    ~2^(b-53)). Checked where sorted keys repeat: if some repeated key holds distinct scores,
    the scores are replaced by their dense rank (a full sort).
    """
    seg = np.asarray(segments).astype(np.uint64)
    if scores.dtype == np.float32:
        keys = (seg << np.uint64(32)) | _ordered_bits(scores)
        return keys, 32, np.sort(keys)
    scores = scores.astype(np.float64, copy=False)
    b = max(1, int(num_segments - 1).bit_length())
    keys = (seg << np.uint64(64 - b)) | (_ordered_bits(scores) >> np.uint64(b))
    ranked = np.sort(keys)
    repeated = ranked[1:][ranked[1:] == ranked[:-1]]  # keys of ties or truncation collisions
    if repeated.size:
        members = np.flatnonzero(np.isin(keys, repeated))  # entries holding a repeated key
        pairs = np.lexsort((scores[members] + 0.0, keys[members]))  # by key, then score
        k, v = keys[members][pairs], scores[members][pairs] + 0.0  # -0.0 counts as 0.0
        if np.any((k[1:] == k[:-1]) & (v[1:] != v[:-1])):
            rank = np.unique(scores, return_inverse=True)[1].reshape(-1).astype(np.uint64)
            keys = (seg << np.uint64(32)) | rank
            return keys, 32, np.sort(keys)
    return keys, 64 - b, ranked


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

    Only sorted keys are needed, no permutation: every entry gets a key ordered by (segment,
    score) (the score itself for a single ranking), all keys and the positives' keys are
    sorted, and each tie group holding a positive reads its size ``n``, its positives ``p``,
    the entries ``r0`` and positives ``h0`` above it in its segment from run lengths and
    cumulative sums.
    """
    labels = np.asarray(labels, dtype=bool)
    out = np.zeros(num_segments, dtype=np.float64)
    if not labels.any():
        return out
    scores = np.asarray(scores)
    if scores.dtype.kind != "f" or scores.dtype.itemsize < 4:
        scores = scores.astype(np.float64)
    if segments is None:
        keys = scores  # floats compare exactly, -0.0 == 0.0
        sorted_keys = np.sort(keys)
    else:
        keys, shift, sorted_keys = _segment_keys(scores, segments, num_segments)
    all_keys, n_all = _run_lengths(sorted_keys)  # (U,) distinct keys, entries per key
    pos_keys, gpos = _run_lengths(np.sort(keys[labels]))  # (G,) keys holding a positive
    group = np.searchsorted(all_keys, pos_keys)  # (G,) exact matches
    gsize = n_all[group]
    # Entries (positives) above a group in its segment: the segment's total up to its last
    # key minus the running total up to the group (keys ascend, so "above" = larger key).
    cum_all, cum_pos = np.cumsum(n_all), np.cumsum(gpos)
    if segments is None:
        seg = np.zeros(pos_keys.size, np.int64)
        r0, h0 = cum_all[-1] - cum_all[group], cum_pos[-1] - cum_pos
    else:
        seg_all = (all_keys >> np.uint64(shift)).astype(np.int64)
        seg = (pos_keys >> np.uint64(shift)).astype(np.int64)
        last_all = np.cumsum(np.bincount(seg_all, minlength=num_segments)) - 1  # per segment
        last_pos = np.cumsum(np.bincount(seg, minlength=num_segments)) - 1
        r0 = cum_all[last_all[seg]] - cum_all[group]
        h0 = cum_pos[last_pos[seg]] - cum_pos
    slope = np.where(gsize > 1, (gpos - 1) / np.maximum(gsize - 1, 1), 0.0)
    # One term per place j = 0..n-1 of every group: (h0 + 1 + j * slope) / (r0 + 1 + j).
    first = np.concatenate([[0], np.cumsum(gsize)[:-1]])
    j = np.arange(gsize.sum()) - np.repeat(first, gsize)
    terms = (np.repeat(h0 + 1, gsize) + j * np.repeat(slope, gsize)) / (np.repeat(r0 + 1, gsize)
                                                                        + j)
    contrib = gpos / gsize * np.add.reduceat(terms, first)
    return np.bincount(seg, weights=contrib, minlength=num_segments)


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
