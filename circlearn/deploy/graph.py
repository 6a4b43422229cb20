r"""The deployable forward: a trained model in ``eval_sampling="all"`` mode, written with masks.

:class:`DeployGraph` is what ``circlearn export --format onnx`` traces. It computes the
model's evaluation outputs with ``eval_sampling="all"`` (every real frame, one bag, no random
draw) from the model's own modules, in a form an exporter can record for any batch size and
frame count::

    frames (B, T, D) float32, dequantized, streams in feature_names order
    num_frames (B,) int64, clamped to [0, T]
      real[b, t]  = t < num_frames[b]                      padding mask
      used[b, t]  = t < max(num_frames[b], 1)              a 0-frame video keeps one zero frame
      x = L2-normalize(frames · real)                      per frame, joint over D
      per stream: rows = x_s reshaped (B·T, F), the projection runs on every row,
                  unused rows are masked out before pooling:
        DBoF      max_t (or mean_t) of ReLU6(BN(W x_t)) · used      (ReLU6 ≥ 0: zeros never win)
        NetVLAD / NetFV  a = softmax(BN(W_a x_t)) · used, then the module's ``aggregate``
      ─ the model's FC + batch norm + ReLU6 per stream, classifier, context gating
    → probabilities (B, V)

    video level: features (B, D) float32 → L2-normalize → used streams → the model's classifier
                 and context gating (the model's forward)

Inputs are normalized in float32 also for a float16 model (``eps = 1e-12`` underflows in
float16, which would turn an all-zero padded frame into NaN); probabilities come out float32.

The model itself selects the real rows (``x[used]``) and checks its inputs with Python
``int()``/``bool()`` calls; both are data-dependent and cannot be exported, so the graph masks
instead. The two agree to rounding (tests/test_deploy_onnx.py compares them, and
:func:`circlearn.deploy.onnx_export.export_onnx` checks every export). Batch norm is in
inference mode, so a row's result does not depend on the other rows.

``num_frames = 0`` is defined as in the model: the video is pooled over one all-zero frame
(what the paper's sampler feeds the model for an empty video); its probabilities are finite and
the same for every such video. ``num_frames`` outside ``[0, T]`` is clamped into it (the model
raises; a graph cannot).
"""

from __future__ import annotations

import torch
from torch import nn

from circlearn.data.batch import prepare_frames
from circlearn.models import VideoClassifier
from circlearn.nn.pooling import DBoF

__all__ = ["DeployGraph", "frame_masks"]


def frame_masks(num_frames: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``real`` and ``used`` masks ``(B, T)`` for ``num_frames (B,)`` (already clamped)."""
    pos = torch.arange(t, device=num_frames.device).view(1, t)
    n = num_frames.view(-1, 1)
    return pos < n, pos < torch.clamp(n, min=1)


class DeployGraph(nn.Module):
    """The traceable evaluation forward of ``model`` with ``eval_sampling="all"``.

    Shape:
        frame level: frames ``(B, T, D)`` float, num_frames ``(B,)`` int64 → ``(B, V)``;
        video level: features ``(B, D)`` float → ``(B, V)``.
    """

    def __init__(self, model: VideoClassifier):
        super().__init__()
        if not isinstance(model, VideoClassifier):
            raise ValueError(f"DeployGraph needs a VideoClassifier, got {type(model).__name__}")
        self.model = model.eval()
        cfg = model.config
        self.frame_level = cfg.frame_level
        self.slices = {name: (s.start, s.stop) for name, s in cfg.stream_slices().items()}
        self.used_slices = [self.slices[name] for name in cfg.streams]

    def forward(self, frames: torch.Tensor, num_frames: torch.Tensor | None = None) -> torch.Tensor:
        m = self.model
        if not self.frame_level:  # the model's video-level forward, normalizing in float32
            x = prepare_frames(frames, None, torch.float32).to(m.param_dtype)  # (B, D)
            x = torch.cat([x[:, lo:hi] for lo, hi in self.used_slices], dim=1)  # (B, D_used)
            return m._classify(x).to(torch.float32)  # (B, V)
        b, t, _ = frames.shape
        n = torch.clamp(num_frames.to(torch.int64), min=0, max=t)  # (B,)
        real, used = frame_masks(n, t)  # (B, T) each
        # float32 normalization also for a float16 model: its eps 1e-12 underflows in float16
        x = prepare_frames(frames, real, torch.float32).to(m.param_dtype)  # (B, T, D)
        keep = used.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        h = []
        for name, pool in m.pooling.items():
            lo, hi = self.slices[name]
            xs = x[..., lo:hi]  # (B, T, F)
            rows = xs.reshape(b * t, hi - lo)  # (B·T, F)
            if isinstance(pool, DBoF):
                z = torch.clamp(pool.bn(pool.projection(rows)), 0.0, 6.0)  # (B·T, K)
                z = z.reshape(b, t, -1) * keep  # (B, T, K)
                if pool.pooling == "max":
                    pooled = z.amax(dim=1)  # (B, K)
                else:
                    pooled = z.sum(dim=1) / keep.sum(dim=1)  # (B, K)
            else:
                logits = pool.assignment(rows)  # (B·T, K)
                logits = pool.bn(logits) if pool.bn is not None else logits + pool.cluster_bias
                a = torch.softmax(logits, dim=-1).reshape(b, t, -1) * keep  # (B, T, K)
                pooled = pool.aggregate(a, xs * keep)  # (B, E)
            h.append(m.fc[name](pooled))  # (B, hidden)
        return m._classify(torch.cat(h, dim=1)).to(torch.float32)  # (B, V)
