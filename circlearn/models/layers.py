"""The layer-kind factory: a layer-kind name (see :mod:`circlearn.models.config`) → a linear module.

:func:`make_linear` is the one place that maps a kind (``ModelConfig.embedding``, ``fc``,
``classifier_layer``) to a module (dense, circulant, Toeplitz or low-rank); a new kind is a new
branch here plus its name in ``LAYER_KINDS``. Dense layers come from :func:`circlearn.nn.blocks.dense_linear`.

Initializations are passed in by the caller, which knows the paper's rule for its place
(``paper.md`` §2.4): a dense layer gets ``N(0, std²)`` weights and a zero bias; a circulant one
gets ``c`` (and a learned ``d``) ``~ N(0, std²)`` and, with a bias, the constant ``std``
(the circulant MoE experts' rule). ``"toeplitz"`` and ``"low-rank"`` replace a dense matrix:
the entries of the weight they represent get standard deviation ``std`` (Toeplitz: ``t ~
N(0, std²)``; low rank: balanced factors with ``rank · s⁴ = std²``) and the bias is zero, as
for ``"dense"``. A low-rank layer's rank is ``min(rank, in, out)``.
"""

from __future__ import annotations

from torch import nn

from circlearn.nn.blocks import dense_linear
from circlearn.nn.circulant import CirculantLinear
from circlearn.nn.low_rank import LowRankLinear
from circlearn.nn.toeplitz import ToeplitzLinear

__all__ = ["make_linear", "CIRCULANT_DIAGONAL"]

#: layer kind → ``CirculantLinear``'s ``diagonal`` argument.
CIRCULANT_DIAGONAL = {"circulant": "learned", "circulant-sign": "sign", "circulant-plain": None,
                      "circulant-sign-output": "sign-output"}


def make_linear(kind: str, in_features: int, out_features: int, *, bias: bool, std: float,
                n_factors: int = 1, sign_seed: int = 0, rank: int = 1, device=None,
                dtype=None) -> nn.Module:
    """``nn.Linear`` (``kind="dense"``), ``CirculantLinear`` (``"circulant"``,
    ``"circulant-sign"``, ``"circulant-plain"``, ``"circulant-sign-output"``), ``ToeplitzLinear``
    (``"toeplitz"``) or ``LowRankLinear`` (``"low-rank"``), initialised with standard deviation
    ``std`` (module docstring).

    >>> layer = make_linear("circulant", 8, 4, bias=False, std=0.5)
    >>> sum(p.numel() for p in layer.parameters()), tuple(layer.dense().shape)
    (16, (4, 8))
    """
    if kind == "dense":
        return dense_linear(in_features, out_features, bias=bias, std=std, device=device,
                            dtype=dtype)
    if kind in ("toeplitz", "low-rank"):
        layer = (ToeplitzLinear(in_features, out_features, bias=bias, device=device, dtype=dtype,
                                init_std=std) if kind == "toeplitz" else
                 LowRankLinear(in_features, out_features, min(rank, in_features, out_features),
                               bias=bias, device=device, dtype=dtype, init_std=std))
        if bias:
            nn.init.zeros_(layer.bias)
        return layer
    if kind not in CIRCULANT_DIAGONAL:
        raise ValueError(f"layer kind must be 'dense', 'toeplitz', 'low-rank' or one of "
                         f"{sorted(CIRCULANT_DIAGONAL)}, got {kind!r}")
    diagonal = CIRCULANT_DIAGONAL[kind]
    return CirculantLinear(in_features, out_features, bias=bias, diagonal=diagonal,
                           n_factors=n_factors, device=device, dtype=dtype, init="paper",
                           init_std=std,
                           sign_seed=sign_seed if diagonal in ("sign", "sign-output") else None)
