"""Compiled (numba) per-batch kernels of the metrics: every video's top entries in one pass
over its scores, and the label counts of a boolean label matrix in one pass.

Used by :mod:`circlearn.metrics.selection` when numba is importable (``HAVE_NUMBA``); the NumPy
chunked selection there is the fallback and the twin the tests tie these kernels to.

Top entries (:func:`top_entries`), row by row. The candidates are the scores ``>= t`` for a
threshold ``t``; they enter, in class order, a buffer of ``kk`` entries kept sorted descending
by insertion (a score goes after the buffered scores ``>= it``; once the buffer is full only
scores above its last one enter, and the threshold rises to that last one). If at least
``kk`` scores reach ``t``, the top ``kk`` all do, so the buffer is exact. ``t`` is first a
guess, the previous row's ``kk``-th score minus the spread between its ``(kk/2)``-th and
``kk``-th scores; when fewer than ``kk`` scores reach it, the row is scanned again from a proven
lower bound, the ``kk``-th largest maximum of ``lanes >= kk`` disjoint strided lanes of the row.
Scores are read in blocks of ``_BLOCK``: a block whose scores are all ``< t`` costs one
vectorized count, and the next row is prefetched meanwhile.

Tie rule, as the stable sort of the NumPy path: among equal scores the lowest classes are kept,
and first. ``NaN`` is never ``< t``, so it reaches the one-by-one scan, which reports the row.

The kernels release the GIL (``nogil``): :func:`selection.summarize_batch` runs them on several
threads over disjoint rows. They are compiled on first use per score dtype (a few seconds) and
cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np

try:
    import numba
    from llvmlite import binding as _llvm
    from llvmlite import ir as _ir
    from numba.core import cgutils as _cgutils
    from numba.core import types as _types
    from numba.extending import intrinsic as _intrinsic
except ImportError:  # the NumPy path in selection.py takes over
    numba = None

__all__ = ["HAVE_NUMBA", "top_entries", "bool_label_counts", "entry_labels"]

HAVE_NUMBA = numba is not None
_BLOCK = 16  # scores tested together against the bound
_LANES_PER_ENTRY = 2  # lanes of the bound per kept entry (2 and 4 measured alike)


def _njit(fn):
    return numba.njit(cache=True, nogil=True)(fn) if HAVE_NUMBA else fn


if HAVE_NUMBA:
    @_intrinsic
    def _prefetch(typingctx, arr, i):
        """Hint the CPU to fetch ``arr[i]``'s cache line (``llvm.prefetch``: read, keep)."""
        sig = _types.void(arr, _types.intp)

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = _cgutils.get_item_pointer(context, builder, signature.args[0], ary,
                                            [args[1]], wraparound=False)
            i8p, i32 = _ir.IntType(8).as_pointer(), _ir.IntType(32)
            name = "llvm.prefetch.p0" if _llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"
            fn = _cgutils.get_or_insert_function(
                builder.module, _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32]), name)
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()
        return sig, codegen
else:
    def _prefetch(arr, i):  # plain Python kernels (tests without numba): no hint
        pass


@_njit
def _lane_bound(row, kk, lane_max, best):
    """A lower bound of the kk-th largest score of ``row``: the kk-th largest maximum over
    ``lanes = lane_max.size`` (>= kk) disjoint strided lanes (column j in lane j % lanes), as
    kk distinct scores reach it. Vectorizes across lanes; NaN is skipped (the scan catches
    it)."""
    lanes = lane_max.size
    n_cols = row.size
    full = n_cols // lanes * lanes
    for q in range(lanes):
        lane_max[q] = row[q]
    for j in range(lanes, full, lanes):
        for q in range(lanes):
            s = row[j + q]
            lane_max[q] = s if s > lane_max[q] else lane_max[q]
    for j in range(full, n_cols):
        s = row[j]
        q = j - full
        lane_max[q] = s if s > lane_max[q] else lane_max[q]
    n = 0
    for q in range(lanes):  # kk largest lane maxima, by insertion
        s = lane_max[q]
        if n < kk or s > best[kk - 1]:
            p = n if n < kk else kk - 1
            while p > 0 and best[p - 1] < s:
                best[p] = best[p - 1]
                p -= 1
            best[p] = s
            n = min(n + 1, kk)
    return best[kk - 1]


@_njit
def _admit(row, j0, j1, t, kk, n, v, ix):
    """Scan ``row[j0:j1]`` in class order into the descending buffer ``v``/``ix`` holding
    ``n`` entries: while it holds fewer than kk, every score >= t enters; then only those
    above its last; equal scores go after the buffered ones. Returns the new ``n``, or -1 on
    NaN."""
    for q in range(j0, j1):
        s = row[q]
        if s < t:
            continue
        if s != s:
            return -1
        if n < kk:
            p = n
            n += 1
        elif s > v[kk - 1]:
            p = kk - 1
        else:
            continue
        while p > 0 and v[p - 1] < s:
            v[p] = v[p - 1]
            ix[p] = ix[p - 1]
            p -= 1
        v[p] = s
        ix[p] = q
    return n


@_njit
def _scan(row, nxt, t, kk, v, ix):
    """The top kk scores of ``row`` among those >= t into ``v``/``ix`` (descending, lowest
    class first among equal scores). Returns how many were found (< kk: t was above the kk-th
    largest score), or -1 on NaN. Blocks of scores all < the running threshold (t, then the
    buffer's last value once it holds kk) are skipped after one vectorized count."""
    n_cols = row.size
    n_blocks = n_cols // _BLOCK
    n = 0
    for b in range(n_blocks):
        _prefetch(nxt, b * _BLOCK)
        _prefetch(nxt, b * _BLOCK + _BLOCK // 2)
        low = 0
        for q in range(_BLOCK):  # vectorized
            low += row[b * _BLOCK + q] < t
        if low != _BLOCK:
            n = _admit(row, b * _BLOCK, (b + 1) * _BLOCK, t, kk, n, v, ix)
            if n < 0:
                return -1
            if n == kk and v[kk - 1] > t:
                t = v[kk - 1]
    return _admit(row, n_blocks * _BLOCK, n_cols, t, kk, n, v, ix)


@_njit
def _top_rows(x, kk, lanes, vals, idx):
    """Fill ``vals`` (B, kk) / ``idx`` (B, kk) with every row's top ``kk`` scores of ``x``
    (B, C), descending, lowest class first among equal scores. Returns the first row holding a
    NaN, or -1. ``lanes`` (kk <= lanes <= C): see :func:`_lane_bound`.

    A row is first scanned from a guess (previous row's kk-th score minus the spread between
    its (kk/2)-th and kk-th scores): if at least kk scores reach the guess, the result is exact
    (the top kk are all >= it); otherwise the row is scanned again from the lane bound, a
    proven lower bound. The guess only saves work on rows alike."""
    n_rows, n_cols = x.shape
    lane_max = np.empty(lanes, dtype=x.dtype)
    best = np.empty(kk, dtype=x.dtype)
    guess = np.nan
    for r in range(n_rows):
        row = x[r]
        nxt = x[min(r + 1, n_rows - 1)]  # fetched into the cache during this row's scan
        v = vals[r]
        ix = idx[r]
        n = -2
        if guess == guess:
            n = _scan(row, nxt, guess, kk, v, ix)
        if n == -1:
            return r
        if n < kk:
            n = _scan(row, nxt, _lane_bound(row, kk, lane_max, best), kk, v, ix)
            if n < 0:
                return r
        guess = v[kk - 1] - (v[kk // 2] - v[kk - 1])
    return -1


@_njit
def _bool_counts(flat, words, n_cols, per_row, per_class):
    """Add the positives of the flattened (rows * n_cols,) 0/1 bytes ``flat`` to ``per_row``
    and ``per_class``; ``words`` views the first ``8 * words.size`` bytes as uint64, so zero
    words are skipped at once."""
    for w in range(words.size):
        if words[w] != 0:
            for b in range(8 * w, 8 * w + 8):
                if flat[b] != 0:
                    per_row[b // n_cols] += 1
                    per_class[b % n_cols] += 1
    for b in range(8 * words.size, flat.size):
        if flat[b] != 0:
            per_row[b // n_cols] += 1
            per_class[b % n_cols] += 1


@_njit
def _entry_labels(v, i, flat, n_cols, L, k, labk, hits, perr, flag):
    n_rows, kk = v.shape
    for r in range(n_rows):
        base = r * n_cols
        sure = 0
        for s in range(kk):
            lab = flat[base + i[r, s]] != 0
            labk[r, s] = lab
            sure += lab and v[r, s] > 0 and s < L[r]
        hits[r] = labk[r, 0]
        perr[r] = sure / max(L[r], 1)
        tied = kk >= 2 and v[r, 0] == v[r, 1]
        tied |= k < kk and v[r, k - 1] == v[r, k]
        at = min(L[r], kk - 1)
        tied |= 0 < L[r] < kk and v[r, max(at - 1, 0)] == v[r, at]
        flag[r] = tied


def entry_labels(v: np.ndarray, i: np.ndarray, y: np.ndarray, L: np.ndarray, k: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From every row's top entries ``v``/``i`` (B, kk) descending, the boolean labels ``y``
    (B, C), the label counts ``L`` (B,) and ``k <= kk``: the entries' labels (B, kk) bool,
    Hit@1 (B,) bool, PERR (B,) float64 (top-L positives scored > 0, over max(L, 1)) and the
    rows with a tie that matters (B,) bool: at the top-1 place, the k-th place or the L-th
    place. Equal to the NumPy expressions in :func:`selection._entry_stats`."""
    n_rows, kk = v.shape
    labk = np.empty((n_rows, kk), dtype=np.bool_)
    hits = np.empty(n_rows, dtype=np.bool_)
    perr = np.empty(n_rows, dtype=np.float64)
    flag = np.empty(n_rows, dtype=np.bool_)
    flat = np.ascontiguousarray(y).reshape(-1).view(np.uint8)
    _entry_labels(np.ascontiguousarray(v), np.ascontiguousarray(i), flat, y.shape[1],
                  np.ascontiguousarray(L, dtype=np.int64), k, labk, hits, perr, flag)
    return labk, hits, perr, flag


def top_entries(x: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Top ``kk`` (1 <= kk <= C) scores of every row of the C-contiguous float ``x`` (B, C):
    ``(values (B, kk) descending, classes (B, kk) int64, nan_row)``; among equal scores the
    lowest classes, first; ``nan_row`` is the first row holding a NaN (then the outputs are
    partial) or -1."""
    n_rows, n_cols = x.shape
    if not 1 <= kk <= n_cols:
        raise ValueError(f"kk must be in [1, {n_cols}], got {kk}")
    vals = np.empty((n_rows, kk), dtype=x.dtype)
    idx = np.empty((n_rows, kk), dtype=np.int64)
    lanes = min(n_cols, _LANES_PER_ENTRY * kk)
    nan_row = _top_rows(np.ascontiguousarray(x), kk, lanes, vals, idx)
    return vals, idx, int(nan_row)


def bool_label_counts(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives per row (B,) and per column (C,), int64, of the boolean matrix ``y`` (B, C)."""
    n_rows, n_cols = y.shape
    per_row = np.zeros(n_rows, dtype=np.int64)
    per_class = np.zeros(n_cols, dtype=np.int64)
    flat = np.ascontiguousarray(y).reshape(-1).view(np.uint8)
    words = flat[:flat.size // 8 * 8].view(np.uint64)
    _bool_counts(flat, words, n_cols, per_row, per_class)
    return per_row, per_class
