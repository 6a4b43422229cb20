"""The paper's objective and optimisation rules (``paper.md`` §3.6, ``yt8m.md`` §2.2).

- **Loss** (``CrossEntropyLoss`` of the paper's code), on probabilities ``p`` in (0, 1)::

      L = mean over videos of  sum over classes of
          -[ y · log(p + ε) + (1 − y) · log(1 − p + ε) ],      ε = 1e-5

  (the code writes ``10e-6``). It acts on probabilities, so ``BCEWithLogits`` cannot be used.
- **Learning rate**: staircase exponential decay by *examples seen* (original videos, also
  with half-video augmentation)::

      lr = base · decay ** floor(examples / decay_examples)

- **Gradient clipping**: ``"per-tensor"`` is TensorFlow's ``clip_by_norm`` applied to each
  gradient tensor separately (the paper's), ``g ← g · c / max(‖g‖₂, c)``; ``"global"`` is
  ``torch.nn.utils.clip_grad_norm_`` (one norm over all tensors); ``"none"`` skips it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["EPSILON", "CLIP_MODES", "REDUCTIONS", "cross_entropy_on_probabilities",
           "staircase_learning_rate", "clip_gradients"]

EPSILON = 1e-5
CLIP_MODES = ("per-tensor", "global", "none")
REDUCTIONS = ("mean", "sum", "none")


def cross_entropy_on_probabilities(probs: torch.Tensor, labels: torch.Tensor,
                                   epsilon: float = EPSILON, *,
                                   reduction: str = "mean") -> torch.Tensor:
    """The paper's loss: summed over classes, averaged over the batch (a scalar).

    ``reduction`` (as in ``torch.nn.functional``): ``"mean"`` over the batch (training's
    loss), ``"sum"`` over the batch, or ``"none"``: the per-video losses
    ``L_b = sum over classes of -[y · log(p + ε) + (1 − y) · log(1 − p + ε)]`` (evaluation
    sums them over a whole split in float64).

    Shape:
        probs, labels ``(B, C)`` → ``()``, or ``(B,)`` with ``reduction="none"``. Computed in
        float32 at least (bf16 autocast safe).

    >>> p = torch.tensor([[0.9, 0.2]]); y = torch.tensor([[1.0, 0.0]])
    >>> round(float(cross_entropy_on_probabilities(p, y)), 4)  # -log(.90001) - log(.80001)
    0.3285
    """
    if probs.shape != labels.shape or probs.dim() != 2:
        raise ValueError(f"probs and labels must both be (B, C), got {tuple(probs.shape)} and "
                         f"{tuple(labels.shape)}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
    p = probs.float()
    y = labels.to(p.dtype)
    per_class = -(y * torch.log(p + epsilon) + (1 - y) * torch.log(1 - p + epsilon))  # (B, C)
    per_video = per_class.sum(dim=1)  # (B,)
    if reduction == "none":
        return per_video
    return per_video.sum() if reduction == "sum" else per_video.mean()


def staircase_learning_rate(base: float, decay: float, decay_examples: int,
                            examples: int) -> float:
    """``base · decay ** floor(examples / decay_examples)``.

    >>> staircase_learning_rate(2e-4, 0.8, 4_000_000, 3_999_999)
    0.0002
    >>> round(staircase_learning_rate(2e-4, 0.8, 4_000_000, 8_000_000), 10)
    0.000128
    """
    if decay_examples < 1:
        raise ValueError(f"decay_examples must be >= 1, got {decay_examples}")
    return base * decay ** (int(examples) // int(decay_examples))


def clip_gradients(parameters: Iterable[torch.nn.Parameter], max_norm: float,
                   mode: str = "per-tensor") -> float:
    """Clip gradients in place; returns the global gradient norm *before* clipping.

    ``per-tensor``: every gradient ``g`` becomes ``g · max_norm / max(‖g‖, max_norm)``
    (``tf.clip_by_norm``, the paper's); ``global``: one factor from the norm of all of them.
    """
    if mode not in CLIP_MODES:
        raise ValueError(f"clip mode {mode!r}; valid: {', '.join(CLIP_MODES)}")
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    dtype = torch.float64 if any(g.dtype == torch.float64 for g in grads) else torch.float32
    norms = torch.stack([torch.linalg.vector_norm(g, dtype=dtype) for g in grads])  # (n_tensors,)
    total = float(torch.linalg.vector_norm(norms))
    if mode == "none" or not math.isfinite(total):
        return total
    if mode == "global":
        factor = max_norm / max(total, max_norm)
        if factor < 1.0:
            for g in grads:
                g.mul_(factor)
        return total
    factors = max_norm / torch.clamp(norms, min=max_norm)  # 1 where ‖g‖ <= max_norm
    for g, f in zip(grads, factors):
        g.mul_(f.to(g.dtype))
    return total
