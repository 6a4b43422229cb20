"""Model inputs: dequantization and the per-frame joint L2 normalization (``paper.md`` §3.1).

YouTube-8M stores features as bytes ``q ∈ {0, …, 255}``; the starter code's
``utils.Dequantize(feat, max=2, min=-2)`` (``yt8m.md`` §1.6) maps them back as::

    f = q · (max − min) / 255 + (max − min) / 512 + min  =  q · 4/255 − 1.9921875

(the half-bin offset ``range/512`` is the reference's and is kept). Then every frame's
*concatenated* vector (rgb 1024 + audio 128, not each stream separately) is L2-normalized
(``tf.nn.l2_normalize`` semantics), and frames that are padding are zero — in the reference,
padding is appended after dequantization, so it is zero, not ``dequantize(0)``.

The implementation is the data layer's (:func:`circlearn.data.batch.prepare_frames`,
:func:`circlearn.data.yt8m.dequantize`), so loaders and models cannot drift apart.
"""

from __future__ import annotations

import torch

from circlearn.data import yt8m
from circlearn.data.batch import prepare_frames

__all__ = ["QUANT_MIN", "QUANT_MAX", "dequantize", "prepare_frames"]

QUANT_MIN = -2.0
QUANT_MAX = 2.0


def dequantize(q: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Bytes → floats: ``q · (max − min)/255 + (max − min)/512 + min`` with ``min, max = -2, 2``.

    >>> dequantize(torch.tensor([0, 255], dtype=torch.uint8))
    tensor([-1.9922,  2.0078])
    """
    return yt8m.dequantize(q, QUANT_MAX, QUANT_MIN, dtype=dtype)
