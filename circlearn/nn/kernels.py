r"""The two steps of the fast path's backward, each as a numba kernel and its readable twin.

:func:`~circlearn.nn.functional.circulant_linear`'s backward (:mod:`circlearn.nn.fastpath`)
runs, per chunk of rows, a frequency-domain step and a spatial step. Each exists twice: a
compiled (numba) CPU kernel that fuses it into one pass, and a readable torch expression
(``*_torch``: the twin the kernels are tested against, and the fallback for GPU tensors, other
dtypes, ``FastPathOptions(use_kernels=False)`` or no numba). :func:`backward_steps` is the one
place that chooses between them. The kernels fuse, in one pass over a chunk of rows, what the
torch expressions do in three to five (a temporary per product, then a reduction)::

    frequency_backward:  acc[b] += Σ_r G[r, b] · conj(Z[r, b or 0])      (dL/dc, frequency domain)
                         acc_sum[b] += Σ_r G[r, b]                         (dL/dbias, if asked)
                         G[r, b] *= conj(S[b])                            (in place, if scale)
    spatial_backward:    acc[b] += Σ_r gz[r, b] ⊙ x[r]                    (dL/dd)
                         gx[r]   = Σ_b gz[r, b] ⊙ d[b]                    (dL/dx)

Shapes: ``G (R, B, m)`` complex, ``Z (R, B, m)`` or ``(R, 1, m)`` (one input spectrum shared by
every block when there is no diagonal), ``S (B, m)``; ``gz (R, B, n)``, ``x (R, n)``,
``d (B, n)``, ``gx (R, n)``. ``tests/test_nn_kernels.py`` ties each kernel to its twin.

Why: the products and reductions of the backward are memory-bound, and each torch expression
writes a full temporary before reducing it. Fused, on a 128 × 8192 chunk on the 2-core CPU
(one thread): frequency-domain update 0.53-0.58 ms against 1.7 ms or more for the torch
expressions, spatial update 0.78 ms against 2.0 ms (a plain copy of the chunk: 0.43-0.5 ms).

The kernels run on the calling thread. Splitting a chunk's rows over a Python thread pool was
measured and dropped: with 2 torch threads the pool's threads compete with torch's spinning
OpenMP workers, and the backward of 8192² at batch 256 took 10.4-14.9 ms split against
7.5-7.9 ms on one thread. With 2 torch threads the single-threaded kernels and torch's
2-threaded expressions run the whole layer equally fast (within ±8%). The kernels are compiled
on first use per dtype and cached on disk (first backward of a layer: 1.8 s cold, 0.26 s from
the cache, on the 2-core CPU).
"""

from __future__ import annotations

import numpy as np
import torch

try:
    import numba
except ImportError:  # the torch twins below take over
    numba = None

__all__ = ["HAVE_NUMBA", "usable", "is_compiling", "frequency_backward", "spatial_backward",
           "frequency_backward_torch", "spatial_backward_torch", "backward_steps"]

HAVE_NUMBA = numba is not None

# torch.compile traces torch ops, not numba or scipy calls: code under it keeps torch's.
is_compiling = getattr(torch.compiler, "is_compiling", None)
if is_compiling is None:  # torch < 2.3
    from torch._dynamo import is_compiling


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
def _accumulate_conj_sum_scale(acc, acc_sum, g, z, sc):
    for j in range(g.shape[0]):
        v = g[j]
        acc[j] += v * z[j].conjugate()
        acc_sum[j] += v
        g[j] = v * sc[j]


@_njit
def _add_into(acc, g):
    for j in range(g.shape[0]):
        acc[j] += g[j]


@_njit
def _frequency_rows(G, Z, sc, acc, acc_sum, scale, with_sum):
    shared = Z.shape[1] == 1
    for r in range(G.shape[0]):
        for b in range(G.shape[1]):
            z = Z[r, 0] if shared else Z[r, b]
            if scale and with_sum:
                _accumulate_conj_sum_scale(acc[b], acc_sum[b], G[r, b], z, sc[b])
                continue
            if with_sum:
                _add_into(acc_sum[b], G[r, b])
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
    return HAVE_NUMBA and not is_compiling() and all(
        t.device.type == "cpu" and t.dtype in ok and t.is_contiguous() for t in tensors)


def frequency_backward(G: torch.Tensor, Z: torch.Tensor, S_conj: torch.Tensor,
                       acc: torch.Tensor, scale: bool, acc_sum: torch.Tensor | None = None) -> None:
    """``acc += Σ_r G·conj(Z)`` per block, ``acc_sum += Σ_r G`` (if given; the bias gradient's
    spectrum) and, if ``scale``, ``G *= S_conj`` in place, all read from one pass over ``G``.

    Shapes: ``G (R, B, m)``, ``Z (R, B|1, m)``, ``S_conj (B, m)``, ``acc`` and ``acc_sum``
    ``(B, m)``; all of one complex dtype and C-contiguous.
    """
    g, z, sc, a = (t.detach().numpy() for t in (G, Z, S_conj, acc))
    a_sum = np.zeros((g.shape[1], 0), g.dtype) if acc_sum is None else acc_sum.detach().numpy()
    _frequency_rows(g, z, sc, a, a_sum, scale, acc_sum is not None)


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

    _spatial_rows(g, xx, dd, out, a, need_x, need_d)


def frequency_backward_torch(G: torch.Tensor, Z: torch.Tensor, S_conj: torch.Tensor,
                             acc: torch.Tensor, scale: bool,
                             acc_sum: torch.Tensor | None = None) -> None:
    """Readable twin of :func:`frequency_backward`.

    Same arguments, same in-place updates::

        acc += Σ_r G · conj(Z);   acc_sum += Σ_r G;   G *= S_conj (if scale)
    """
    acc += (G * Z.conj()).sum(0)  # (B, m); Z (R, 1, m) broadcasts over the blocks
    if acc_sum is not None:
        acc_sum += G.sum(0)
    if scale:
        G.mul_(S_conj)


def spatial_backward_torch(gz: torch.Tensor, x: torch.Tensor, d: torch.Tensor,
                           gx: torch.Tensor | None, acc: torch.Tensor | None) -> None:
    """Readable twin of :func:`spatial_backward`.

    Same arguments, same in-place updates::

        gx = Σ_b gz[:, b] ⊙ d[b];   acc += Σ_r gz[r] ⊙ x[r]
    """
    if gx is not None:
        if gz.shape[1] == 1:
            torch.mul(gz[:, 0], d[0], out=gx)  # (R, n), no (R, 1, n) temporary
        else:
            gx.copy_((gz * d).sum(1))  # (R, n)
    if acc is not None:
        acc += (gz * x.unsqueeze(1)).sum(0)  # (B, n)


def backward_steps(use_kernels: bool, *tensors: torch.Tensor):
    """``(frequency_step, spatial_step)`` for a backward over ``tensors``: the numba kernels
    when ``use_kernels`` and :func:`usable` allow, else their torch twins.

    The kernels are read from this module at each call, so a test that wraps them sees the calls.
    """
    if use_kernels and usable(*tensors):
        return frequency_backward, spatial_backward
    return frequency_backward_torch, spatial_backward_torch
