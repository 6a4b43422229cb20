r"""Stateless torch circulant ops, readable (``torch.fft.rfft``/``irfft`` with explicit ``n``).

Conventions are those of :mod:`circlearn.reference` (first column ``c``, ``C[i, j] =
c[(i - j) mod n]``; layers act on row vectors like ``nn.Linear``)::

    circulant_matmul(x, c)          = x @ circulant(c).T          = irfft(rfft(x) · rfft(c), n)
    diag_circulant_matmul(x, c, d)  = x @ (circulant(c) diag(d)).T = circulant_matmul(x · d, c)
    block_circulant_matmul(x, c, d, out)  the paper's rectangular rule, k factors per block
                                          (autograd through torch.fft: the readable twin)
    circulant_dense(c, d, out)      the (out, n) weight those maps represent
    circulant_linear(x, c, d, out, bias=None)  the same map (plus an optional bias) for one
                                    factor per block: the fast path (circlearn.nn.fastpath), or
                                    with fast_path(plain=True) its readable twin
    circulant_linear_small_cpu(...) inference on a few CPU rows via scipy.fft (cached plans)

Everything here except :func:`circulant_linear` is plain differentiable torch (autograd's
backward): what the fast path (:mod:`circlearn.nn.fastpath`, steered by
:class:`~circlearn.nn.options.FastPathOptions`) is tested against. The precision rule (FFTs in
at least float32, the result in the input's dtype) is :func:`compute_dtype`
(:mod:`circlearn.nn.conventions`).
"""

from __future__ import annotations

import torch

from circlearn.nn.conventions import check_blocks, check_last_dim, compute_dtype, one_factor_args
from circlearn.nn.fastpath import circulant_linear_fast, circulant_linear_small_cpu, circulant_spectrum
from circlearn.nn.options import fast_path_options

__all__ = [
    "circulant_linear",
    "circulant_linear_plain",
    "circulant_linear_small_cpu",
    "circulant_spectrum",
    "circulant_matmul",
    "diag_circulant_matmul",
    "block_circulant_matmul",
    "circulant_dense",
    "compute_dtype",
]


def circulant_matmul(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``x @ circulant(c).T`` over the last dim: ``irfft(rfft(x) * rfft(c), n=n)``.

    ``c`` may carry leading dims that broadcast against ``x``'s (one circulant per block).

    Shape:
        x ``(..., n)``, c ``(..., n)`` → ``(..., n)`` in ``x``'s dtype.

    >>> circulant_matmul(torch.tensor([1., 0., 0.]), torch.tensor([1., 2., 3.]))
    tensor([1., 2., 3.])
    """
    n = c.shape[-1]
    if n == 0:
        raise ValueError("c must not be empty (n = 0)")
    check_last_dim(x, n)
    dt = compute_dtype(x, c)
    # n= is required: for odd n, irfft's default output length 2*(m-1) is wrong.
    y = torch.fft.irfft(torch.fft.rfft(x.to(dt)) * torch.fft.rfft(c.to(dt)), n=n)
    return y.to(x.dtype)


def diag_circulant_matmul(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``x @ (circulant(c) diag(d)).T``: scale the input by ``d``, then convolve with ``c``.

    Shape:
        x ``(..., n)``, c and d ``(..., n)`` → ``(..., n)``.
    """
    if d.shape[-1] != c.shape[-1]:
        raise ValueError(f"d must have shape (..., {c.shape[-1]}), got {tuple(d.shape)}")
    dt = compute_dtype(x, c, d)
    return circulant_matmul(x.to(dt) * d.to(dt), c).to(x.dtype)


def block_circulant_matmul(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor | None,
                           out_features: int) -> torch.Tensor:
    """The paper's rectangular circulant map ``x @ W.T`` with ``W`` of shape ``(out, n)``.

    Block ``b`` is ``(C(c[b, k-1]) D(d[b, k-1])) ⋯ (C(c[b, 0]) D(d[b, 0]))`` (``d=None``:
    no diagonals); every block sees the same ``x``; outputs are concatenated and truncated
    to ``out_features``. With no diagonal on the first factor, one ``rfft(x)`` is shared by all
    blocks.

    Shape:
        x ``(..., n)``, c and d ``(blocks, k, n)`` → ``(..., out_features)``.
    """
    check_blocks(c, d, out_features)
    blocks, k, n = c.shape
    check_last_dim(x, n)
    dt = compute_dtype(x, c) if d is None else compute_dtype(x, c, d)
    z = x.to(dt).unsqueeze(-2)  # (..., 1, n)
    for i in range(k):
        if d is not None:
            z = z * d[:, i].to(dt)  # (..., blocks, n)
        # rfft of the factor's columns, not a slice of one complex tensor: the ONNX exporter
        # cannot index complex tensors (it lowers rfft to DFT, complex as a trailing dim 2)
        spec_c = torch.fft.rfft(c[:, i].to(dt))  # (blocks, n//2+1)
        z = torch.fft.irfft(torch.fft.rfft(z) * spec_c, n=n)  # (..., blocks, n)
    y = z.reshape(*z.shape[:-2], blocks * n)  # (..., blocks*n)
    if blocks * n != out_features:
        y = y[..., :out_features]  # (..., out)
    return y.to(x.dtype)


def _circulant_rows(c: torch.Tensor, rows: int) -> torch.Tensor:
    """First ``rows`` rows of ``circulant(c)`` for ``c (..., n)`` → ``(..., rows, n)``."""
    n = c.shape[-1]
    i = torch.arange(rows, device=c.device).view(-1, 1)
    j = torch.arange(n, device=c.device).view(1, -1)
    return c[..., (i - j) % n]


def circulant_dense(c: torch.Tensor, d: torch.Tensor | None, out_features: int) -> torch.Tensor:
    """Materialize the ``(out_features, n)`` weight of :func:`block_circulant_matmul`.

    Differentiable: gradients through ``x @ W.T`` equal those of the FFT form. Built by
    indexing ``C[i, j] = c[(i - j) mod n]`` and scaling columns by ``d``; factor chains are
    multiplied out (only the rows that survive truncation are formed for the last factor).
    """
    check_blocks(c, d, out_features)
    blocks, k, n = c.shape
    parts = []
    for b in range(blocks):
        rows = min(n, out_features - b * n)
        w = None
        for i in range(k):
            last = i == k - 1
            m = _circulant_rows(c[b, i], rows if last else n)  # (r, n)
            if d is not None:
                m = m * d[b, i].unsqueeze(0)
            w = m if w is None else m @ w
        parts.append(w)
    return torch.cat(parts, dim=0)  # (out, n)


def circulant_linear_plain(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor | None,
                           out_features: int, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Readable twin of :func:`circulant_linear`: :func:`block_circulant_matmul` plus ``bias``.

    Only ``torch.fft`` and elementwise ops, autograd's backward: what tracers and exporters
    record. ``c`` and ``d`` are ``(blocks, n)`` or ``(blocks, 1, n)``.

    Shape:
        x ``(..., n)`` → ``(..., out_features)``.
    """
    c, d = one_factor_args(x, c, d, out_features, bias)
    y = block_circulant_matmul(x, c.unsqueeze(1), None if d is None else d.unsqueeze(1),
                               out_features)  # (..., out)
    return y if bias is None else y + bias.to(y.dtype)


def circulant_linear(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor | None,
                     out_features: int, spectrum: torch.Tensor | None = None,
                     bias: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`block_circulant_matmul` for one factor per block, plus ``bias`` if given.

    ``c`` and ``d`` are ``(blocks, n)`` (or ``(blocks, 1, n)``), ``bias`` ``(out_features,)``;
    ``spectrum`` optionally passes a cached :func:`circulant_spectrum` of ``c`` (inference
    only: no gradient reaches ``c`` through it). Same precision rules as the other ops.

    Computed by the fast path (:func:`circlearn.nn.fastpath.circulant_linear_fast`: chunked,
    hand-written first-order backward) under the :func:`~circlearn.nn.options.fast_path`
    options in force; with ``plain=True`` by :func:`circulant_linear_plain` (``spectrum``
    unused).

    Shape:
        x ``(..., n)`` → ``(..., out_features)``.
    """
    if fast_path_options().plain:
        return circulant_linear_plain(x, c, d, out_features, bias=bias)
    return circulant_linear_fast(x, c, d, out_features, spectrum=spectrum, bias=bias)
