r"""Video-level classifiers: Mixture of Experts, logistic regression, and Context Gating.

All three return **probabilities** in (0, 1): the paper's loss acts on probabilities.

Mixture of Experts (``MoeModel`` in the paper's code, ``paper.md`` §3.5), ``V`` classes and
``M`` experts per class plus one dummy expert that always predicts 0::

    g = softmax(reshape(x W_g, (B·V, M+1)))        gates, no bias; index v·(M+1) + m
    e = sigmoid(reshape(x W_e + b_e, (B·V, M)))    experts; index v·M + m
    p[b, v] = Σ_{m<M} g[b·V+v, m] · e[b·V+v, m]

The gate and expert layers are injected (dense ``nn.Linear`` by default, with Xavier-uniform
weights and zero expert bias, as ``slim.fully_connected``); the paper's compact MoE
(``Circulant_MoeModel``) uses plain circulant layers, gates ``N(0, 1/(V(M+1)))``, experts
``N(0, 1/(VM))`` with a constant expert bias ``1/sqrt(VM)``. The reshape order matters for
structured layers: gate ``m`` of class ``v`` is output ``v·(M+1) + m``.

L2 (``moe_l2``): ``l2 · ½ (‖W_g‖² + ‖W_e‖²)`` over *dense* gate/expert weights only, returned
by :meth:`MixtureOfExperts.regularization_loss` for the training loop to add (the paper's
circulant MoE has none).

Context Gating (Miech et al.; on the MoE probabilities in the paper)::

    y = x ⊙ sigmoid(BN(x W))        (batch_norm=True, the paper's; W: V × V, N(0, 1/V))
    y = x ⊙ sigmoid(x W + b)        (batch_norm=False; b ~ N(0, 1/V))

Logistic (the starter code's ``LogisticModel``): ``p = sigmoid(x W + b)``, Xavier-uniform ``W``,
zero ``b``, L2 ``l2 · ½‖W‖²`` on a dense ``W``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from circlearn.nn.blocks import batch_norm, check_features, dense_linear

__all__ = ["ContextGating", "MixtureOfExperts", "LogisticClassifier"]


def _bn(size: int, device, dtype) -> nn.BatchNorm1d:
    # ContextGating's ``batch_norm`` argument shadows the factory inside its __init__
    return batch_norm(size, device=device, dtype=dtype)


def _half_squared_norm(layer: nn.Module) -> torch.Tensor | None:
    if isinstance(layer, nn.Linear):
        return 0.5 * (layer.weight * layer.weight).sum()
    return None


class ContextGating(nn.Module):
    """``y = x ⊙ sigmoid(BN(x W))`` (or ``sigmoid(x W + b)`` without batch norm).

    Shape:
        x ``(B, size)`` → ``(B, size)``.
    """

    def __init__(self, size: int, batch_norm: bool = True, *, device=None, dtype=None):
        super().__init__()
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self.linear = nn.Linear(size, size, bias=not batch_norm, device=device, dtype=dtype)
        std = 1 / math.sqrt(size)
        nn.init.normal_(self.linear.weight, std=std)
        if self.linear.bias is not None:
            nn.init.normal_(self.linear.bias, std=std)
        self.bn = _bn(size, device, dtype) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.linear(x)  # (B, size)
        if self.bn is not None:
            g = self.bn(g)
        return x * torch.sigmoid(g)

    def extra_repr(self) -> str:
        return f"size={self.size}, batch_norm={self.bn is not None}"


class MixtureOfExperts(nn.Module):
    """Softmax gates over ``M + 1`` experts (one dummy "predict 0"), sigmoid experts.

    Args:
        input_size: ``d``.
        num_classes: ``V``.
        num_mixtures: ``M`` (paper: 4; starter code: 2).
        gates: module ``(B, d) → (B, V(M+1))`` without bias; ``None``: dense, Xavier-uniform.
        experts: module ``(B, d) → (B, VM)``; ``None``: dense with bias, Xavier-uniform, zero
            bias.
        l2: weight of ``½‖W‖²`` on dense gate/expert weights (paper: 1e-8).

    Shape:
        x ``(B, d)`` → probabilities ``(B, V)``.
    """

    def __init__(self, input_size: int, num_classes: int, num_mixtures: int = 4,
                 gates: nn.Module | None = None, experts: nn.Module | None = None,
                 l2: float = 1e-8, *, device=None, dtype=None):
        super().__init__()
        if input_size < 1 or num_classes < 1 or num_mixtures < 1:
            raise ValueError(f"input_size, num_classes and num_mixtures must be >= 1, got "
                             f"{input_size}, {num_classes}, {num_mixtures}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.input_size, self.num_classes, self.num_mixtures = input_size, num_classes, num_mixtures
        self.l2 = l2
        v, m = num_classes, num_mixtures
        if gates is None:
            gates = dense_linear(input_size, v * (m + 1), bias=False, init="xavier",
                                 device=device, dtype=dtype)
        if experts is None:
            experts = dense_linear(input_size, v * m, bias=True, init="xavier", device=device,
                                   dtype=dtype)
        check_features(gates, input_size, v * (m + 1), "gates", bias=False,
                       why=" (the paper's MoE gates have none)")
        check_features(experts, input_size, v * m, "experts")
        self.gates, self.experts = gates, experts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        v, m = self.num_classes, self.num_mixtures
        g = torch.softmax(self.gates(x).reshape(b * v, m + 1), dim=-1)  # (B·V, M+1)
        e = torch.sigmoid(self.experts(x).reshape(b * v, m))  # (B·V, M)
        return (g[:, :m] * e).sum(dim=-1).reshape(b, v)  # (B, V)

    def regularization_loss(self) -> torch.Tensor:
        """``l2 · ½ (‖W_g‖² + ‖W_e‖²)`` over the dense (``nn.Linear``) layers; 0 otherwise."""
        terms = [t for t in (_half_squared_norm(self.gates), _half_squared_norm(self.experts))
                 if t is not None]
        if not terms or self.l2 == 0:
            return next(self.parameters()).new_zeros(())
        return self.l2 * torch.stack(terms).sum()

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, num_classes={self.num_classes}, "
                f"num_mixtures={self.num_mixtures}, l2={self.l2}")


class LogisticClassifier(nn.Module):
    """``p = sigmoid(x W + b)`` (the starter code's ``LogisticModel``).

    Args:
        input_size, num_classes: ``d``, ``V``.
        layer: module ``(B, d) → (B, V)``; ``None``: dense with bias, Xavier-uniform, zero bias.
        l2: weight of ``½‖W‖²`` on a dense weight (starter code: 1e-8).

    Shape:
        x ``(B, d)`` → probabilities ``(B, V)``.
    """

    def __init__(self, input_size: int, num_classes: int, layer: nn.Module | None = None,
                 l2: float = 1e-8, *, device=None, dtype=None):
        super().__init__()
        if input_size < 1 or num_classes < 1:
            raise ValueError(f"input_size and num_classes must be >= 1, got {input_size}, "
                             f"{num_classes}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = l2
        if layer is None:
            layer = dense_linear(input_size, num_classes, bias=True, init="xavier", device=device,
                                 dtype=dtype)
        check_features(layer, input_size, num_classes, "layer")
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layer(x))  # (B, V)

    def regularization_loss(self) -> torch.Tensor:
        """``l2 · ½‖W‖²`` for a dense layer; 0 otherwise."""
        term = _half_squared_norm(self.layer)
        if term is None or self.l2 == 0:
            return next(self.parameters()).new_zeros(())
        return self.l2 * term
