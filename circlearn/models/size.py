"""Parameter counts and sizes, so the paper's size comparisons come from the model itself.

Works on models built on the ``meta`` device (no memory allocated).
"""

from __future__ import annotations

from torch import nn

__all__ = ["count_parameters", "size_report"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameter values (``requires_grad``), each shared tensor once.

    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _row(name: str, module: nn.Module) -> dict:
    params = count_parameters(module)
    buffers = sum(b.numel() for b in module.buffers() if b.is_floating_point())
    return {"component": name, "parameters": params, "fp32_bytes": 4 * params,
            "fp16_bytes": 2 * params, "buffers": buffers}


def size_report(model: nn.Module) -> list[dict]:
    """One row per top-level component (children; ``ModuleDict`` entries as ``name.key``) and a
    ``total`` row: ``parameters`` (trainable), ``fp32_bytes``, ``fp16_bytes`` (4 or 2 bytes
    per trainable parameter) and ``buffers`` (stored floating-point non-trainable values such as
    batch-norm statistics and sign diagonals).

    >>> [r["component"] for r in size_report(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))]
    ['0', '1', 'total']
    """
    rows = []
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleDict):
            rows += [_row(f"{name}.{key}", sub) for key, sub in child.items()]
        else:
            rows.append(_row(name, child))
    rows.append(_row("total", model))
    return rows
