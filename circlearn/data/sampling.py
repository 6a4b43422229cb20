"""The paper's frame sampling and half-video augmentation, as torch ops.

Shared by the data loaders (CPU) and the models (any device), so both sample the same way.

Frame sampling (paper code ``SampleRandomFrames``, ``--iterations=15``, ``--n_bagging=10``):
each bag draws ``iterations`` indices ``floor(u * num_frames)`` with ``u ~ U[0, 1)``, i.e.
uniformly **with replacement** among the real frames. A video with 0 frames draws index 0, a
padded (zero) frame, as in the paper's code.

Half-video augmentation (``--data_augmentation=True``): a video of ``n`` frames becomes two
examples with the same labels, its first ``ceil(n/2)`` frames and its last ``floor(n/2)``
frames, each zero-padded to ``T // 2`` frames.
"""

from __future__ import annotations

import torch

__all__ = ["sample_frame_indices", "frame_draws", "indices_from_draws", "gather_frames",
           "split_halves"]


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
