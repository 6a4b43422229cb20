r"""Building blocks shared by the layers (:mod:`.pooling`, :mod:`.gating`) and the models.

One place each for:

- :func:`batch_norm`: ``BatchNorm1d`` with the paper's constants (TensorFlow's decay 0.999 →
  PyTorch ``momentum=0.001``; slim's ``eps=1e-3``; design README §5);
- :func:`dense_linear`: the dense ``nn.Linear`` factory with the paper's initializations
  (``N(0, std²)`` or Xavier-uniform weights, zero bias; ``paper.md`` §2.4);
- :func:`check_sizes`, :func:`check_input`, :func:`check_weight`, :func:`parameter_text`:
  the size checks and the ``extra_repr`` parameter count of the structured linear layers;
- :func:`check_features`: the in/out-size check of an injected layer (any module with
  ``in_features``/``out_features``, dense or structured);
- :func:`check_num_frames`: the frame counts of a ``(B, T, ·)`` batch;
- :func:`exporting`: whether a graph is being recorded (TorchScript trace or
  ``torch.export``, which ``torch.onnx.export(dynamo=True)`` uses), where checks that read
  tensor values (``int(t.max())``) cannot run.

The layer-kind factory (``"dense"``, ``"circulant"``… → module) is
:func:`circlearn.models.layers.make_linear`, built on :func:`dense_linear`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BN_MOMENTUM", "BN_EPS", "batch_norm", "dense_linear", "check_sizes", "check_input",
           "check_weight", "parameter_text", "check_features", "check_num_frames", "exporting",
           "DENSE_INITS"]

#: PyTorch batch-norm momentum equivalent to TensorFlow's ``decay=0.999``.
BN_MOMENTUM = 1e-3
#: slim batch norm's epsilon in the paper's code.
BN_EPS = 1e-3
#: Weight initializations of :func:`dense_linear`.
DENSE_INITS = ("normal", "xavier")


def batch_norm(num_features: int, *, device=None, dtype=None) -> nn.BatchNorm1d:
    """An affine ``BatchNorm1d`` with the paper's ``momentum=0.001, eps=1e-3``."""
    return nn.BatchNorm1d(num_features, eps=BN_EPS, momentum=BN_MOMENTUM, device=device,
                          dtype=dtype)


def dense_linear(in_features: int, out_features: int, *, bias: bool, init: str = "normal",
                 std: float | None = None, device=None, dtype=None) -> nn.Linear:
    """``nn.Linear`` with ``N(0, std²)`` (``init="normal"``) or Xavier-uniform weights and a
    zero bias.

    >>> layer = dense_linear(4, 3, bias=True, std=0.1)
    >>> tuple(layer.weight.shape), int(layer.bias.detach().count_nonzero())
    ((3, 4), 0)
    """
    if init not in DENSE_INITS:
        raise ValueError(f"init must be one of {DENSE_INITS}, got {init!r}")
    if init == "normal" and (std is None or not std > 0):
        raise ValueError(f"init='normal' needs std > 0, got {std}")
    layer = nn.Linear(in_features, out_features, bias=bias, device=device, dtype=dtype)
    if init == "normal":
        nn.init.normal_(layer.weight, std=std)
    else:
        nn.init.xavier_uniform_(layer.weight)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def check_sizes(in_features: int, out_features: int) -> None:
    """``ValueError`` unless a linear map's ``in_features`` and ``out_features`` are >= 1."""
    if in_features < 1 or out_features < 1:
        raise ValueError(f"in_features and out_features must be >= 1, got "
                         f"in_features={in_features}, out_features={out_features}")

def check_input(x: torch.Tensor, in_features: int) -> None:
    """``ValueError`` unless ``x`` has shape ``(*, in_features)``."""
    if x.dim() == 0 or x.shape[-1] != in_features:
        raise ValueError(f"input must have shape (*, {in_features}), got {tuple(x.shape)}")


def check_weight(weight: torch.Tensor, bias: torch.Tensor | None) -> tuple[int, int]:
    """``(out_features, in_features)`` of a non-empty dense ``weight``, checked with its ``bias``
    (``(out_features,)`` or None): the input of a structured layer's ``from_dense``."""
    if weight.dim() != 2 or 0 in weight.shape:
        raise ValueError(f"weight must have shape (out_features, in_features), "
                         f"got {tuple(weight.shape)}")
    out_features = weight.shape[0]
    if bias is not None and bias.shape != (out_features,):
        raise ValueError(f"bias must have shape ({out_features},), got {tuple(bias.shape)}")
    return weight.shape


def parameter_text(layer: nn.Module) -> str:
    """``"params=… (dense …)"`` for a linear layer's ``extra_repr``: its trainable parameters
    and those of the ``nn.Linear`` it replaces (same bias)."""
    params = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    dense = layer.in_features * layer.out_features + (layer.out_features if layer.bias is not
                                                      None else 0)
    return f"params={params:,} (dense {dense:,})"



def check_features(module: nn.Module, in_features: int, out_features: int, name: str, *,
                   bias: bool | None = None, why: str = "") -> None:
    """``ValueError`` unless ``module`` maps ``in_features → out_features`` (read from its
    ``in_features``/``out_features`` when it has them) and, when ``bias`` is not None, has
    (True) or lacks (False) a bias; ``why`` explains the bias rule in the message."""
    got = (getattr(module, "in_features", in_features),
           getattr(module, "out_features", out_features))
    if got != (in_features, out_features):
        raise ValueError(f"{name} must map {in_features} → {out_features} features, "
                         f"got {got[0]} → {got[1]}")
    has_bias = getattr(module, "bias", None) is not None
    if bias is not None and has_bias != bias:
        raise ValueError(f"{name} must {'have a' if bias else 'have no'} bias{why}")


def exporting() -> bool:
    """True while ``torch.jit.trace`` or ``torch.export`` records the running code."""
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def check_num_frames(num_frames, b: int, t: int, device) -> torch.Tensor:
    """``num_frames`` as an int64 ``(B,)`` tensor on ``device``, checked to be integers in
    ``[0, T]``; ``None`` means every frame is real (``T`` each).

    While a graph is exported (:func:`exporting`) the range check cannot run (it reads the
    values): the counts are clamped into ``[0, T]`` instead, so an exported file treats a
    count above ``T`` as ``T`` and a negative one as 0 where the eager model raises.

    Shape:
        num_frames ``(B,)`` integer (tensor or sequence) or None → ``(B,)`` int64.
    """
    if num_frames is None:
        return torch.full((b,), t, dtype=torch.int64, device=device)
    num_frames = torch.as_tensor(num_frames, device=device)
    if num_frames.shape != (b,) or num_frames.is_floating_point():
        raise ValueError(f"num_frames must be an integer tensor of shape ({b},), got "
                         f"{num_frames.dtype} {tuple(num_frames.shape)}")
    num_frames = num_frames.to(torch.int64)
    if exporting():
        return torch.clamp(num_frames, min=0, max=t)
    if b and (int(num_frames.min()) < 0 or int(num_frames.max()) > t):
        raise ValueError(f"num_frames must lie in [0, T={t}], got min "
                         f"{int(num_frames.min())}, max {int(num_frames.max())}")
    return num_frames


def l2_normalize(x: torch.Tensor, dim: int = -1, eps: float = 1e-12) -> torch.Tensor:
    """``tf.nn.l2_normalize``: ``x / sqrt(max(Σ x², eps))`` along ``dim``; zeros stay zeros.

    >>> l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[0.6000, 0.8000],
            [0.0000, 0.0000]])
    """
    return x * torch.rsqrt(torch.clamp((x * x).sum(dim=dim, keepdim=True), min=eps))
