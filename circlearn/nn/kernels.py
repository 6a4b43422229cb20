r"""Compiled (numba) CPU kernels for the backward pass of :func:`~circlearn.nn.functional.circulant_linear`.

Each kernel fuses, in one pass over a chunk of rows, what the torch expressions of the fast
path do in three to five (a temporary per product, then a reduction)::

    frequency_backward:  acc[b] += Σ_r G[r, b] · conj(Z[r, b or 0])      (dL/dc, frequency domain)
                         G[r, b] *= conj(S[b])                            (in place, if scale)
    spatial_backward:    acc[b] += Σ_r gz[r, b] ⊙ x[r]                    (dL/dd)
                         gx[r]   = Σ_b gz[r, b] ⊙ d[b]                    (dL/dx)

Shapes: ``G (R, B, m)`` complex, ``Z (R, B, m)`` or ``(R, 1, m)`` (one input spectrum shared by
every block when there is no diagonal), ``S (B, m)``; ``gz (R, B, n)``, ``x (R, n)``,
``d (B, n)``, ``gx (R, n)``. The torch expressions in :mod:`circlearn.nn.functional` are the
fallback (no numba, GPU tensors, other dtypes) and the twin ``tests/test_nn_kernels.py`` ties
these kernels to.

Why: the products and reductions of the backward are memory-bound, and each torch expression
writes a full temporary before reducing it. Fused, on a 128 × 8192 chunk on the 2-core CPU
(one thread): frequency-domain update 0.53-0.58 ms against 1.7-5.2 ms for the torch
expressions, spatial update 0.78 ms against 2.0 ms (a plain copy of the chunk: 0.43-0.5 ms).

Rows are split over ``torch.get_num_threads()`` threads (the kernels release the GIL, each
thread has its own accumulators, summed at the end) when a chunk holds at least
``PARALLEL_ELEMENTS`` elements; smaller chunks stay on the calling thread, where a thread
hand-off would cost more than it saves. The kernels are compiled on first use per dtype (a
few seconds) and cached on disk.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

try:
    import numba
except ImportError:  # the torch expressions in functional.py take over
    numba = None

__all__ = ["HAVE_NUMBA", "usable", "frequency_backward", "spatial_backward"]

HAVE_NUMBA = numba is not None
# Chunks with at least this many elements are split over threads (one 128 × 8192 chunk has
# 2^20 real or 2^19 complex elements; a 16-row chunk of 8 blocks of 1024 has 2^16).
PARALLEL_ELEMENTS = 1 << 18

_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _njit(fn):
    return numba.njit(cache=True, nogil=True, fastmath=True)(fn) if HAVE_NUMBA else fn


@_njit
def _accumulate_conj(acc, g, z):
    for j in range(g.shape[0]):
        acc[j] += g[j] * z[j].conjugate()


@_njit
def _accumulate_conj_scale(acc, g, z, sc):
    for j in range(g.shape[0]):
        v = g[j]
        acc[j] += v * z[j].conjugate()
        g[j] = v * sc[j]


@_njit
def _frequency_rows(G, Z, sc, acc, scale):
    shared = Z.shape[1] == 1
    for r in range(G.shape[0]):
        for b in range(G.shape[1]):
            z = Z[r, 0] if shared else Z[r, b]
            if scale:
                _accumulate_conj_scale(acc[b], G[r, b], z, sc[b])
            else:
                _accumulate_conj(acc[b], G[r, b], z)


@_njit
def _scale_into(out, g, d):
    for j in range(g.shape[0]):
        out[j] = g[j] * d[j]


@_njit
def _scale_add_into(out, g, d):
    for j in range(g.shape[0]):
        out[j] += g[j] * d[j]


@_njit
def _accumulate_product_scale_into(acc, out, g, x, d):
    for j in range(g.shape[0]):
        v = g[j]
        acc[j] += v * x[j]
        out[j] = v * d[j]


@_njit
def _spatial_rows(gz, x, d, gx, acc, need_x, need_d):
    for r in range(gz.shape[0]):
        for b in range(gz.shape[1]):
            g = gz[r, b]
            if need_d and need_x and b == 0:
                _accumulate_product_scale_into(acc[0], gx[r], g, x[r], d[0])
                continue
            if need_d:
                _scale_add_into(acc[b], g, x[r])
            if need_x:
                if b == 0:
                    _scale_into(gx[r], g, d[0])
                else:
                    _scale_add_into(gx[r], g, d[b])


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the kernels apply: numba present, contiguous CPU tensors, float32/64 (or
    complex64/128)."""
    ok = (torch.float32, torch.float64, torch.complex64, torch.complex128)
    return HAVE_NUMBA and not torch.compiler.is_compiling() and all(
        t.device.type == "cpu" and t.dtype in ok and t.is_contiguous() for t in tensors)


def _parts(rows: int, elements: int) -> int:
    if elements < PARALLEL_ELEMENTS:
        return 1
    return max(1, min(torch.get_num_threads(), rows))


def _run(fn, rows: int, parts: int, acc: np.ndarray, *args) -> None:
    """``fn(row_slice, acc_part)`` over ``parts`` row ranges; partial accumulators summed."""
    global _pool, _pool_size
    if parts == 1:
        fn(slice(0, rows), acc, *args)
        return
    if _pool is None or _pool_size < parts:
        _pool, _pool_size = ThreadPoolExecutor(parts, thread_name_prefix="circlearn"), parts
    bounds = np.linspace(0, rows, parts + 1).astype(int)
    accs = [acc] + [np.zeros_like(acc) for _ in range(parts - 1)]
    futures = [_pool.submit(fn, slice(bounds[i], bounds[i + 1]), accs[i], *args)
               for i in range(parts)]
    for f in futures:
        f.result()
    for a in accs[1:]:
        acc += a


def frequency_backward(G: torch.Tensor, Z: torch.Tensor, S_conj: torch.Tensor,
                       acc: torch.Tensor, scale: bool) -> None:
    """``acc += Σ_r G·conj(Z)`` per block and, if ``scale``, ``G *= S_conj`` in place.

    Shapes: ``G (R, B, m)``, ``Z (R, B|1, m)``, ``S_conj (B, m)``, ``acc (B, m)``; all of one
    complex dtype and C-contiguous.
    """
    g, z, sc, a = (t.detach().numpy() for t in (G, Z, S_conj, acc))

    def fn(rows, acc_part, g, z, sc):
        _frequency_rows(g[rows], z[rows], sc, acc_part, scale)

    _run(fn, g.shape[0], _parts(g.shape[0], g.size), a, g, z, sc)


def spatial_backward(gz: torch.Tensor, x: torch.Tensor, d: torch.Tensor,
                     gx: torch.Tensor | None, acc: torch.Tensor | None) -> None:
    """``gx = Σ_b gz[:, b] ⊙ d[b]`` (if ``gx``) and ``acc += Σ_r gz[r] ⊙ x[r]`` (if ``acc``).

    Shapes: ``gz (R, B, n)``, ``x (R, n)``, ``d (B, n)``, ``gx (R, n)``, ``acc (B, n)``; one
    real dtype, C-contiguous.
    """
    need_x, need_d = gx is not None, acc is not None
    g, xx, dd = (t.detach().numpy() for t in (gz, x, d))
    out = gx.detach().numpy() if need_x else np.empty((g.shape[0], 0), g.dtype)
    a = acc.detach().numpy() if need_d else np.zeros((g.shape[1], 0), g.dtype)

    def fn(rows, acc_part, g, xx, dd, out):
        _spatial_rows(g[rows], xx[rows], dd, out[rows], acc_part, need_x, need_d)

    _run(fn, g.shape[0], _parts(g.shape[0], g.size), a, g, xx, dd, out)
