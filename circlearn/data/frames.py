r"""Frame preparation: from stored YouTube-8M bytes to model inputs, as torch ops.

The data loaders (CPU) and the models (any device, one layer up) share these functions, so
both prepare and sample frames the same way. The input convention (``yt8m.md`` §1.6-1.7, the
starter code's)::

    dequantize(q) = q · 4/255 + 4/512 − 2       the file format's (circlearn.data.yt8m)
    x_t ← x_t / sqrt(max(‖x_t‖², 1e-12))        each frame's concatenated streams
                                                (circlearn.nn.blocks.l2_normalize)

Padded frames are zero, not ``dequantize(0)``: the reference pads after dequantizing
(:func:`prepare_frames`). This module loads torch; :mod:`circlearn.data.yt8m` and the record
readers do not.

Frame sampling (paper code ``SampleRandomFrames``, ``--iterations=15``, ``--n_bagging=10``):
each bag draws ``iterations`` indices ``floor(u * num_frames)`` with ``u ~ U[0, 1)``, i.e.
uniformly **with replacement** among the real frames (:func:`sample_frame_indices`, split
into :func:`frame_draws` and :func:`indices_from_draws`; :func:`gather_frames` picks them). A
video with 0 frames draws index 0, a padded (zero) frame, as in the paper's code.
"""

from __future__ import annotations

import torch

from circlearn.nn.blocks import l2_normalize

from .yt8m import dequantize

__all__ = ["prepare_frames", "sample_frame_indices", "frame_draws", "indices_from_draws",
           "gather_frames"]

def prepare_frames(frames: torch.Tensor, real: torch.Tensor | None = None,
                   dtype: torch.dtype | None = None, normalize: bool = True) -> torch.Tensor:
    """Dequantize ``uint8`` input (floats pass through), zero non-``real`` frames, L2-normalize.

    The one implementation of the input convention, used by the models and by the data
    loaders' :meth:`circlearn.data.batch.Batch.inputs`. Padding is zero, not
    ``dequantize(0)``: the reference pads after dequantizing.

    Shape:
        frames ``(..., D)`` uint8 or float, real ``(...)`` bool or None → ``(..., D)`` float.
    """
    if frames.dtype == torch.uint8:
        x = dequantize(frames, dtype=dtype)
    elif frames.is_floating_point():
        x = frames if dtype is None else frames.to(dtype)
    else:
        raise ValueError(f"frames must be uint8 (quantized) or floating point, got {frames.dtype}")
    if real is not None:
        x = x * real.unsqueeze(-1).to(x.dtype)  # padding → 0
    return l2_normalize(x, dim=-1) if normalize else x


def sample_frame_indices(
    num_frames: torch.Tensor,
    iterations: int,
    n_bags: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw ``iterations`` frame indices per bag, uniformly with replacement.

    Shape:
        num_frames: ``(B,)`` integer; returns ``(B, n_bags, iterations)`` int64 on the same
        device as ``num_frames``.

    >>> idx = sample_frame_indices(torch.tensor([3, 0]), 4, 2, torch.Generator().manual_seed(0))
    >>> idx.shape, bool((idx[0] < 3).all()), bool((idx[1] == 0).all())
    (torch.Size([2, 2, 4]), True, True)
    """
    if num_frames.dim() != 1:
        raise ValueError(f"num_frames must have shape (B,), got {tuple(num_frames.shape)}")
    u = frame_draws(num_frames.shape[0], iterations, n_bags, generator, num_frames.device)
    return indices_from_draws(u, num_frames)


def frame_draws(batch: int, iterations: int, n_bags: int = 1,
                generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """The uniform draws ``u ~ U[0, 1)`` behind :func:`sample_frame_indices`, float64.

    Row ``i`` of a draw for ``batch`` videos does not depend on ``batch`` (one ``torch.rand``
    call fills the rows in order), so a stored draw for ``B`` videos serves any smaller batch.

    Shape:
        returns ``(batch, n_bags, iterations)`` float64 on ``device``.
    """
    if iterations < 1 or n_bags < 1:
        raise ValueError(f"iterations and n_bags must be >= 1, got {iterations} and {n_bags}")
    gen_device = generator.device if generator is not None else device
    u = torch.rand((batch, n_bags, iterations), generator=generator, device=gen_device,
                   dtype=torch.float64)  # (B, bags, it)
    return u if device is None else u.to(device)


def indices_from_draws(u: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
    """Frame indices ``floor(u · num_frames)`` (0 for a video without frames).

    Shape:
        u ``(B, bags, it)`` float64 in ``[0, 1)``, num_frames ``(B,)`` → ``(B, bags, it)`` int64.
    """
    b = num_frames.shape[0]
    n = num_frames.to(torch.float64).view(b, 1, 1)
    return torch.floor(u * n).to(torch.int64)


def gather_frames(frames: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Pick frames by index: ``out[b, ..., i, :] = frames[b, indices[b, ..., i], :]``.

    Shape:
        frames ``(B, T, D)``, indices ``(B, *S)`` → ``(B, *S, D)``.
    """
    b, t, d = frames.shape
    flat = indices.reshape(b, -1)  # (B, S)
    if flat.numel() and (int(flat.max()) >= t or int(flat.min()) < 0):
        raise ValueError(f"frame index out of range for {t} frames")
    out = torch.gather(frames, 1, flat.unsqueeze(-1).expand(b, flat.shape[1], d))  # (B, S, D)
    return out.reshape(*indices.shape, d)
