r"""The deployable forward: a trained model in ``eval_sampling="all"`` mode, as a graph.

:class:`DeployGraph` is what ``circlearn export --format onnx`` exports. It is the model's own
forward (:meth:`circlearn.models.VideoClassifier.forward`) with ``eval_sampling="all"``:
every real frame, one bag, no random draw, for any batch size and frame count::

    frames (B, T, D) float32, dequantized, streams in feature_names order
    num_frames (B,) int64, clamped to [0, T]
      → the model's forward (L2-normalize each frame, pool, FC, classifier, context gating)
    → probabilities (B, V) float32

    video level: features (B, D) float32 → the model's forward → probabilities (B, V)

What changes while a graph is recorded is written where it happens, inside the model:

- the pooling modules run the per-frame projection on every frame and mask the unused ones
  out after it, where the eager model selects the real rows (``x[used]``): a data-dependent
  row count cannot be exported, and in inference mode batch norm treats each row alone, so
  the two agree to rounding (:mod:`circlearn.nn.pooling`);
- the input checks that read tensor values are skipped, and ``num_frames`` outside ``[0, T]``
  is clamped into it where the eager model raises
  (:func:`circlearn.nn.blocks.check_num_frames`).

Inputs are normalized in float32 also for a float16 model (the model's rule); probabilities
come out float32. ``num_frames = 0`` is defined as in the model: the video is pooled over one
all-zero frame (what the paper's sampler feeds the model for an empty video); its
probabilities are finite and the same for every such video.
"""

from __future__ import annotations

import torch
from torch import nn

from circlearn.models import VideoClassifier

__all__ = ["DeployGraph", "all_frames_model"]


def all_frames_model(model: VideoClassifier) -> VideoClassifier:
    """The same model (shared tensors, no copy) with ``eval_sampling="all"``, in eval mode."""
    if not isinstance(model, VideoClassifier):
        raise ValueError(f"expected a VideoClassifier, got {type(model).__name__}")
    if not model.config.frame_level or model.config.eval_sampling == "all":
        return model.eval()
    twin = VideoClassifier(model.config.replace(eval_sampling="all"), device="meta")
    twin.load_state_dict(model.state_dict(), assign=True)
    return twin.eval()


class DeployGraph(nn.Module):
    """The model's forward with ``eval_sampling="all"`` and float32 probabilities.

    Shape:
        frame level: frames ``(B, T, D)`` float, num_frames ``(B,)`` int64 → ``(B, V)``;
        video level: features ``(B, D)`` float → ``(B, V)``.
    """

    def __init__(self, model: VideoClassifier):
        super().__init__()
        self.model = all_frames_model(model)

    def forward(self, frames: torch.Tensor, num_frames: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(frames, num_frames).to(torch.float32)  # (B, V)
