r"""Export-time substitutes: circulant layers as ``MatMul`` s, DBoF pooled feature-major.

:func:`lower_model` returns a copy of a trained model in which some modules are replaced for
the exported graph only; training, checkpoints and the eager model never see them:

- :class:`MatMulCirculant` replaces a :class:`~circlearn.nn.circulant.CirculantLinear` (one
  factor per block) by real matrix products (:mod:`circlearn.deploy.fourstep`: three, with
  stored mixing blocks, or the four-step FFT with ``O(n)`` stored floats), whose matrices
  are **buffers** computed in float64 from the layer's parameters and stored
  float32 (traced ``rfft`` calls would be exported as ONNX ``DFT`` nodes again). It computes
  in float32 also inside a float16 model (circlearn's FFT precision rule: the transforms
  stay float32), casting its input and output.
- :class:`FeatureMajorDBoF` replaces a :class:`~circlearn.nn.pooling.DBoF` by the same
  computation on a ``(K, B·T)`` layout, so that the max over frames reduces the last axis
  (ONNX Runtime's ``ReduceMax`` over the middle axis of ``(1, 300, 8192)`` is slow;
  ``structured.md`` §5.6). A lowered circulant projection produces that layout directly; a
  dense one computes ``rows @ Wᵀ`` (weight second, so int8 quantizes it) and transposes.

Which layers are lowered, and which DBoF modules are pooled feature-major, is decided per
layer by :mod:`circlearn.deploy.crossover` from measured timings (``lowering="auto"``), or
forced (``"matmul"`` or ``"matmul-fft"``: every layer that can be, in that form; ``"dft"``:
none, every circulant layer as ``DFT`` nodes).
The plain-torch twin (``fast_path(plain=True)``) and the NumPy references stay the truth:
tests tie :class:`MatMulCirculant` to both.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from circlearn.deploy import fourstep
from circlearn.nn.circulant import CirculantLinear
from circlearn.nn.pooling import DBoF, frame_mask, used_frames

__all__ = ["LOWERINGS", "LAYOUTS", "MATRIX_BUFFERS", "MatMulCirculant", "FeatureMajorDBoF",
           "lowerable", "lowering_plan", "lower_model"]

LOWERINGS = ("auto", "matmul", "matmul-fft", "dft")
#: Plan form → :class:`MatMulCirculant`'s ``form``.
_FORMS = {"matmul": "mix", "matmul-fft": "fft"}
LAYOUTS = ("auto", "batch-major", "feature-major")
#: Buffer names of the DFT matrices: int8 quantization must leave them float32
#: (:func:`circlearn.deploy.onnx.quantize_int8` excludes the nodes that read them).
MATRIX_BUFFERS = ("dft_forward", "dft_mix", "dft_inverse", "dft_edge", "dft_g", "dft_ginv")


def lowerable(layer: nn.Module) -> bool:
    """True for a ``CirculantLinear`` with one factor per block and an even size ``n``."""
    return (isinstance(layer, CirculantLinear) and layer.n_factors == 1
            and fourstep.split(layer.in_features) is not None)


def _diagonals(layer: CirculantLinear) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(c, d, s)`` in float64: first columns ``(blocks, n)``, input diagonal ``(blocks, n)``
    or None, output signs ``(out,)`` or None (``diagonal="sign-output"``: ``W = diag(s) C``)."""
    c = layer.c.detach()[:, 0].to("cpu", torch.float64).numpy()
    if layer.d is None:
        return c, None, None
    d = layer.d.detach()[:, 0].to("cpu", torch.float64).numpy()
    if layer.diagonal == "sign-output":
        return c, None, d.reshape(-1)[:layer.out_features]
    return c, d, None


def _float32(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float32)


def _complex_scale(z: torch.Tensor, re: torch.Tensor, im: torch.Tensor, n2: int) -> torch.Tensor:
    """``z ⊙ (re + i·im)`` for ``z`` stored as ``(…, [Re; Im], R)`` with ``2n2`` rows."""
    zr, zi = z[..., :n2, :], z[..., n2:, :]
    return torch.cat([zr * re - zi * im, zr * im + zi * re], dim=-2)


class MatMulCirculant(nn.Module):
    """A one-factor :class:`~circlearn.nn.circulant.CirculantLinear` as matrix products::

        t1 = F (d ⊙ x),   t2 = M_s t1 per frequency pair,   y = F⁻¹ t2 (+ bias)

    on the feature-major layout ``(blocks, n1, n2·R)`` (:mod:`circlearn.deploy.fourstep`), the
    matrices first in every product. ``form="mix"`` stores the blocks ``M_s`` (three products,
    least work); ``form="fft"`` applies ``M_s = conj(t_s) G⁻¹ diag(ĉ_s) G t_s`` factor by factor
    (the four-step FFT written with products; ``O(n)`` stored floats, more work). Buffers
    (float32, computed in float64): ``dft_forward`` ``(n1, n1)``, ``dft_inverse`` (the rows of
    ``F⁻¹`` the output needs); ``"mix"``: ``dft_mix`` ``(blocks, n1/2, 2n2, 2n2)``; ``"fft"``:
    ``dft_edge`` ``(blocks, 1, 2n2, 2n2)`` (``M_0``), ``dft_g`` and ``dft_ginv`` ``(2n2, 2n2)``
    (``G``, ``G⁻¹`` on ``[Re; Im]``), ``twiddle_re``/``_im`` ``(n1/2−1, n2, 1)``,
    ``spectrum_re``/``_im`` ``(blocks, n1/2−1, n2, 1)``; ``d`` ``(blocks, n, 1)``, ``bias`` and
    ``out_scale`` (the signs of ``diagonal="sign-output"``) ``(out, 1)``, each or None.

    Args:
        layer: the layer to lower (its parameters are read once; it is not kept).
        form: ``"mix"`` or ``"fft"``.
        n1: the outer DFT size (default :func:`~circlearn.deploy.fourstep.split`, or
            :func:`~circlearn.deploy.fourstep.split_fft` for ``"fft"``).

    Shape:
        :meth:`forward`: ``(*, n)`` → ``(*, out)``; :meth:`forward_feature_major`:
        ``(n, R)`` → ``(out, R)``.
    """

    def __init__(self, layer: CirculantLinear, form: str = "mix", n1: int | None = None):
        super().__init__()
        if not lowerable(layer) or form not in ("mix", "fft"):
            raise ValueError(f"cannot lower {layer!r} in form {form!r}: needs one factor per "
                             f"block, an even in_features and form 'mix' or 'fft'")
        n, out = self.in_features, self.out_features = layer.in_features, layer.out_features
        if n1 is None:
            n1 = (fourstep.split(n) if form == "mix" else fourstep.split_fft(n, out))[0]
        c, d, s = _diagonals(layer)
        self.form, self.blocks, self.n1, self.n2 = form, c.shape[0], n1, n // n1
        if form == "mix":
            fwd, mix, _, inv, _ = fourstep.three_matrices(c, d, n1)
            self.register_buffer("dft_mix", _float32(mix))
        else:
            f = fourstep.fft_factors(c, n1)
            fwd, inv, g = f["forward"], f["inverse"], f["g"]
            g_inv = np.linalg.inv(g)
            real = lambda m: np.block([[m.real, -m.imag], [m.imag, m.real]])  # noqa: E731
            self.register_buffer("dft_edge", _float32(f["edge"])[:, None])
            self.register_buffer("dft_g", _float32(real(g)))
            self.register_buffer("dft_ginv", _float32(real(g_inv)))
            for name in ("twiddle", "spectrum"):
                self.register_buffer(f"{name}_re", _float32(f[name].real)[..., None])
                self.register_buffer(f"{name}_im", _float32(f[name].imag)[..., None])
        if self.blocks == 1:  # out <= n: only the first ceil(out / n2) rows of F⁻¹ are needed
            inv = inv[:-(-out // self.n2)]
        self.register_buffer("dft_forward", _float32(fwd))
        self.register_buffer("dft_inverse", _float32(inv))
        self.register_buffer("d", None if d is None else _float32(d)[:, :, None])
        bias = None if layer.bias is None else layer.bias.detach().to("cpu", torch.float32)
        self.register_buffer("bias", None if bias is None else bias[:, None])
        self.register_buffer("out_scale", None if s is None else _float32(s)[:, None])

    def _mix_fft(self, t1: torch.Tensor) -> torch.Tensor:
        """``M_s t1`` factor by factor: ``(·, n1/2, 2n2, R)`` → ``(blocks, n1/2, 2n2, R)``."""
        n2 = self.n2
        head = self.dft_edge @ t1[:, :1]  # (blocks, 1, 2n2, R): frequencies 0 and n1/2
        z = _complex_scale(t1[:, 1:], self.twiddle_re, self.twiddle_im, n2)
        z = _complex_scale(self.dft_g @ z, self.spectrum_re, self.spectrum_im, n2)
        z = _complex_scale(self.dft_ginv @ z, self.twiddle_re, -self.twiddle_im, n2)
        return torch.cat([head, z], dim=1)

    def forward_feature_major(self, xt: torch.Tensor) -> torch.Tensor:
        """``(n, R)`` → ``(out, R)``, computed in float32, returned in ``xt``'s dtype."""
        dtype, n, r = xt.dtype, self.in_features, xt.shape[-1]
        x = xt.to(torch.float32).reshape(1, n, r)  # (1, n, R)
        if self.d is not None:
            x = x * self.d  # (blocks, n, R)
        t1 = self.dft_forward @ x.reshape(x.shape[0], self.n1, self.n2 * r)  # (·, n1, n2·R)
        t1 = t1.reshape(t1.shape[0], self.n1 // 2, 2 * self.n2, r)  # frequency pairs
        t2 = self.dft_mix @ t1 if self.form == "mix" else self._mix_fft(t1)  # (blocks, n1/2, ·)
        y = self.dft_inverse @ t2.reshape(self.blocks, self.n1, self.n2 * r)  # (blocks, ·, n2·R)
        y = y.reshape(-1, r)[:self.out_features]  # (out, R)
        if self.out_scale is not None:
            y = y * self.out_scale
        if self.bias is not None:
            y = y + self.bias
        return y.to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = self.forward_feature_major(x.reshape(-1, self.in_features).transpose(0, 1))
        return y.transpose(0, 1).reshape(*lead, self.out_features)  # (*, out)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"form={self.form!r}, blocks={self.blocks}, n1={self.n1}, n2={self.n2}")


class FeatureMajorDBoF(nn.Module):
    """:class:`~circlearn.nn.pooling.DBoF` (inference) on the layout ``(K, B·T)``::

        h = ReLU6(BN(W x_t)) as (K, B, T),  zero on unused frames,  pooled = max_T h  (or mean)

    The projection is a :class:`MatMulCirculant` (feature-major natively) or the DBoF's own
    dense layer (``rows @ Wᵀ``, then one transpose). Batch norm is the DBoF's, applied to a
    ``(1, K, B·T)`` view (its running statistics, eval mode). Unused frames and empty videos
    are treated as in :class:`~circlearn.nn.pooling.DBoF` (an empty video pools one zero frame).

    Shape:
        x ``(B, T, F)``, num_frames ``(B,)`` or mask ``(B, T)`` → ``(B, K)``.
    """

    def __init__(self, dbof: DBoF, projection: nn.Module):
        super().__init__()
        self.feature_size, self.cluster_size = dbof.feature_size, dbof.cluster_size
        self.pooling = dbof.pooling
        self.projection, self.bn = projection, dbof.bn

    @property
    def output_size(self) -> int:
        return self.cluster_size

    def forward(self, x: torch.Tensor, num_frames: torch.Tensor | None = None, *,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, f = x.shape
        if mask is None:
            mask = frame_mask(num_frames, b, t, x.device)
        if mask is None:
            mask = torch.ones(b, t, dtype=torch.bool, device=x.device)
        used = used_frames(mask)  # (B, T)
        rows = (x * mask.unsqueeze(-1).to(x.dtype)).reshape(b * t, f)  # (B·T, F), padding 0
        if isinstance(self.projection, MatMulCirculant):
            h = self.projection.forward_feature_major(rows.transpose(0, 1))  # (K, B·T)
        else:
            h = self.projection(rows).transpose(0, 1)  # (K, B·T)
        h = torch.clamp(self.bn(h.unsqueeze(0)), 0.0, 6.0).reshape(-1, b, t)  # (K, B, T)
        h = h * used.unsqueeze(0).to(h.dtype)
        if self.pooling == "max":
            return h.amax(dim=-1).transpose(0, 1)  # (B, K); ReLU6 ≥ 0, zeros never win
        counts = used.sum(dim=1).to(h.dtype)  # (B,)
        return (h.sum(dim=-1) / counts).transpose(0, 1)  # (B, K)


def _frame_level_layers(model: nn.Module) -> set[str]:
    """Names of the per-frame projections (DBoF embedding, NetVLAD/NetFV assignment)."""
    names = set()
    for name, m in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(m, DBoF):
            names.add(f"{prefix}projection")
        elif hasattr(m, "assignment"):
            names.add(f"{prefix}assignment")
    return names


def lowering_plan(model: nn.Module, lowering: str = "auto", layout: str = "auto",
                  precision: str = "fp32") -> dict:
    """What :func:`lower_model` does to ``model``: ``{"layers": {name: "matmul" |
    "matmul-fft" | "dft"},
    "feature_major": [DBoF module names]}`` (circulant layers only; dense ones are kept).

    ``lowering="auto"`` asks :func:`circlearn.deploy.crossover.choose_form` for each layer
    that can be lowered (:func:`lowerable`), with its rows per video (per-frame projections:
    :data:`~circlearn.deploy.crossover.FRAMES_PER_VIDEO`; other layers: 1); ``layout="auto"``
    asks :func:`~circlearn.deploy.crossover.choose_layout` for each DBoF module, given the
    form of its projection (``"dense"``, ``"dft"``, ``"matmul"``, ``"matmul-fft"``) and the file's
    ``precision`` (``"fp32"``, ``"fp16"`` or ``"int8"``).
    """
    if lowering not in LOWERINGS:
        raise ValueError(f"unknown lowering {lowering!r}; valid: {', '.join(LOWERINGS)}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    if "auto" in (lowering, layout):
        from circlearn.deploy import crossover
    frame_level = _frame_level_layers(model)
    layers = {}
    for name, m in model.named_modules():
        if not isinstance(m, CirculantLinear):
            continue
        form = "dft" if lowering == "dft" or not lowerable(m) else lowering
        if form == "auto":
            rows = crossover.FRAMES_PER_VIDEO if name in frame_level else 1
            form = crossover.choose_form(m.in_features, m.out_features, rows)
        layers[name] = form
    major = []
    for name, m in model.named_modules():
        if isinstance(m, DBoF):
            form = layers.get(f"{name}.projection", "dense")
            if layout == "feature-major" or (layout == "auto" and crossover.choose_layout(
                    form, precision) == "feature-major"):
                major.append(name)
    return {"layers": layers, "feature_major": major}


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def lower_model(model: nn.Module, lowering: str = "auto", layout: str = "auto", *,
                source: nn.Module | None = None, precision: str = "fp32") -> nn.Module:
    """A copy of ``model`` (eval mode) with :func:`lowering_plan`'s substitutes in place.

    ``source``: the model whose parameters the lowered matrices are computed from (default
    ``model``; a float16 export passes its float32 original, so that the matrices are
    computed from the unrounded parameters). ``precision``: the file's, for the layout rule.
    ``model`` itself is not changed.
    """
    source = model if source is None else source
    plan = lowering_plan(source, lowering, layout, precision)
    out = copy.deepcopy(model).eval()
    for name, form in plan["layers"].items():
        if form in _FORMS:
            _set(out, name, MatMulCirculant(source.get_submodule(name), _FORMS[form]).eval())
    for name in plan["feature_major"]:
        dbof = out.get_submodule(name)
        _set(out, name, FeatureMajorDBoF(dbof, dbof.projection).eval())
    return out
