r"""``VideoClassifier``: the paper's video models composed from a :class:`ModelConfig`.

Frame-level model (``config.pooling`` set; ``paper.md`` §3)::

    frames (B, T, D) uint8|float ─ dequantize, zero padding, L2-normalize each frame (joint D)
      ─ split into streams (feature_sizes, in order); for each used stream s:
          pooled_s = mean over n_bagging bags of pool_s(iterations frames sampled with
                     replacement among the real frames)           (training / "random")
                   = pool_s(all real frames)                       (eval_sampling = "all")
          h_s = ReLU6(BN(FC_s(pooled_s)))                          (hidden_size, no FC bias)
      ─ concat[h_s] ─ classifier (MoE or logistic) ─ [Context Gating] ─ probabilities (B, V)

Video-level model (``pooling=None``, the starter code's ``logistic`` / ``moe``)::

    features (B, D) float ─ L2-normalize ─ used streams ─ classifier ─ [CG] ─ probabilities

Initializations (``paper.md`` §2.4): dense FC ``N(0, 1/hidden)``, circulant FC ``c, d ~
N(0, 1/hidden)``; dense DBoF ``N(0, 1/F)``, circulant DBoF ``N(0, 1/K_c)``; dense MoE
Xavier-uniform; circulant MoE gates ``N(0, 1/(V(M+1)))``, experts ``N(0, 1/(VM))`` with bias
``1/sqrt(VM)``; context gating ``N(0, 1/V)``. Toeplitz and low-rank layers take the dense
rule of their place (their weight's entries with the dense standard deviation; Xavier's
``sqrt(2/(in+out))`` in the classifier, zero bias) and, like every non-dense classifier, no
L2. Batch norm: ``momentum=0.001, eps=1e-3``.
Bagging calls each pooling module once per bag, so its batch norm sees each bag's statistics
and updates its running averages ``n_bagging`` times per step, as the paper's code does.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from circlearn.data.frames import frame_draws, gather_frames, indices_from_draws, prepare_frames
from circlearn.models.config import ModelConfig
from circlearn.models.layers import make_linear
from circlearn.nn.blocks import batch_norm, check_num_frames
from circlearn.nn.gating import ContextGating, LogisticClassifier, MixtureOfExperts
from circlearn.nn.pooling import DBoF, NetFV, NetVLAD

__all__ = ["VideoClassifier"]


class _StreamFC(nn.Module):
    """``ReLU6(BN(x W))``: the FC after each stream's pooling (``make_fc``)."""

    def __init__(self, layer: nn.Module, size: int, device, dtype):
        super().__init__()
        self.linear = layer
        self.bn = batch_norm(size, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.bn(self.linear(x)), 0.0, 6.0)  # (B, hidden)


class VideoClassifier(nn.Module):
    """A DBoF / NetVLAD / NetFV (or video-level) classifier returning probabilities.

    Args:
        config: the model's :class:`ModelConfig`.
        device, dtype: where and in which dtype to allocate (``"meta"`` builds without memory).

    Shape:
        frame level: frames ``(B, T, D_total)`` uint8 or float, num_frames ``(B,)`` integer
        (default: ``T`` each) → ``(B, num_classes)``; video level: ``(B, D_total)`` float →
        ``(B, num_classes)``.
    """

    def __init__(self, config: ModelConfig, *, device=None, dtype=None):
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        self.config = cfg = config
        kw = {"device": device, "dtype": dtype}
        sizes = dict(zip(cfg.feature_names, cfg.feature_sizes))
        signs = itertools.count(cfg.sign_seed)  # one seed per sign-diagonal layer
        self.pooling = nn.ModuleDict()
        self.fc = nn.ModuleDict()
        if cfg.frame_level:
            for name, k in zip(cfg.streams, cfg.cluster_sizes):
                f = sizes[name]
                self.pooling[name] = self._make_pooling(f, k, next(signs), kw)
                out = self.pooling[name].output_size
                layer = make_linear(cfg.fc, out, cfg.hidden_size, bias=False,
                                    std=1 / math.sqrt(cfg.hidden_size), n_factors=cfg.n_factors,
                                    sign_seed=next(signs), rank=cfg.rank, **kw)
                self.fc[name] = _StreamFC(layer, cfg.hidden_size, device, dtype)
            width = cfg.hidden_size * len(cfg.streams)
        else:
            width = sum(sizes[name] for name in cfg.streams)
        self.classifier = self._make_classifier(width, next(signs), kw)
        self.context_gating = (ContextGating(cfg.num_classes, cfg.context_gating_batch_norm, **kw)
                               if cfg.context_gating else None)

    def _make_pooling(self, f: int, k: int, sign_seed: int, kw: dict) -> nn.Module:
        cfg = self.config
        if cfg.pooling == "dbof":
            circulant = cfg.embedding.startswith("circulant")
            std = 1 / math.sqrt(k) if circulant else 1 / math.sqrt(f)
            proj = make_linear(cfg.embedding, f, k, bias=False, std=std, n_factors=cfg.n_factors,
                               sign_seed=sign_seed, rank=cfg.rank, **kw)
            return DBoF(f, k, cfg.dbof_pooling, proj, **kw)
        proj = make_linear(cfg.embedding, f, k, bias=False, std=1 / math.sqrt(f),
                           n_factors=cfg.n_factors, sign_seed=sign_seed, rank=cfg.rank, **kw)
        return (NetVLAD if cfg.pooling == "netvlad" else NetFV)(f, k, proj, **kw)

    def _make_classifier(self, width: int, sign_seed: int, kw: dict) -> nn.Module:
        cfg = self.config
        v, m = cfg.num_classes, cfg.num_mixtures
        dense = cfg.classifier_layer == "dense"
        circulant = cfg.classifier_layer.startswith("circulant")

        def std(out: int) -> float:  # circulant: the paper's 1/sqrt(out); else Xavier's
            return 1 / math.sqrt(out) if circulant else math.sqrt(2 / (width + out))

        lin = {"n_factors": cfg.n_factors, "rank": cfg.rank, **kw}
        if cfg.classifier == "logistic":
            layer = None if dense else make_linear(
                cfg.classifier_layer, width, v, bias=True, std=std(v), sign_seed=sign_seed, **lin)
            return LogisticClassifier(width, v, layer, l2=cfg.l2 if dense else 0.0, **kw)
        gates = experts = None
        if not dense:  # Circulant_MoeModel: no L2 (paper.md §3.5)
            gates = make_linear(cfg.classifier_layer, width, v * (m + 1), bias=False,
                                std=std(v * (m + 1)), sign_seed=sign_seed, **lin)
            experts = make_linear(cfg.classifier_layer, width, v * m, bias=True,
                                  std=std(v * m), sign_seed=sign_seed + 1, **lin)
        return MixtureOfExperts(width, v, m, gates, experts, l2=cfg.l2 if dense else 0.0, **kw)

    @property
    def param_dtype(self) -> torch.dtype:
        """Floating dtype of the parameters: inputs are dequantized / cast to it.

        A model whose every parameter was replaced by buffers (an export whose layers are all
        lowered, :mod:`circlearn.deploy.lowering`) takes its buffers' dtype instead.
        """
        tensors = itertools.chain(self.parameters(), self.buffers())
        return next(t.dtype for t in tensors if t.is_floating_point())

    # ----------------------------------------------------------------------------- forward
    def forward(self, frames: torch.Tensor, num_frames: torch.Tensor | None = None,
                generator: torch.Generator | None = None,
                draws: torch.Tensor | None = None) -> torch.Tensor:
        """Probabilities ``(B, num_classes)``.

        The one forward of the model: training, evaluation, the TorchScript file and the ONNX
        graph all run it (the module docstring has the formulas). ``generator`` drives the
        random frame sampling; ``draws`` replaces it by given uniform draws ``u``
        ``(B, n_bagging, iterations)`` float64 (:func:`~circlearn.data.frames.frame_draws`),
        which is how the TorchScript file reproduces the seeded evaluation.

        Inputs are checked; while a graph is exported the checks that read tensor values
        cannot run, and ``num_frames`` is clamped into ``[0, T]`` instead
        (:func:`~circlearn.nn.blocks.check_num_frames`).
        """
        cfg = self.config
        if not cfg.frame_level:
            return self._forward_video_level(frames)
        if frames.dim() != 3:
            raise ValueError(f"frames must have shape (B, T, D), got {tuple(frames.shape)}")
        b, t, d = frames.shape
        if d != cfg.input_size:
            raise ValueError(f"frames have D={d} features but feature_sizes "
                             f"{cfg.feature_sizes} sum to {cfg.input_size}")
        if t == 0:
            raise ValueError("frames must hold at least one (possibly padded) frame, got T = 0")
        num_frames = check_num_frames(num_frames, b, t, frames.device)  # (B,)
        sampling = "random" if self.training else cfg.eval_sampling
        if sampling == "random":
            if draws is None:
                if generator is None and not self.training:
                    generator = torch.Generator().manual_seed(cfg.eval_seed)
                draws = frame_draws(b, cfg.iterations, cfg.n_bagging, generator, frames.device)
            idx = indices_from_draws(draws, num_frames)  # (B, bags, it)
            real = idx < num_frames.view(b, 1, 1)  # False only for 0-frame videos
            x = self._inputs(gather_frames(frames, idx), real)  # (B, bags, it, D)
            pooled = {name: self._pool_bags(name, x) for name in self.pooling}  # (B, E) each
        else:
            real = torch.arange(t, device=frames.device).view(1, t) < num_frames.view(b, 1)
            x = self._inputs(frames, real)  # (B, T, D)
            slices = cfg.stream_slices()
            pooled = {name: pool(x[..., slices[name]], mask=real)  # (B, E)
                      for name, pool in self.pooling.items()}
        h = torch.cat([self.fc[name](pooled[name]) for name in self.pooling], dim=1)
        return self._classify(h)  # (B, V)

    def _inputs(self, frames: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        """Model inputs in the parameters' dtype (:func:`~circlearn.data.frames.prepare_frames`).

        The L2 normalization runs in at least float32: a float16 model's frames are normalized
        in float32 and cast after (``eps = 1e-12`` underflows in float16, which would turn an
        all-zero padded frame into NaN).
        """
        dtype = self.param_dtype
        x = prepare_frames(frames, real, torch.promote_types(dtype, torch.float32))
        return x.to(dtype)

    def _pool_bags(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """The mean over bags of ``pool(bag)``: ``x (B, bags, it, D)`` → ``(B, E)``.

        Every sampled frame counts (a 0-frame video's draws are its zeroed first frame).
        """
        xs = x[..., self.config.stream_slices()[name]]  # (B, bags, it, F)
        pool = self.pooling[name]
        bags = [pool(xs[:, j]) for j in range(xs.shape[1])]  # bags × (B, E)
        return torch.stack(bags, dim=1).mean(dim=1)  # (B, E)

    def _forward_video_level(self, features: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if features.dim() != 2 or features.shape[1] != cfg.input_size:
            raise ValueError(f"video-level features must have shape (B, {cfg.input_size}) "
                             f"(feature_sizes {cfg.feature_sizes}), got {tuple(features.shape)}")
        if not features.is_floating_point():
            raise ValueError(f"video-level features must be floating point, got {features.dtype}")
        x = self._inputs(features, None)  # (B, D)
        slices = cfg.stream_slices()
        x = torch.cat([x[:, slices[name]] for name in cfg.streams], dim=1)  # (B, D_used)
        return self._classify(x)

    def _classify(self, h: torch.Tensor) -> torch.Tensor:
        p = self.classifier(h)  # (B, V)
        return self.context_gating(p) if self.context_gating is not None else p

    # ----------------------------------------------------------------------------- extras
    def regularization_loss(self) -> torch.Tensor:
        """The L2 terms the training loop adds: the classifier's ``l2 · ½‖W‖²`` (dense only)."""
        return self.classifier.regularization_loss()

    def size_report(self) -> list[dict]:
        """Trainable parameters and bytes (fp32, fp16) per component, plus a total row.

        Components: ``pooling.<stream>``, ``fc.<stream>``, ``classifier``, ``context_gating``.
        ``buffers`` counts stored non-trainable values (batch-norm statistics, sign diagonals).
        """
        from circlearn.models.size import size_report

        return size_report(self)

    def extra_repr(self) -> str:
        cfg = self.config
        return (f"pooling={cfg.pooling}, streams={cfg.streams}, embedding={cfg.embedding}, "
                f"fc={cfg.fc}, classifier={cfg.classifier}/{cfg.classifier_layer}, "
                f"classes={cfg.num_classes}")
