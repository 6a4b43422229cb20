"""The layer-kind factory: a layer-kind name (see :mod:`.config`) → a linear module.

:func:`make_linear` is the one place that maps a kind (``ModelConfig.embedding``, ``fc``,
``classifier_layer``) to a module; a new kind is a new branch here plus its name in
``LAYER_KINDS``. Dense layers come from :func:`circlearn.nn.blocks.dense_linear`.

Initializations are passed in by the caller, which knows the paper's rule for its place
(``paper.md`` §2.4): a dense layer gets ``N(0, std²)`` weights and a zero bias; a circulant one
gets ``c`` (and a learned ``d``) ``~ N(0, std²)`` and, with a bias, the constant ``std``
(the circulant MoE experts' rule).
"""

from __future__ import annotations

from torch import nn

from circlearn.nn.blocks import dense_linear
from circlearn.nn.circulant import CirculantLinear

__all__ = ["make_linear", "CIRCULANT_DIAGONAL"]

#: layer kind → ``CirculantLinear``'s ``diagonal`` argument.
CIRCULANT_DIAGONAL = {"circulant": "learned", "circulant-sign": "sign", "circulant-plain": None}


def make_linear(kind: str, in_features: int, out_features: int, *, bias: bool, std: float,
                n_factors: int = 1, sign_seed: int = 0, device=None, dtype=None) -> nn.Module:
    """``nn.Linear`` (``kind="dense"``) or ``CirculantLinear`` (``"circulant"``,
    ``"circulant-sign"``, ``"circulant-plain"``), initialised with standard deviation ``std``.

    >>> layer = make_linear("circulant", 8, 4, bias=False, std=0.5)
    >>> sum(p.numel() for p in layer.parameters()), tuple(layer.dense().shape)
    (16, (4, 8))
    """
    if kind == "dense":
        return dense_linear(in_features, out_features, bias=bias, std=std, device=device,
                            dtype=dtype)
    if kind not in CIRCULANT_DIAGONAL:
        raise ValueError(f"layer kind must be 'dense' or one of {sorted(CIRCULANT_DIAGONAL)}, "
                         f"got {kind!r}")
    diagonal = CIRCULANT_DIAGONAL[kind]
    return CirculantLinear(in_features, out_features, bias=bias, diagonal=diagonal,
                           n_factors=n_factors, device=device, dtype=dtype, init="paper",
                           init_std=std, sign_seed=sign_seed if diagonal == "sign" else None)
