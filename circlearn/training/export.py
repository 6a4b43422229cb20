"""Export a trained model to a deployable TorchScript file, verified against the model.

The artifact takes the starter code's MediaPipe-style inputs (``yt8m.md`` §2.2):
``frames`` ``(B, T, D)`` uint8 (quantised, as stored), and ``num_frames`` ``(B,)`` int64, and
returns probabilities ``(B, C)``; video-level models take ``features (B, D)``. The trace fixes
the frames' dtype: float frames would be dequantized a second time (measured: 0.04 off the
model), so feed the bytes (the ONNX graph takes dequantized floats instead).
It reproduces the model's **evaluation** outputs exactly:

- ``eval_sampling="random"`` (the paper's sampler, reseeded: circlearn's deterministic
  choice; the paper's evaluation was in effect unseeded, ``paper.md`` §3.7): the model draws
  ``u ~ U[0, 1)^(B, bags, iterations)`` from ``torch.Generator().manual_seed(eval_seed)`` at
  every call and samples frames ``floor(u · num_frames)``. The artifact stores those ``u``
  for ``max_batch`` videos (float64; row ``i`` of a draw for ``B`` videos does not depend on
  ``B``), so batches of up to ``max_batch`` videos give the model's outputs;
- ``eval_sampling="all"`` and video-level models are traced as they are.

Formats: TorchScript (``torch.jit.trace``, here), loadable from Python (``torch.jit.load``)
and C++ without circlearn; TorchScript is deprecated in torch 2.13 but still works (its
deprecation warnings are silenced here). ``torch.export`` is not used for it: the model's
input checks (``int(num_frames.max())``) are data-dependent guards it refuses.

ONNX (``circlearn export --format onnx``, :mod:`circlearn.deploy.onnx_export`): opset 20,
fp32/fp16/int8, through ``torch.onnx.export(dynamo=True)`` (the optional ``deploy`` extra:
onnx, onnxscript, onnxruntime). It exports a mask-based twin of the model's
``eval_sampling="all"`` forward (:class:`circlearn.deploy.graph.DeployGraph`: every real frame,
no random draw, batch and frame count dynamic) under ``fast_path(plain=True)``, so the
circulant layers' ``torch.fft.rfft/irfft`` become ONNX ``DFT`` nodes; the old TorchScript
ONNX exporter cannot (``aten::fft_rfft`` is not supported at opset 20). Inputs and outputs:
frame level ``frames`` float32 ``(batch, frames, features)`` (dequantized; the per-frame L2
normalization is inside the graph) and ``num_frames`` int64 ``(batch,)``, video level
``features`` float32 ``(batch, features)``; output ``probabilities`` float32
``(batch, classes)``. ``num_frames = 0`` pools one all-zero frame (finite, the same for every
empty video). Every export, in either format, is verified on evaluation records by
:func:`circlearn.training.export_run.export_run` before ``circlearn export`` returns.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from circlearn.data.batch import prepare_frames
from circlearn.data.sampling import gather_frames
from circlearn.models import VideoClassifier

__all__ = ["SampledEvaluation", "export_torchscript", "deployable"]


class SampledEvaluation(nn.Module):
    """The model's ``eval_sampling="random"`` forward with its frame draws stored as a buffer.

    Equal to ``model.eval()(frames, num_frames)`` for ``B <= max_batch`` (tested).
    """

    def __init__(self, model: VideoClassifier, max_batch: int = 512):
        super().__init__()
        cfg = model.config
        self.model = model
        self.slices = {name: (s.start, s.stop) for name, s in cfg.stream_slices().items()}
        self.n_bagging = cfg.n_bagging
        gen = torch.Generator().manual_seed(cfg.eval_seed)
        u = torch.rand((max_batch, cfg.n_bagging, cfg.iterations), generator=gen,
                       dtype=torch.float64)  # (max_batch, bags, it), as sample_frame_indices
        self.register_buffer("u", u.to(next(model.parameters()).device))

    def forward(self, frames: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
        b = frames.shape[0]
        n = num_frames.to(torch.int64).view(b, 1, 1)
        idx = torch.floor(self.u[:b] * n.to(torch.float64)).to(torch.int64)  # (B, bags, it)
        real = idx < n
        x = prepare_frames(gather_frames(frames, idx), real, self.model.param_dtype)
        h = []
        for name, pool in self.model.pooling.items():
            lo, hi = self.slices[name]
            xs = x[..., lo:hi]  # (B, bags, it, F)
            bags = [pool(xs[:, j]) for j in range(self.n_bagging)]
            h.append(self.model.fc[name](torch.stack(bags, dim=1).mean(dim=1)))  # (B, hidden)
        p = self.model.classifier(torch.cat(h, dim=1))  # (B, V)
        return self.model.context_gating(p) if self.model.context_gating is not None else p


def deployable(model: VideoClassifier, max_batch: int = 512) -> nn.Module:
    """The module that is traced: the model itself or :class:`SampledEvaluation`."""
    model.eval()
    cfg = model.config
    if cfg.frame_level and cfg.eval_sampling == "random":
        return SampledEvaluation(model, max_batch).eval()
    return model


def _example_inputs(model: VideoClassifier, batch: int, frames: int, seed: int) -> tuple:
    cfg = model.config
    gen = torch.Generator().manual_seed(seed)
    if not cfg.frame_level:
        return (torch.randn(batch, cfg.input_size, generator=gen),)
    x = torch.randint(0, 256, (batch, frames, cfg.input_size), generator=gen, dtype=torch.uint8)
    n = torch.randint(0, frames + 1, (batch,), generator=gen)
    n[0] = frames
    return x, n


@torch.no_grad()
def export_torchscript(model: VideoClassifier, path: str | os.PathLike, *, max_batch: int = 512,
                       max_frames: int = 300, atol: float = 1e-5) -> dict:
    """Trace, save, reload and verify; returns ``{"path", "bytes", "max_abs_diff", ...}``.

    Verification: the reloaded artifact and the model (eval mode) on two random batches of
    different sizes (and frame counts) must agree within ``atol``, else ``RuntimeError``.
    """
    model = model.cpu().eval()
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"output directory {path.parent} does not exist")
    module = deployable(model, max_batch)
    example = _example_inputs(model, min(8, max_batch), min(max_frames, 40), seed=0)
    with warnings.catch_warnings():
        # The input checks are Python-side; the trace keeps the tensor ops (verified below).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.9+: TorchScript frozen
        traced = torch.jit.trace(module, example, check_trace=False)
        traced.save(str(path))
        loaded = torch.jit.load(str(path))
    diff = 0.0
    for inputs in (example, _example_inputs(model, min(5, max_batch), max(1, min(max_frames, 23)),
                                            seed=1)):
        ref = model(*inputs)
        out = loaded(*inputs)
        diff = max(diff, float((out - ref).abs().max()))
    if not diff <= atol:
        raise RuntimeError(f"exported model differs from the trained model by {diff:.3g} "
                           f"(> {atol}): not saved as verified")
    params = sum(p.numel() for p in model.parameters())
    return {"path": str(path), "format": "torchscript", "bytes": path.stat().st_size,
            "parameters": params, "parameter_bytes": 4 * params, "max_abs_diff": diff,
            "max_batch": max_batch if isinstance(module, SampledEvaluation) else None}
