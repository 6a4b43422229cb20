"""Per-batch work of the metrics: check the inputs, pick each video's top entries, and reduce
what needs no pooling (Hit@1, PERR, positives per class).

A batch of ``B`` videos and ``C`` classes becomes a :class:`BatchSummary` whose size is
``O(B * k + C)``: the ``(B, C)`` arrays are read, never kept.

Fast path (NumPy, CPU). The top ``kk = max(k, max labels per video) + 1`` entries of a row
are found without sorting the row: the ``C`` columns are dealt into ``m = C // cs`` strided
chunks (chunk ``j`` holds columns ``j, j + m, j + 2m, ...``; the last ``C - m * cs`` columns
are always candidates). Whenever the rows are tie-free, the chunks that hold a row's top
``kk`` are among the ``kk`` chunks with the largest maxima, and every other chunk's maximum is
below the ``kk``-th value; rows where this check fails (ties) and rows with a tie that
matters are recomputed by a stable full sort. When numba is importable, a compiled one-pass
selection (:mod:`circlearn.metrics.kernels`, exact, same tie rule) replaces the chunked one
and counts boolean labels (backend ``"numba"``; ``"numpy"`` forces the NumPy path, the twin
the tests tie it to). On other devices ``torch.topk`` does the
selection on the device; only ``(B, kk)`` arrays (and any tied rows) move to the CPU.
"""

from __future__ import annotations

import math
import numbers
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from . import kernels

__all__ = ["BatchSummary", "summarize_batch", "check_top_k"]

_MIN_ROWS_PER_THREAD = 128  # below this, thread start-up costs more than it saves
_BLOCK_BYTES = 1 << 22  # rows selected together: their scores stay in cache for the gather


@dataclass
class BatchSummary:
    """What one batch contributes to every metric (``B`` videos, ``k`` entries kept per video).

    scores (B, k) float, each row descending; classes (B, k) int class indices; labels (B, k)
    bool; positives (C,) int64 positives per class over the **full** label matrix; hits (B,)
    bool, is the top-1 class a positive; perr (B,) float64, per-video PERR (0 for no label).
    """

    scores: np.ndarray
    classes: np.ndarray
    labels: np.ndarray
    positives: np.ndarray
    hits: np.ndarray
    perr: np.ndarray


def check_top_k(top_k) -> int:
    """Return ``top_k`` as an int, or raise ValueError unless it is a positive integer."""
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    return int(top_k)


def _bad_label_error(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> ValueError:
    bad = np.flatnonzero(values != 1)[0]
    return ValueError(f"labels must be 0 or 1; found {values[bad].item()!r} at video {rows[bad]}, "
                      f"class {cols[bad]}")


def _nan_error(x) -> ValueError:
    r, c = (int(v) for v in np.argwhere(np.isnan(np.asarray(x)))[0])
    return ValueError(f"predictions contain NaN (first at video {r}, class {c})")


def _label_positions(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every positive of the 0/1 matrix ``y`` (ValueError otherwise)."""
    num_classes = y.shape[1]
    if y.dtype == np.bool_:
        flat = y.reshape(-1)
        n8 = flat.size // 8 * 8
        # Labels are sparse: scan 8 bytes at a time, expand only the nonzero words.
        words = np.flatnonzero(flat[:n8].view(np.uint64))
        pos = (words[:, None] * 8 + np.arange(8)).reshape(-1)
        idx = np.concatenate([pos[flat[pos]], n8 + np.flatnonzero(flat[n8:])])
        return np.divmod(idx, num_classes)
    idx = np.flatnonzero(y)
    values = y.reshape(-1)[idx]
    rows, cols = np.divmod(idx, num_classes)
    if not np.all(values == 1):
        raise _bad_label_error(values, rows, cols)
    return rows, cols


def _block_candidates(x: np.ndarray, kk: int, cs: int, m: int, cand: np.ndarray,
                      chunks: np.ndarray, inexact: np.ndarray) -> bool:
    """Fill ``cand`` (b, nc) with the values of the kk chunks of highest maximum of every row
    of ``x`` (b, C), then the tail columns; ``chunks`` (b, kk) with those chunks, ascending;
    flag in ``inexact`` the rows whose chunk maxima tie at the kk-th place. False on NaN."""
    b = x.shape[0]
    x3 = x[:, :m * cs].reshape(b, cs, m)  # chunk j of a row: columns j + m * i, i < cs
    x3t = torch.from_numpy(x3)  # shares x's memory
    cmax = x3t.amax(1).numpy()  # (b, m); NaN propagates
    tail = x[:, m * cs:]  # (b, C - m * cs) in no chunk: always candidates
    if np.isnan(cmax).any() or np.isnan(tail).any():
        return False
    t = np.partition(cmax, m - kk, axis=1)[:, m - kk:m - kk + 1]  # (b, 1) kk-th chunk max
    reach = cmax >= t  # (b, m)
    sel = np.flatnonzero(reach)
    if sel.size == b * kk:
        chunks[:] = (sel % m).reshape(b, kk)
    else:  # chunk maxima tie at t in some rows: any kk reaching chunks, rows flagged
        inexact[:] = reach.sum(1) != kk
        chunks[:] = np.sort(np.argpartition(cmax, m - kk, axis=1)[:, m - kk:], axis=1)
    # torch.gather reads x in place: row r, step i, slot s <- x3[r, i, chunks[r, s]].
    picked = torch.gather(x3t, 2,
                          torch.from_numpy(chunks)[:, None, :].expand(b, cs, kk))  # (b, cs, kk)
    cand[:, :kk * cs] = picked.numpy().reshape(b, kk * cs)
    cand[:, kk * cs:] = tail
    return True


def _chunked_top(x: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Top ``kk`` of every row of ``x`` (B, C), sorted descending, and a per-row flag telling
    where the selection could not prove the result exact. None when chunking does not pay.

    ``t``, the kk-th largest chunk maximum, is a lower bound of the kk-th largest value (kk
    distinct chunks reach it), so every value >= the kk-th largest lies in a chunk whose
    maximum is >= ``t``. A row is exact when exactly kk chunks reach ``t`` and exactly kk of
    their candidates reach the kk-th largest candidate; otherwise (ties) it is flagged.
    """
    B, C = x.shape
    cs = max(2, int(math.sqrt(C / kk)))
    m = C // cs
    if m < kk + 1 or kk * cs + (C - m * cs) > C // 2:
        return None
    nc = kk * cs + (C - m * cs)
    cand = np.empty((B, nc), dtype=x.dtype)  # (B, nc): [chunk values (cs, kk) | tail]
    chunks = np.empty((B, kk), dtype=np.int64)
    inexact = np.zeros(B, dtype=bool)
    # Row blocks small enough to stay in cache between the chunk maxima and the gather.
    rows_per_block = max(1, _BLOCK_BYTES // (C * x.itemsize))
    for r0 in range(0, B, rows_per_block):
        r1 = min(B, r0 + rows_per_block)
        if not _block_candidates(x[r0:r1], kk, cs, m, cand[r0:r1], chunks[r0:r1],
                                 inexact[r0:r1]):
            raise _nan_error(x)
    vk = np.sort(cand, axis=1)[:, nc - kk:nc - kk + 1]  # (B, 1) kk-th largest candidate
    take = cand >= vk
    pos = np.flatnonzero(take)
    if pos.size == B * kk:
        pos = (pos % nc).reshape(B, kk)  # (B, kk) candidate positions, ascending
    else:  # values tie at the kk-th place in some rows: stable pick, rows flagged
        inexact |= take.sum(1) != kk
        pos = np.sort(np.argsort(-cand, axis=1, kind="stable")[:, :kk], axis=1)
    values = np.take_along_axis(cand, pos, axis=1)  # (B, kk)
    order = np.argsort(-values, axis=1, kind="stable")  # descending
    v = np.take_along_axis(values, order, axis=1)
    pos = np.take_along_axis(pos, order, axis=1)
    step, slot = np.divmod(pos, kk)
    in_chunk = pos < kk * cs
    i = np.where(in_chunk, np.take_along_axis(chunks, np.where(in_chunk, slot, 0), axis=1)
                 + m * step, pos + (m * cs - kk * cs))
    return v, i, inexact


def _compiled_top(x: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_chunked_top`'s result from :func:`kernels.top_entries` (exact: no row flagged)."""
    v, i, nan_row = kernels.top_entries(x, kk)
    if nan_row >= 0:
        raise _nan_error(x)
    return v, i, np.zeros(x.shape[0], dtype=bool)


def _rows_as_numpy(x, rows: np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x[torch.as_tensor(rows, device=x.device)].cpu().numpy()
    return x[rows]


def _resolve_tied_rows(x, y, rows, L, kk, v, i, hits, perr) -> None:
    """Recompute ``rows`` from full rows: a stable sort (lowest class first among equal scores)
    gives the top entries, and PERR takes the expectation over the choice among tied scores."""
    xf = _rows_as_numpy(x, rows)  # (b, C)
    yf = _rows_as_numpy(y, rows) != 0  # (b, C)
    order = np.argsort(-xf, axis=1, kind="stable")[:, :kk]  # (b, kk)
    v[rows] = np.take_along_axis(xf, order, axis=1)
    i[rows] = order
    hits[rows] = yf[np.arange(len(rows)), order[:, 0]]
    Lr = L[rows]
    has = Lr > 0
    t = np.where(has, v[rows, np.maximum(Lr - 1, 0)], np.inf)[:, None]  # L-th largest score
    above = (xf > t).sum(1)
    tied = xf == t
    n_tied, pos_tied = tied.sum(1), (tied & yf).sum(1)
    sure = (yf & (xf > np.maximum(t, 0))).sum(1)
    share = np.where(t[:, 0] > 0, (Lr - above) * pos_tied / np.maximum(n_tied, 1), 0.0)
    perr[rows] = np.where(has, (sure + share) / np.maximum(Lr, 1), 0.0)


def summarize_batch(predictions, labels, top_k: int, *, backend: str | None = None,
                    num_threads: int = 1) -> BatchSummary:
    """Check one batch and reduce it to a :class:`BatchSummary` (see the module docstring).

    ``backend``: ``"numba"`` (CPU, compiled one-pass selection; needs numba), ``"numpy"`` (CPU,
    chunked selection) or ``"torch"`` (``torch.topk`` where the predictions live); None picks
    numba (NumPy without it) for arrays and CPU tensors, torch on other devices. All give the
    same summary. ``num_threads``: the CPU paths split the videos over this many threads
    (NumPy and the numba kernels release the GIL); the summary does not depend on it.
    """
    k = check_top_k(top_k)
    if backend not in (None, "numba", "numpy", "torch"):
        raise ValueError(f"backend must be 'numba', 'numpy', 'torch' or None, got {backend!r}")
    if backend == "numba" and not kernels.HAVE_NUMBA:
        raise ValueError("backend 'numba' needs the numba package (pip install numba)")
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
    if backend == "torch" and not isinstance(predictions, torch.Tensor):
        predictions = torch.from_numpy(np.asarray(predictions))
    x, y = _as_arrays(predictions, labels, on_device=backend == "torch" or None)
    B = x.shape[0]
    parts = min(num_threads, B // _MIN_ROWS_PER_THREAD)
    compiled = (backend != "numpy" and kernels.HAVE_NUMBA and not isinstance(x, torch.Tensor)
                and x.dtype.isnative)
    if isinstance(x, torch.Tensor) or parts < 2:
        return _summarize(x, y, k, compiled)
    cuts = np.linspace(0, B, parts + 1).astype(int)
    with ThreadPoolExecutor(parts) as pool:
        pieces = list(pool.map(lambda a, b: _summarize(x[a:b], y[a:b], k, compiled),
                               cuts[:-1], cuts[1:]))
    return BatchSummary(*(np.concatenate([getattr(p, f) for p in pieces])
                          for f in ("scores", "classes", "labels")),
                        positives=sum(p.positives for p in pieces),
                        hits=np.concatenate([p.hits for p in pieces]),
                        perr=np.concatenate([p.perr for p in pieces]))


def _summarize(x, y, k_req: int, compiled: bool = False) -> BatchSummary:
    """:func:`summarize_batch` on checked arrays (NumPy, or torch tensors on their device);
    ``compiled``: NumPy arrays go through the numba kernels."""
    B, C = x.shape
    k = min(k_req, C)
    on_device = isinstance(x, torch.Tensor)
    L, positives = _label_counts(y, on_device, compiled)
    kk = min(C, max(k, int(L.max())) + 1)
    v, i, inexact, labk = _top_entries(x, y, kk, on_device, compiled)
    if compiled and y.dtype == np.bool_:  # the same as _entry_stats, in one pass
        labk, hits, perr, flag = kernels.entry_labels(v, i, y, L, k)
        flag |= inexact
    else:
        if labk is None:
            labk = y.reshape(-1)[i + C * np.arange(B)[:, None]] != 0  # (B, kk)
        hits, perr, flag = _entry_stats(v, labk, L, k, inexact)
    tied_rows = np.flatnonzero(flag)
    if tied_rows.size:
        _resolve_tied_rows(x, y, tied_rows, L, kk, v, i, hits, perr)
        labk[tied_rows] = _rows_as_numpy(y, tied_rows)[
            np.arange(tied_rows.size)[:, None], i[tied_rows]] != 0
    class_dtype = np.int16 if C <= np.iinfo(np.int16).max else np.int32
    return BatchSummary(scores=np.ascontiguousarray(v[:, :k]),
                        classes=i[:, :k].astype(class_dtype),
                        labels=np.ascontiguousarray(labk[:, :k]),
                        positives=positives.astype(np.int64),
                        hits=hits, perr=perr)


def _label_counts(y, on_device: bool, compiled: bool) -> tuple[np.ndarray, np.ndarray]:
    """Labels per video ``L`` ``(B,)`` and positives per class ``(C,)``; checks the labels."""
    if on_device:
        L_t, pos_t = _device_label_counts(y)
        return L_t.cpu().numpy(), pos_t.cpu().numpy()
    if compiled and y.dtype == np.bool_:
        return kernels.bool_label_counts(y)
    B, C = y.shape
    rows, cols = _label_positions(y)
    return np.bincount(rows, minlength=B), np.bincount(cols, minlength=C)


def _top_entries(x, y, kk: int, on_device: bool, compiled: bool):
    """Each video's top ``kk`` scores ``v`` and classes ``i`` ``(B, kk)``, descending; the rows
    whose selection is not exact (to sort again); on a device, also their labels ``(B, kk)``
    (else None). Raises on NaN scores."""
    B = x.shape[0]
    if on_device:
        if torch.isnan(x).any():
            raise _nan_error(x.cpu())
        vt, it = torch.topk(x, kk, dim=1)  # (B, kk) descending
        labk = (y.gather(1, it) != 0).cpu().numpy()
        return vt.cpu().numpy(), it.cpu().numpy(), np.zeros(B, dtype=bool), labk
    top = _compiled_top(x, kk) if compiled else _chunked_top(x, kk)
    if top is None:
        if np.isnan(x).any():
            raise _nan_error(x)
        return (np.zeros((B, kk), x.dtype), np.zeros((B, kk), np.int64),
                np.ones(B, dtype=bool), None)
    v, i, inexact = top
    return v, i, inexact, None


def _entry_stats(v, labk, L, k: int, inexact) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hit@1 and PERR per video from the top entries ``v`` and their labels ``labk`` ``(B, kk)``,
    and the rows to sort again: inexact ones and those with a tie that matters."""
    B, kk = v.shape
    hits = labk[:, 0].copy()
    ranks = np.arange(kk)
    perr = ((labk & (v > 0) & (ranks < L[:, None])).sum(1)
            / np.maximum(L, 1)).astype(np.float64)
    # A tie matters at the top-1 place, at the k-th place and at each video's L-th place.
    flag = inexact.copy()
    if kk >= 2:
        flag |= v[:, 0] == v[:, 1]
    if k < kk:
        flag |= v[:, k - 1] == v[:, k]
    at = np.minimum(L, kk - 1)
    flag |= (L > 0) & (L < kk) & (v[np.arange(B), np.maximum(at - 1, 0)]
                                  == v[np.arange(B), at])
    return hits, perr, flag


def _device_label_counts(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if y.dtype != torch.bool:
        bad = (y * (1 - y) != 0) if y.is_floating_point() else ((y < 0) | (y > 1))
        if bad.any():
            r, c = (int(v) for v in bad.nonzero()[0])
            raise ValueError(f"labels must be 0 or 1; found {y[r, c].item()!r} at video {r}, "
                             f"class {c}")
    lab = y != 0
    return lab.sum(1), lab.sum(0)


def _as_arrays(predictions, labels, on_device: bool | None = None):
    """Both inputs as 2-D arrays of one kind: NumPy unless predictions live on a non-CPU device
    or ``on_device`` is True (then torch tensors there). ValueError on shapes, dtypes, emptiness."""
    device = predictions.device if isinstance(predictions, torch.Tensor) else None
    if on_device is None:
        on_device = device is not None and device.type != "cpu"
    if on_device:
        x = predictions.detach()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        elif not x.is_floating_point():
            if x.is_complex():
                raise ValueError(f"predictions must be real, got dtype {x.dtype}")
            x = x.double()
        y = torch.as_tensor(labels.detach() if isinstance(labels, torch.Tensor) else labels,
                            device=device)
        if y.is_complex():
            raise ValueError(f"labels must be real 0/1 values, got dtype {y.dtype}")
    else:
        x = _to_numpy(predictions, "predictions")
        y = _to_numpy(labels, "labels")
        if x.dtype.kind in "biu":
            x = x.astype(np.float64)
        elif x.dtype == np.float16:
            x = x.astype(np.float32)
        elif x.dtype.kind != "f":
            raise ValueError(f"predictions must be real numbers, got dtype {x.dtype}")
        if y.dtype.kind not in "biuf":
            raise ValueError(f"labels must be 0/1 numbers or booleans, got dtype {y.dtype}")
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    if x.ndim != 2 or tuple(x.shape) != tuple(y.shape):
        raise ValueError("predictions and labels must both have shape (videos, classes); got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"empty input: predictions have shape {tuple(x.shape)}")
    return x, y


def _to_numpy(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        if a.dtype == torch.bfloat16:
            a = a.float()
        return a.numpy()
    try:
        return np.asarray(a)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} cannot be read as an array: {err}") from err
