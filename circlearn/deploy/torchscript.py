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

Either way the trace records the model's own forward
(:meth:`circlearn.models.VideoClassifier.forward`); while it is recorded, the checks that read
tensor values are skipped and ``num_frames`` is clamped into ``[0, T]`` (the eager model
raises), and the pooling modules mask unused frames instead of selecting the real rows
(:mod:`circlearn.deploy.graph` lists the differences).

TorchScript (``torch.jit.trace``) files load from Python (``torch.jit.load``) and C++ without
circlearn; TorchScript is deprecated in torch 2.13 but still works (its deprecation warnings
are silenced here). The other format, ONNX in fp32/fp16/int8 with every real frame, is
:mod:`circlearn.deploy.onnx`. ``circlearn export`` (:func:`circlearn.deploy.export.export_run`)
verifies every file, in either format, on evaluation records before it returns.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from circlearn.data.frames import frame_draws
from circlearn.models import VideoClassifier

__all__ = ["SampledEvaluation", "export_torchscript", "deployable"]


class SampledEvaluation(nn.Module):
    """The model's ``eval_sampling="random"`` evaluation with its frame draws stored.

    ``forward(frames, num_frames)`` is ``model(frames, num_frames, draws=u[:B])``: the model's
    own forward, fed the first ``B`` rows of the draw its evaluation makes from
    ``torch.Generator().manual_seed(eval_seed)``. Equal to ``model.eval()(frames, num_frames)``
    for ``B <= max_batch`` (tested).
    """

    def __init__(self, model: VideoClassifier, max_batch: int = 512):
        super().__init__()
        cfg = model.config
        self.model = model
        gen = torch.Generator().manual_seed(cfg.eval_seed)
        u = frame_draws(max_batch, cfg.iterations, cfg.n_bagging, gen)  # (max_batch, bags, it)
        self.register_buffer("u", u.to(next(model.parameters()).device))

    def forward(self, frames: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
        return self.model(frames, num_frames, draws=self.u[: frames.shape[0]])  # (B, V)


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
