r"""``LowRankLinear``: a rank-``r`` replacement for ``nn.Linear`` (``r (in + out)`` weights).

It speaks ``CirculantLinear``'s dialect: weight of shape ``(out_features, in_features)``,
``y = x @ W.T + b``, ``.dense()`` (differentiable), ``from_dense`` (the Frobenius-nearest
layer of rank ``r``, a truncated SVD), any rectangular shape, ``extra_repr`` with the parameter
count. Its float64 twins are :func:`circlearn.reference.low_rank_matvec` and
:func:`circlearn.reference.nearest_low_rank`::

    W = U V^T,  U (out, r), V (in, r):   y = (x @ V) @ U.T + b      O((in + out) r) per row

Initialization. ``init_std`` is the standard deviation of the represented weight's entries
``W[i, j]``; by default it matches ``nn.Linear``, whose entries are ``U(-1/√in, 1/√in)``
(variance ``1/(3 in)``). ``U`` and ``V`` are both ``N(0, s²)`` with ``s² = std / √rank``, so
``Var W[i, j] = rank · s⁴ = std²`` (``std = init_std`` or ``1/√(3 in)``): the factors have
equal scale and the product has ``nn.Linear``'s variance; bias ``U(-1/√in, 1/√in)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from circlearn import reference
from circlearn.nn.blocks import check_input, check_sizes, check_weight, parameter_text

__all__ = ["LowRankLinear"]


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
        check_input(x, self.in_features)
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
        out_features, in_features = check_weight(weight, bias)
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
                f"rank={self.rank}, bias={self.bias is not None}, {parameter_text(self)}")
