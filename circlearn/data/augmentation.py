"""The paper's half-video augmentation (``--data_augmentation=True``), a loader transform.

A video of ``n`` frames becomes two examples with the same labels, its first ``ceil(n/2)``
frames and its last ``floor(n/2)`` frames, each zero-padded to ``T // 2`` frames. The frame
sampling that follows it in the loaders is :func:`circlearn.data.frames.sample_frame_indices`.
"""

from __future__ import annotations

import torch

__all__ = ["split_halves"]


def split_halves(frames: torch.Tensor, num_frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split each video into two half-videos (the paper's augmentation).

    Video ``i`` becomes examples ``2i`` (frames ``[0, ceil(n/2))``) and ``2i + 1`` (frames
    ``[ceil(n/2), n)``), each zero-padded to ``T // 2`` frames; repeat the labels with
    ``labels.repeat_interleave(2, dim=0)``. ``T`` must be even.

    Shape:
        frames ``(B, T, D)``, num_frames ``(B,)`` → ``(2B, T // 2, D)``, ``(2B,)``.

    >>> f = torch.arange(6).view(1, 6, 1)
    >>> h, n = split_halves(f, torch.tensor([5]))
    >>> h[..., 0].tolist(), n.tolist()
    ([[0, 1, 2], [3, 4, 0]], [3, 2])
    """
    b, t, d = frames.shape
    if t % 2:
        raise ValueError(f"split_halves needs an even number of padded frames, got T={t}")
    half = t // 2
    n = num_frames.to(torch.int64).clamp(max=t)
    first_n = (n + 1) // 2  # ceil(n/2)
    second_n = n // 2
    pos = torch.arange(half, device=frames.device)  # (T/2,)
    first = frames[:, :half]  # (B, T/2, D)
    first = first * (pos.view(1, -1) < first_n.view(-1, 1)).unsqueeze(-1).to(frames.dtype)
    src = (first_n.view(-1, 1) + pos.view(1, -1)).clamp(max=t - 1)  # (B, T/2)
    second = torch.gather(frames, 1, src.unsqueeze(-1).expand(b, half, d))
    second = second * (pos.view(1, -1) < second_n.view(-1, 1)).unsqueeze(-1).to(frames.dtype)
    out = torch.stack([first, second], dim=1).reshape(2 * b, half, d)  # (2B, T/2, D)
    counts = torch.stack([first_n, second_n], dim=1).reshape(2 * b)  # (2B,)
    return out, counts
