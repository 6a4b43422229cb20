r"""Stateless torch circulant ops (``torch.fft.rfft``/``irfft`` with explicit ``n``).

Conventions are those of :mod:`circlearn.reference` (first column ``c``, ``C[i, j] =
c[(i - j) mod n]``; layers act on row vectors like ``nn.Linear``)::

    circulant_matmul(x, c)          = x @ circulant(c).T          = irfft(rfft(x) · rfft(c), n)
    diag_circulant_matmul(x, c, d)  = x @ (circulant(c) diag(d)).T = circulant_matmul(x · d, c)
    block_circulant_matmul(x, c, d, out)  the paper's rectangular rule, k factors per block

Precision: FFTs run in at least float32. float16/bfloat16 inputs (also under autocast, where a
preceding matmul hands us half tensors) are computed in float32 and the result is cast back to
the input dtype: CPU has no half FFT, cuFFT's half FFT needs power-of-two sizes, and there is no
bfloat16 FFT at all. float64 inputs stay float64.
"""

from __future__ import annotations

import torch

__all__ = [
    "circulant_matmul",
    "diag_circulant_matmul",
    "block_circulant_matmul",
    "circulant_dense",
    "compute_dtype",
]

_HALF = (torch.float16, torch.bfloat16)


def compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The real dtype FFTs run in: the promoted dtype of the inputs, at least float32."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if dtype in _HALF or not dtype.is_floating_point:
        return torch.float32
    return dtype


def _check_last_dim(x: torch.Tensor, n: int, name: str = "x") -> None:
    if x.dim() == 0 or x.shape[-1] != n:
        raise ValueError(f"{name} must have shape (..., {n}), got {tuple(x.shape)}")


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
    _check_last_dim(x, n)
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


def _check_blocks(c: torch.Tensor, d: torch.Tensor | None, out_features: int) -> None:
    if c.dim() != 3 or 0 in c.shape:
        raise ValueError(f"c must have shape (blocks, n_factors, n), got {tuple(c.shape)}")
    if d is not None and d.shape != c.shape:
        raise ValueError(f"d must have the shape of c {tuple(c.shape)}, got {tuple(d.shape)}")
    blocks, _, n = c.shape
    if out_features < 1 or blocks != -(-out_features // n):
        raise ValueError(
            f"{n} -> {out_features} needs ceil({out_features}/{n}) blocks, c has {blocks}")


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
    _check_blocks(c, d, out_features)
    blocks, k, n = c.shape
    _check_last_dim(x, n)
    dt = compute_dtype(x, c) if d is None else compute_dtype(x, c, d)
    spec_c = torch.fft.rfft(c.to(dt))  # (blocks, k, n//2+1)
    z = x.to(dt).unsqueeze(-2)  # (..., 1, n)
    for i in range(k):
        if d is not None:
            z = z * d[:, i].to(dt)  # (..., blocks, n)
        z = torch.fft.irfft(torch.fft.rfft(z) * spec_c[:, i], n=n)  # (..., blocks, n)
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
    _check_blocks(c, d, out_features)
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
