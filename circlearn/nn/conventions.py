r"""What every circulant op shares: the precision rule and the block-shape rule.

Precision: FFTs run in at least float32. float16/bfloat16 inputs (also under autocast, where a
preceding matmul hands us half tensors) are computed in float32 and the result is cast back to
the input dtype: CPU has no half FFT, cuFFT's half FFT needs power-of-two sizes, and there is
no bfloat16 FFT at all. float64 inputs stay float64.

Blocks: the paper's rectangular rule (design README §2) maps ``n → out`` with
``ceil(out / n)`` blocks of ``n × n``; the first columns ``c`` of a map have shape
``(blocks, n_factors, n)``, a diagonal ``d`` the same shape.

Both :mod:`circlearn.nn.functional` (the readable ops) and :mod:`circlearn.nn.fastpath` read
these; the checks raise ``ValueError`` naming the expected and the actual shapes.
"""

from __future__ import annotations

import torch

__all__ = ["compute_dtype", "check_last_dim", "check_blocks", "one_factor_args"]

_HALF = (torch.float16, torch.bfloat16)


def compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The real dtype FFTs run in: the promoted dtype of the inputs, at least float32."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if dtype in _HALF or not dtype.is_floating_point:
        return torch.float32
    return dtype


def check_last_dim(x: torch.Tensor, n: int, name: str = "x") -> None:
    """``ValueError`` unless ``x`` has shape ``(..., n)``."""
    if x.dim() == 0 or x.shape[-1] != n:
        raise ValueError(f"{name} must have shape (..., {n}), got {tuple(x.shape)}")


def check_blocks(c: torch.Tensor, d: torch.Tensor | None, out_features: int) -> None:
    """``ValueError`` unless ``c`` is ``(blocks, n_factors, n)`` with ``blocks = ceil(out/n)``
    and ``d`` (if given) has ``c``'s shape."""
    if c.dim() != 3 or 0 in c.shape:
        raise ValueError(f"c must have shape (blocks, n_factors, n), got {tuple(c.shape)}")
    if d is not None and d.shape != c.shape:
        raise ValueError(f"d must have the shape of c {tuple(c.shape)}, got {tuple(d.shape)}")
    blocks, _, n = c.shape
    if out_features < 1 or blocks != -(-out_features // n):
        raise ValueError(
            f"{n} -> {out_features} needs ceil({out_features}/{n}) blocks, c has {blocks}")


def one_factor_args(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor | None,
                    out_features: int, bias: torch.Tensor | None
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Check the arguments of a one-factor map and return ``c``, ``d`` as ``(blocks, n)``.

    ``c`` and ``d`` may be ``(blocks, n)`` or ``(blocks, 1, n)``; ``bias`` ``(out_features,)``.
    """
    if c.dim() == 3 and c.shape[1] == 1:
        c = c[:, 0]
        d = None if d is None else d[:, 0]
    if c.dim() != 2:
        raise ValueError(f"c must have shape (blocks, n) (one factor), got {tuple(c.shape)}")
    check_blocks(c.unsqueeze(1), None if d is None else d.unsqueeze(1), out_features)
    check_last_dim(x, c.shape[-1])
    if bias is not None and bias.shape != (out_features,):
        raise ValueError(f"bias must have shape ({out_features},), got {tuple(bias.shape)}")
    return c, d
