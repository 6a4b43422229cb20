r"""The paper's TensorFlow formulation of a circulant layer, in torch: a documented twin.

The authors' code (``paper.md`` §2.1-2.3) stores each block's **first row** ``w`` and
computes, on complex64 FFTs::

    y_b = roll(real(ifft(fft(x · d_b) · fft(reverse(w_b)))), 1)     per block b
    y   = concat_b(y_b)[:out_features] + bias                      (the rectangular rule)

which is :class:`~circlearn.nn.CirculantLinear`'s map with first columns
``c_b = transpose_vector(w_b)`` (:func:`circlearn.reference.paper_circulant_matvec` is the
NumPy reference). circlearn's layer uses the first-column convention and real FFTs
(``rfft``/``irfft``): half the transform work and no roll. The benchmarks
(:mod:`circlearn.bench.layers`) time both; ``tests/test_paper_formulation.py`` ties them.
The diagonal here scales the input, as in circlearn (the authors' fixed-sign layer applies
its signs after the circulant instead; ``paper.md`` §2.2).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["paper_circulant_matmul", "PaperCirculant"]


def paper_circulant_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``roll(real(ifft(fft(x) · fft(reverse(w)))), 1)`` over the last dim (complex FFTs).

    Equals ``circulant_matmul(x, c)`` with first column ``c = roll(flip(w), 1)``.

    Shape:
        x ``(..., n)``, w ``(..., n)`` (first rows, broadcast) → ``(..., n)`` in float32 or
        float64 (complex64/complex128 FFTs).
    """
    if w.shape[-1] != x.shape[-1]:
        raise ValueError(f"x must have shape (..., {w.shape[-1]}), got {tuple(x.shape)}")
    cdt = torch.complex128 if torch.float64 in (x.dtype, w.dtype) else torch.complex64
    y = torch.fft.ifft(torch.fft.fft(x.to(cdt)) * torch.fft.fft(w.flip(-1).to(cdt))).real
    return torch.roll(y, 1, dims=-1)


class PaperCirculant(nn.Module):
    """The paper's TF formulation of a one-factor :class:`~circlearn.nn.CirculantLinear`.

    Built from a ``CirculantLinear`` (first rows ``w = roll(flip(c), 1)``), so both compute
    the same function; parameters ``w`` ``(blocks, n)``, ``d`` ``(blocks, n)`` or None,
    ``bias`` ``(out,)`` or None.

    Shape:
        input ``(*, in_features)`` → output ``(*, out_features)``.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        if layer.n_factors != 1:
            raise ValueError(f"PaperCirculant mirrors one factor per block, the layer has "
                             f"n_factors={layer.n_factors}")
        c = layer.c.detach()[:, 0]  # (blocks, n) first columns
        self.w = nn.Parameter(torch.roll(c.flip(-1), 1, dims=-1).clone())  # (blocks, n) rows
        self.d = None if layer.d is None else nn.Parameter(layer.d.detach()[:, 0].clone())
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone())
        self.out_features = layer.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.unsqueeze(-2)  # (*, 1, n)
        if self.d is not None:
            z = z * self.d  # (*, blocks, n)
        y = paper_circulant_matmul(z, self.w).to(x.dtype)  # (*, blocks, n)
        y = y.reshape(*y.shape[:-2], -1)[..., : self.out_features]  # (*, out)
        return y if self.bias is None else y + self.bias
