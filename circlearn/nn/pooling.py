r"""Frame aggregation: DBoF, NetVLAD and NetFV, as in the paper's code (``paper.md`` §3.2).

Every module maps a padded batch of frame features to one fixed-size vector per video::

    x (B, T, F), num_frames (B,) | None  →  pooled (B, output_size)

Conventions shared by the three modules:

* **Padding never matters.** Only the real frames are used: the first ``num_frames[b]`` frames
  of video ``b``, or those a ``(B, T)`` bool ``mask`` marks (every module takes either). The
  per-frame projection and its batch norm run over the real frames only (in training mode
  the batch statistics are those of the real ``(batch × frames)`` rows, as in the paper's code,
  where sampled frames are always real). A video without a real frame is pooled over one
  all-zero frame, which is what the paper's sampler feeds the model for an empty half-video.
  While a graph is exported (TorchScript trace, ``torch.export``/ONNX) the projection runs on
  every frame and the unused ones are masked out after it, which is the same in inference
  mode (batch norm then treats each row alone).
* **Frame order never matters**: every aggregation is a max, a mean or a sum over frames.
* **Dense or structured projections.** The per-frame projection is an injected module mapping
  ``(N, F) → (N, K)`` without bias (batch norm follows), e.g. ``nn.Linear(F, K, bias=False)``
  or :class:`circlearn.nn.circulant.CirculantLinear`; ``None`` builds the paper's dense one.
* **Batch norm** is PyTorch's with ``momentum=0.001, eps=1e-3`` (TensorFlow decay 0.999).
* **L2 normalization** follows ``tf.nn.l2_normalize``: ``x / sqrt(max(Σx², 1e-12))``
  (:func:`circlearn.nn.blocks.l2_normalize`).

DBoF is Google's ``DbofModel`` style (*not* WILLOW's); NetVLAD and NetFV are WILLOW's, with
learned anchors separate from the assignment weights. Each class docstring has its formula.

Initialisation (``paper.md`` §2.4): dense DBoF weights ``N(0, 1/F)``; NetVLAD/NetFV assignment
weights and anchors ``N(0, 1/F)``; NetFV ``s ~ N(1, 1/F)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from circlearn.nn.blocks import (
    batch_norm,
    check_features,
    check_num_frames,
    dense_linear,
    exporting,
    l2_normalize,
)

__all__ = ["frame_mask", "used_frames", "DBoF", "NetVLAD", "NetFV"]

_POOLINGS = ("max", "average")


def frame_mask(num_frames: torch.Tensor | None, b: int, t: int, device) -> torch.Tensor | None:
    """The ``(B, T)`` bool mask of the first ``num_frames[b]`` frames (None: every frame).

    Checked by :func:`~circlearn.nn.blocks.check_num_frames` (clamped into ``[0, T]`` while
    a graph is exported).
    """
    if num_frames is None:
        return None
    n = check_num_frames(num_frames, b, t, device)  # (B,) int64
    return torch.arange(t, device=device).view(1, t) < n.view(b, 1)  # (B, T)


def used_frames(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` plus, for a video without any real frame, its first (zeroed) frame."""
    t = mask.shape[1]
    empty = ~mask.any(dim=1, keepdim=True)  # (B, 1)
    first = torch.arange(t, device=mask.device).view(1, t) == 0  # (1, T)
    return mask | (empty & first)  # (B, T)


def _frame_rows(x: torch.Tensor, num_frames: torch.Tensor | None, mask: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The frames to project as rows, and the ``(B, T)`` mask of the used ones (None: all).

    Eager: the used frames only (``x[used]``), so that batch norm in training mode sees the
    real rows only. While a graph is exported (:func:`~circlearn.nn.blocks.exporting`) every
    frame is a row and :func:`_unrows` masks the results instead: data-dependent row counts
    cannot be exported, and in inference mode a row's result does not depend on the others.
    A video with no real frame contributes one all-zero row (its first frame, zeroed).
    """
    if x.dim() != 3:
        raise ValueError(f"frames must have shape (B, T, F), got {tuple(x.shape)}")
    b, t, f = x.shape
    if t == 0:
        raise ValueError("frames must hold at least one (possibly padded) frame, got T = 0")
    if num_frames is not None and mask is not None:
        raise ValueError("pass num_frames or mask, not both")
    if mask is None:
        mask = frame_mask(num_frames, b, t, x.device)
    elif mask.shape != (b, t) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor of shape ({b}, {t}), got "
                         f"{mask.dtype} {tuple(mask.shape)}")
    if mask is None:
        return x.reshape(b * t, f), None  # (B·T, F)
    if exporting():
        x = x * mask.unsqueeze(-1).to(x.dtype)  # padding → 0
        return x.reshape(b * t, f), used_frames(mask)  # (B·T, F)
    if bool(mask.all()):
        return x.reshape(b * t, f), None
    x = x.masked_fill(~mask.unsqueeze(-1), 0)  # padding → 0 (matters for 0-frame videos)
    used = used_frames(mask)  # (B, T)
    return x[used], used  # (N, F)


def _unrows(rows: torch.Tensor, used: torch.Tensor | None, b: int, t: int) -> torch.Tensor:
    """Inverse of :func:`_frame_rows`: rows back to (B, T, K), zeros on unused frames."""
    k = rows.shape[-1]
    if used is None:
        return rows.reshape(b, t, k)
    if rows.shape[0] == b * t:  # every frame was a row (export): mask the unused ones
        return rows.reshape(b, t, k) * used.unsqueeze(-1).to(rows.dtype)  # (B, T, K)
    out = rows.new_zeros(b, t, k)
    return out.index_put((used,), rows)  # (B, T, K)


def _frame_counts(used: torch.Tensor | None, b: int, t: int, like: torch.Tensor) -> torch.Tensor:
    if used is None:
        return like.new_full((b, 1), float(t))
    return used.sum(dim=1, keepdim=True).to(like.dtype)  # (B, 1)


class DBoF(nn.Module):
    """Deep Bag-of-Frames: ``max_t ReLU6(BN(W x_t))`` (or the mean over frames).

    Google's ``DbofModel`` style, *not* WILLOW's::

        h_t = ReLU6(BN(W x_t)),   pooled = max_t h_t  (or mean_t h_t),    W: K × F

    Args:
        feature_size: ``F``, per-frame input features.
        cluster_size: ``K``, the projection's width (paper: 8192 video, 4096 audio).
        pooling: ``"max"`` (the paper's) or ``"average"``.
        projection: module ``(N, F) → (N, K)`` without bias; ``None`` builds a dense
            ``nn.Linear`` with weights ``N(0, 1/F)``. The paper's compact embedding is
            ``CirculantLinear(F, K, bias=False, diagonal="learned", init_std=1/sqrt(K))``.

    Shape:
        x ``(B, T, F)``, num_frames ``(B,)`` or None (all frames real) → ``(B, K)``.
    """

    def __init__(self, feature_size: int, cluster_size: int, pooling: str = "max",
                 projection: nn.Module | None = None, *, device=None, dtype=None):
        super().__init__()
        if pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {_POOLINGS}, got {pooling!r}")
        if feature_size < 1 or cluster_size < 1:
            raise ValueError(f"feature_size and cluster_size must be >= 1, got "
                             f"{feature_size} and {cluster_size}")
        self.feature_size, self.cluster_size, self.pooling = feature_size, cluster_size, pooling
        if projection is None:
            projection = dense_linear(feature_size, cluster_size, bias=False,
                                      std=1 / math.sqrt(feature_size), device=device, dtype=dtype)
        check_features(projection, feature_size, cluster_size, "projection", bias=False,
                       why=" (batch norm follows it)")
        self.projection = projection
        self.bn = batch_norm(cluster_size, device=device, dtype=dtype)

    @property
    def output_size(self) -> int:
        return self.cluster_size

    def forward(self, x: torch.Tensor, num_frames: torch.Tensor | None = None, *,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t = x.shape[:2]
        rows, used = _frame_rows(x, num_frames, mask)  # (N, F)
        h = torch.clamp(self.bn(self.projection(rows)), 0.0, 6.0)  # (N, K), ReLU6
        h = _unrows(h, used, b, t)  # (B, T, K), zeros on unused frames
        if self.pooling == "max":
            return h.amax(dim=1)  # (B, K); ReLU6 ≥ 0, so zero padding never wins
        return h.sum(dim=1) / _frame_counts(used, b, t, h)  # (B, K)

    def extra_repr(self) -> str:
        return f"{self.feature_size} → {self.cluster_size}, pooling={self.pooling}"


class _SoftAssignment(nn.Module):
    """Shared part of NetVLAD and NetFV: ``a_t = softmax(BN(W_a x_t))`` and anchors ``c``."""

    def __init__(self, feature_size: int, cluster_size: int, assignment: nn.Module | None,
                 add_batch_norm: bool, device, dtype):
        super().__init__()
        if feature_size < 1 or cluster_size < 1:
            raise ValueError(f"feature_size and cluster_size must be >= 1, got "
                             f"{feature_size} and {cluster_size}")
        self.feature_size, self.cluster_size = feature_size, cluster_size
        std = 1 / math.sqrt(feature_size)
        if assignment is None:
            assignment = dense_linear(feature_size, cluster_size, bias=False, std=std,
                                      device=device, dtype=dtype)
        check_features(assignment, feature_size, cluster_size, "assignment", bias=False,
                       why=" (batch norm follows it)")
        self.assignment = assignment
        if add_batch_norm:
            self.bn = batch_norm(cluster_size, device=device, dtype=dtype)
            self.register_parameter("cluster_bias", None)
        else:
            self.bn = None
            self.cluster_bias = nn.Parameter(torch.empty(cluster_size, device=device, dtype=dtype))
            nn.init.normal_(self.cluster_bias, std=std)
        # "cluster_weights2" in the paper's code, stored (F, K)
        self.anchors = nn.Parameter(torch.empty(feature_size, cluster_size, device=device,
                                                dtype=dtype))
        nn.init.normal_(self.anchors, std=std)

    def assign(self, x: torch.Tensor, num_frames: torch.Tensor | None = None,
               mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft assignments ``(B, T, K)`` (zero on padding) and frames ``(B, T, F)`` (zeroed)."""
        b, t = x.shape[:2]
        rows, used = _frame_rows(x, num_frames, mask)  # (N, F)
        logits = self.assignment(rows)  # (N, K)
        logits = self.bn(logits) if self.bn is not None else logits + self.cluster_bias
        a = _unrows(torch.softmax(logits, dim=-1), used, b, t)  # (B, T, K)
        return a, _unrows(rows, used, b, t)  # (B, T, K), (B, T, F)

    @property
    def output_size(self) -> int:
        return self.feature_size * self.cluster_size

    def extra_repr(self) -> str:
        return f"features={self.feature_size}, clusters={self.cluster_size}"


class NetVLAD(_SoftAssignment):
    """NetVLAD with learned anchors, intra and global L2 normalization, feature-major output.

    WILLOW's, the anchors ``c`` separate from the assignment weights::

        a_t = softmax(BN(W_a x_t)) ∈ R^K,   A_k = Σ_t a_tk
        V[f, k] = Σ_t a_tk x_tf − A_k c[f, k]
        V ← V / ‖V[:, k]‖ (intra, over f);  v = flatten(V)[f·K + k] (feature-major);  v ← v / ‖v‖

    Args:
        feature_size: ``F``.
        cluster_size: ``K`` (paper: 64 video, 32 audio).
        assignment: module ``(N, F) → (N, K)`` without bias; ``None`` builds a dense one with
            weights ``N(0, 1/F)``.
        add_batch_norm: batch norm on the assignment logits (the paper's); otherwise a learned
            bias ``N(0, 1/F)``.

    Shape:
        x ``(B, T, F)``, num_frames ``(B,)`` or None → ``(B, F·K)``, index ``f·K + k``.
    """

    def __init__(self, feature_size: int, cluster_size: int, assignment: nn.Module | None = None,
                 add_batch_norm: bool = True, *, device=None, dtype=None):
        super().__init__(feature_size, cluster_size, assignment, add_batch_norm, device, dtype)

    def forward(self, x: torch.Tensor, num_frames: torch.Tensor | None = None, *,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.aggregate(*self.assign(x, num_frames, mask))

    def aggregate(self, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Pool assignments ``a (B, T, K)`` (zero on unused frames) and frames ``x (B, T, F)``
        → ``(B, F·K)``."""
        a_sum = a.sum(dim=1).unsqueeze(1)  # (B, 1, K)
        vlad = torch.einsum("btk,btf->bfk", a, x) - a_sum * self.anchors  # (B, F, K)
        vlad = l2_normalize(vlad, dim=1)  # intra-normalization over f
        return l2_normalize(vlad.reshape(vlad.shape[0], -1), dim=1)  # (B, F·K)


class NetFV(_SoftAssignment):
    """NetFisherVectors as in the paper's (WILLOW's) code, first and second order.

    WILLOW's, with its σ² / σ⁴ denominators (``σ²[f, k] = s[f, k]² + 1e-6``)::

        fv1[f, k] = (Σ_t a_tk x_tf − A_k c_fk) / σ²_fk,        intra-L2 over f, flatten, global L2
        fv2[f, k] = (A_k c_fk² + Σ_t a_tk x_tf² − 2 c_fk Σ_t a_tk x_tf) / (σ²_fk)² − A_k,
                    flatten, global L2 (the paper code applies it twice; once is the same)
        pooled = concat[fv1, fv2]  ∈ R^{2FK}

    Args:
        feature_size, cluster_size, assignment, add_batch_norm: as :class:`NetVLAD`.

    Parameters beyond NetVLAD's: ``covar`` (``s``, ``(F, K)``, init ``N(1, 1/F)``), with
    ``σ² = s² + 1e-6``.

    Shape:
        x ``(B, T, F)``, num_frames ``(B,)`` or None → ``(B, 2·F·K)``: ``[fv1, fv2]``, each
        feature-major.
    """

    def __init__(self, feature_size: int, cluster_size: int, assignment: nn.Module | None = None,
                 add_batch_norm: bool = True, *, device=None, dtype=None):
        super().__init__(feature_size, cluster_size, assignment, add_batch_norm, device, dtype)
        # "covar_weights" in the paper's code
        self.covar = nn.Parameter(torch.empty(feature_size, cluster_size, device=device,
                                              dtype=dtype))
        nn.init.normal_(self.covar, mean=1.0, std=1 / math.sqrt(feature_size))

    @property
    def output_size(self) -> int:
        return 2 * self.feature_size * self.cluster_size

    def forward(self, x: torch.Tensor, num_frames: torch.Tensor | None = None, *,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.aggregate(*self.assign(x, num_frames, mask))

    def aggregate(self, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Pool assignments ``a (B, T, K)`` (zero on unused frames) and frames ``x (B, T, F)``
        → ``(B, 2·F·K)``."""
        b = a.shape[0]
        var = self.covar * self.covar + 1e-6  # (F, K), σ²
        c = self.anchors  # (F, K)
        a_sum = a.sum(dim=1).unsqueeze(1)  # (B, 1, K)
        first = torch.einsum("btk,btf->bfk", a, x)  # (B, F, K), Σ_t a x
        second = torch.einsum("btk,btf->bfk", a, x * x)  # (B, F, K), Σ_t a x²
        fv2 = (a_sum * c * c + second - 2 * first * c) / (var * var) - a_sum  # (B, F, K)
        fv2 = l2_normalize(fv2.reshape(b, -1), dim=1)  # (B, F·K)
        fv1 = (first - a_sum * c) / var  # (B, F, K)
        fv1 = l2_normalize(fv1, dim=1)  # intra over f
        fv1 = l2_normalize(fv1.reshape(b, -1), dim=1)  # (B, F·K)
        return torch.cat([fv1, fv2], dim=1)  # (B, 2·F·K)
