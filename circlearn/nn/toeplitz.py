r"""``ToeplitzLinear``: a Toeplitz replacement for ``nn.Linear`` (``in + out - 1`` weights).

It speaks ``CirculantLinear``'s dialect: weight of shape ``(out_features, in_features)``,
``y = x @ W.T + b``, ``.dense()`` (differentiable), ``from_dense`` (the Frobenius-nearest
Toeplitz layer), any rectangular shape, ``extra_repr`` with the parameter count. Its float64
twins are :func:`circlearn.reference.toeplitz_matvec` and
:func:`circlearn.reference.nearest_toeplitz`.

Weights ``t``, constant along each diagonal::

    W[i, j] = t[i - j + in - 1]          t[in - 1 + i] = W[i, 0],  t[in - 1 - j] = W[0, j]
    scipy.linalg.toeplitz(W[:, 0], W[0, :]) == W

    y_i = Σ_j t[i - j + in - 1] x_j = (t * x)[i + in - 1]     (linear convolution)
        = irfft(rfft(t, N) · rfft(x, N), N)[in - 1 + i]       N >= in + out - 1

The circulant of size ``N`` holds the Toeplitz matrix as a block, so no wrapped term reaches
the kept outputs. ``N`` is ``scipy.fft.next_fast_len(in + out - 1, real=True)`` (a product of
2, 3 and 5), as SciPy's own ``matmul_toeplitz`` does not round up. Cost ``O(N log N)`` per row.

Initialization: ``t ~ U(-1/√in, 1/√in)``, exactly ``nn.Linear``'s entry law (variance
``1/(3 in)``), or ``N(0, init_std²)``; bias ``U(-1/√in, 1/√in)``.
"""

from __future__ import annotations

import math

import scipy.fft
import torch
from torch import nn

from circlearn import reference
from circlearn.nn.blocks import check_input, check_sizes, check_weight, parameter_text
from circlearn.nn.functional import compute_dtype

__all__ = ["ToeplitzLinear", "toeplitz_embedding_size"]


def toeplitz_embedding_size(in_features: int, out_features: int) -> int:
    """FFT length of :class:`ToeplitzLinear`: the next 5-smooth size ``>= in + out - 1``.

    >>> toeplitz_embedding_size(8192, 512), toeplitz_embedding_size(7, 3)
    (8748, 9)
    """
    check_sizes(in_features, out_features)
    return scipy.fft.next_fast_len(in_features + out_features - 1, real=True)


class ToeplitzLinear(nn.Module):
    """Linear map ``in_features → out_features`` with a Toeplitz weight (``in + out - 1`` values).

    Args:
        in_features, out_features: sizes of each input and output sample.
        bias: learn an additive bias.
        init_std: draw ``t ~ N(0, init_std²)`` instead of ``nn.Linear``'s uniform law.

    Shape:
        input ``(*, in_features)`` → output ``(*, out_features)``.

    >>> layer = ToeplitzLinear(4, 3)
    >>> layer(torch.ones(2, 4)).shape, layer.dense().shape, layer.t.shape
    (torch.Size([2, 3]), torch.Size([3, 4]), torch.Size([6]))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None, *, init_std: float | None = None) -> None:
        super().__init__()
        check_sizes(in_features, out_features)
        if init_std is not None and not init_std > 0:
            raise ValueError(f"init_std must be > 0, got {init_std}")
        factory = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.out_features = out_features
        self.init_std = init_std
        self.fft_size = toeplitz_embedding_size(in_features, out_features)
        self.t = nn.Parameter(torch.empty(in_features + out_features - 1, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw ``t`` and the bias (see the module docstring)."""
        bound = 1 / math.sqrt(self.in_features)
        if self.init_std is None:
            nn.init.uniform_(self.t, -bound, bound)
        else:
            nn.init.normal_(self.t, 0.0, self.init_std)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_features)
        n, m = self.in_features, self.fft_size
        dt = compute_dtype(x, self.t)
        spec = torch.fft.rfft(x.to(dt), n=m) * torch.fft.rfft(self.t.to(dt), n=m)
        y = torch.fft.irfft(spec, n=m)[..., n - 1:n - 1 + self.out_features]  # (*, out)
        if self.bias is not None:
            y = y + self.bias.to(dt)
        return y.to(x.dtype)

    def dense(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` weight ``W[i, j] = t[i - j + in - 1]``."""
        i = torch.arange(self.out_features, device=self.t.device).view(-1, 1)
        j = torch.arange(self.in_features, device=self.t.device).view(1, -1)
        return self.t[i - j + self.in_features - 1]

    @classmethod
    def from_dense(cls, weight: torch.Tensor, bias: torch.Tensor | None = None,
                   **kwargs) -> ToeplitzLinear:
        """The Toeplitz layer nearest (Frobenius) to ``weight (out, in)``: each diagonal's mean.

        Exact when ``weight`` is Toeplitz. ``kwargs`` go to the constructor (``device``…).
        """
        out_features, in_features = check_weight(weight, bias)
        kwargs.setdefault("device", weight.device)
        kwargs.setdefault("dtype", weight.dtype)
        layer = cls(in_features, out_features, bias=bias is not None, **kwargs)
        c, r = reference.nearest_toeplitz(weight.detach().to("cpu", torch.float64).numpy())
        t = torch.cat([torch.from_numpy(r[::-1].copy()), torch.from_numpy(c[1:])])
        with torch.no_grad():
            layer.t.copy_(t)
            if bias is not None:
                layer.bias.copy_(bias.detach())
        return layer

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, fft_size={self.fft_size}, "
                f"{parameter_text(self)}")
