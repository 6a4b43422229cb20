r"""Other structured replacements for ``nn.Linear``: ``ToeplitzLinear`` and ``LowRankLinear``.

Both speak ``CirculantLinear``'s dialect: weight of shape ``(out_features, in_features)``,
``y = x @ W.T + b``, ``.dense()`` (differentiable), ``from_dense`` (the Frobenius-nearest
layer of that structure), any rectangular shape, ``extra_repr`` with the parameter count.
Their float64 twins are in :mod:`circlearn.reference` (``toeplitz_matvec``,
``nearest_toeplitz``, ``low_rank_matvec``, ``nearest_low_rank``).

Toeplitz (``in + out - 1`` weights ``t``; constant along each diagonal)::

    W[i, j] = t[i - j + in - 1]          t[in - 1 + i] = W[i, 0],  t[in - 1 - j] = W[0, j]
    scipy.linalg.toeplitz(W[:, 0], W[0, :]) == W

    y_i = Σ_j t[i - j + in - 1] x_j = (t * x)[i + in - 1]     (linear convolution)
        = irfft(rfft(t, N) · rfft(x, N), N)[in - 1 + i]       N >= in + out - 1

The circulant of size ``N`` holds the Toeplitz matrix as a block, so no wrapped term reaches
the kept outputs. ``N`` is ``scipy.fft.next_fast_len(in + out - 1, real=True)`` (a product of
2, 3 and 5), as SciPy's own ``matmul_toeplitz`` does not round up. Cost ``O(N log N)`` per row.

Low rank ``r`` (``r (in + out)`` weights)::

    W = U V^T,  U (out, r), V (in, r):   y = (x @ V) @ U.T + b      O((in + out) r) per row

Initialization. ``init_std`` is the standard deviation of the represented weight's entries
``W[i, j]``; by default each layer matches ``nn.Linear``, whose entries are
``U(-1/√in, 1/√in)`` (variance ``1/(3 in)``):

- ``ToeplitzLinear``: ``t ~ U(-1/√in, 1/√in)`` (exactly ``nn.Linear``'s entry law) or
  ``N(0, init_std²)``; bias ``U(-1/√in, 1/√in)``.
- ``LowRankLinear``: ``U`` and ``V`` both ``N(0, s²)`` with ``s² = std / √rank``, so
  ``Var W[i, j] = rank · s⁴ = std²`` (``std = init_std`` or ``1/√(3 in)``): the factors have
  equal scale and the product has ``nn.Linear``'s variance; bias ``U(-1/√in, 1/√in)``.
"""

from __future__ import annotations

import math

import scipy.fft
import torch
from torch import nn

from circlearn import reference
from circlearn.nn.blocks import check_sizes
from circlearn.nn.functional import compute_dtype

__all__ = ["ToeplitzLinear", "LowRankLinear", "toeplitz_embedding_size"]


def _check_input(x: torch.Tensor, in_features: int) -> None:
    if x.dim() == 0 or x.shape[-1] != in_features:
        raise ValueError(f"input must have shape (*, {in_features}), got {tuple(x.shape)}")


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
        _check_input(x, self.in_features)
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
        out_features, in_features = _check_weight(weight, bias)
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
                f"{_params_text(self)}")


class LowRankLinear(nn.Module):
    """Linear map ``in_features → out_features`` with weight ``U V^T`` of rank ``<= rank``.

    Args:
        in_features, out_features: sizes of each input and output sample.
        rank: inner dimension ``r`` (``1 <= r <= min(in, out)``).
        bias: learn an additive bias.
        init_std: standard deviation of the entries of ``U V^T`` at initialization
            (default ``1/√(3 in)``, ``nn.Linear``'s).

    Shape:
        input ``(*, in_features)`` → ``(*, rank)`` → output ``(*, out_features)``.

    >>> layer = LowRankLinear(6, 4, rank=2)
    >>> layer(torch.ones(3, 6)).shape, layer.u.shape, layer.v.shape
    (torch.Size([3, 4]), torch.Size([4, 2]), torch.Size([6, 2]))
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True,
                 device=None, dtype=None, *, init_std: float | None = None) -> None:
        super().__init__()
        check_sizes(in_features, out_features)
        if isinstance(rank, bool) or int(rank) != rank or not 1 <= rank <= min(in_features,
                                                                                 out_features):
            raise ValueError(f"rank must be an integer in [1, min(in_features, out_features)] "
                             f"= [1, {min(in_features, out_features)}] for {in_features} → "
                             f"{out_features}, got {rank!r}")
        if init_std is not None and not init_std > 0:
            raise ValueError(f"init_std must be > 0, got {init_std}")
        factory = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.out_features = out_features
        self.rank = int(rank)
        self.init_std = init_std
        self.u = nn.Parameter(torch.empty(out_features, self.rank, **factory))
        self.v = nn.Parameter(torch.empty(in_features, self.rank, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw ``U``, ``V`` and the bias (see the module docstring)."""
        std = self.init_std if self.init_std is not None else 1 / math.sqrt(3 * self.in_features)
        s = math.sqrt(std / math.sqrt(self.rank))  # rank · s⁴ = std²
        nn.init.normal_(self.u, 0.0, s)
        nn.init.normal_(self.v, 0.0, s)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_features)
        h = x @ self.v.to(x.dtype)  # (*, rank)
        y = h @ self.u.to(x.dtype).T  # (*, out)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def dense(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` weight ``U V^T`` (differentiable)."""
        return self.u @ self.v.T

    @classmethod
    def from_dense(cls, weight: torch.Tensor, rank: int, bias: torch.Tensor | None = None,
                   **kwargs) -> LowRankLinear:
        """The rank-``rank`` layer nearest (Frobenius) to ``weight (out, in)``: truncated SVD.

        ``U = U_r √S_r``, ``V = V_r √S_r`` (:func:`circlearn.reference.nearest_low_rank`);
        exact when ``rank(weight) <= rank``. ``kwargs`` go to the constructor.
        """
        out_features, in_features = _check_weight(weight, bias)
        kwargs.setdefault("device", weight.device)
        kwargs.setdefault("dtype", weight.dtype)
        layer = cls(in_features, out_features, rank, bias=bias is not None, **kwargs)
        u, v = reference.nearest_low_rank(weight.detach().to("cpu", torch.float64).numpy(),
                                          layer.rank)
        with torch.no_grad():
            layer.u.copy_(torch.from_numpy(u))
            layer.v.copy_(torch.from_numpy(v))
            if bias is not None:
                layer.bias.copy_(bias.detach())
        return layer

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, bias={self.bias is not None}, {_params_text(self)}")


def _check_weight(weight: torch.Tensor, bias: torch.Tensor | None) -> tuple[int, int]:
    if weight.dim() != 2 or 0 in weight.shape:
        raise ValueError(f"weight must have shape (out_features, in_features), "
                         f"got {tuple(weight.shape)}")
    out_features = weight.shape[0]
    if bias is not None and bias.shape != (out_features,):
        raise ValueError(f"bias must have shape ({out_features},), got {tuple(bias.shape)}")
    return weight.shape


def _params_text(layer: nn.Module) -> str:
    params = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    dense = layer.in_features * layer.out_features + (layer.out_features if layer.bias is not
                                                      None else 0)
    return f"params={params:,} (dense {dense:,})"
