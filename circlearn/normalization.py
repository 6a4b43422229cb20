r"""The L2 normalization of ``tf.nn.l2_normalize``, shared by the data layer and the layers.

The input convention (``yt8m.md`` §1.7: every frame's concatenated vector is L2-normalized,
:func:`circlearn.data.batch.prepare_frames`) and NetVLAD/NetFV (:mod:`circlearn.nn.pooling`)
both use it; it lives here, below both, so neither reaches sideways into the other.
"""

from __future__ import annotations

import torch

__all__ = ["l2_normalize"]


def l2_normalize(x: torch.Tensor, dim: int = -1, eps: float = 1e-12) -> torch.Tensor:
    """``tf.nn.l2_normalize``: ``x / sqrt(max(Σ x², eps))`` along ``dim``; zeros stay zeros.

    >>> l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[0.6000, 0.8000],
            [0.0000, 0.0000]])
    """
    return x * torch.rsqrt(torch.clamp((x * x).sum(dim=dim, keepdim=True), min=eps))
