r"""The paper's rectangular circulant maps ``in → out``, in float64.

Rule: ``B = ceil(out / in)`` independent square ``in × in`` blocks act on the same input; their
outputs are concatenated and truncated to the first ``out`` entries. For ``out < in`` that is
one block's first ``out`` rows. There is no input padding. Each block is a chain of ``k``
diagonal-circulant factors ``(C_k D_k) ⋯ (C_1 D_1)`` (:mod:`circlearn.reference.square`).
Parameters: ``B · in · (1 + learned diagonal) · k (+ out for a bias)``.

Signs after the circulant (``diagonal="sign-output"``; the paper's TF ``CirculantLayerWithDiag``,
``paper.md`` §2.2, whose ``roll(d ⊙ C x, 1) = roll(d, 1) ⊙ roll(C x, 1)``: the rolled signs
are again a fixed random ±1 vector ``s``)::

    block b = S_k C_k ⋯ S_1 C_1,   S_i = diag(s_i)      (stacked and truncated to ``out`` rows)
"""

from __future__ import annotations

import math

import numpy as np

from circlearn.reference.square import (
    circulant,
    circulant_matvec,
    diag_circulant_chain,
    diag_circulant_matvec,
    wrapped_diagonal_means,
)

__all__ = [
    "num_blocks",
    "rectangular_matrix",
    "rectangular_matvec",
    "parameter_count",
    "nearest_block_circulant",
    "sign_output_matrix",
    "sign_output_matvec",
]


def num_blocks(in_features: int, out_features: int) -> int:
    """Number of square ``in × in`` blocks of the paper's rectangular rule: ``ceil(out / in)``.

    >>> num_blocks(1024, 8192), num_blocks(8192, 512), num_blocks(1152, 8192)
    (8, 1, 8)
    """
    if in_features < 1 or out_features < 1:
        raise ValueError(
            f"in_features and out_features must be >= 1, got {in_features} and {out_features}")
    return math.ceil(out_features / in_features)


def _blocks(cs, ds):
    """Normalize block parameters to ``(B, k, n)`` arrays."""
    cs = np.asarray(cs, dtype=np.float64)
    if cs.ndim == 1:
        cs = cs[None, None]
    elif cs.ndim == 2:
        cs = cs[:, None]
    if cs.ndim != 3 or 0 in cs.shape:
        raise ValueError(f"cs must have shape (blocks, k, n), got {cs.shape}")
    if ds is not None:
        ds = np.asarray(ds, dtype=np.float64)
        if ds.size != cs.size:
            raise ValueError(f"ds must have the shape of cs {cs.shape}, got {ds.shape}")
        ds = ds.reshape(cs.shape)
    return cs, ds


def rectangular_matrix(cs, ds, out_features: int) -> np.ndarray:
    """The ``(out, n)`` weight of the paper's rectangular rule.

    ``cs`` (and ``ds``, or None) of shape ``(B, k, n)`` (or ``(B, n)`` for ``k = 1``): block
    ``b`` is ``diag_circulant_chain(cs[b], ds[b])``; blocks are stacked along the rows and the
    result truncated to the first ``out_features`` rows. ``B`` must be ``ceil(out / n)``.

    >>> rectangular_matrix([[1., 2.], [3., 4.]], None, 3)
    array([[1., 2.],
           [2., 1.],
           [3., 4.]])
    """
    cs, ds = _blocks(cs, ds)
    b, _, n = cs.shape
    if b != num_blocks(n, out_features):
        raise ValueError(
            f"{n} -> {out_features} needs ceil({out_features}/{n}) = "
            f"{num_blocks(n, out_features)} blocks, got {b}")
    full = np.concatenate([diag_circulant_chain(cs[i], None if ds is None else ds[i])
                           for i in range(b)], axis=0)  # (B*n, n)
    return full[:out_features]


def rectangular_matvec(cs, ds, x, out_features: int) -> np.ndarray:
    """``rectangular_matrix(cs, ds, out) @ x`` over the last axis of ``x``, by FFT.

    Shape:
        x ``(..., n)`` → ``(..., out_features)``.
    """
    cs, ds = _blocks(cs, ds)
    b, _, n = cs.shape
    if b != num_blocks(n, out_features):
        raise ValueError(f"{n} -> {out_features} needs {num_blocks(n, out_features)} blocks, got {b}")
    ys = [diag_circulant_matvec(cs[i], None if ds is None else ds[i], x) for i in range(b)]
    return np.concatenate(ys, axis=-1)[..., :out_features]


def parameter_count(in_features: int, out_features: int, diagonal: str | None = "learned",
                    n_factors: int = 1, bias: bool = False) -> int:
    """Trainable parameters of a circulant map ``in → out`` under the paper's rule.

    ``blocks · in · (1 + [diagonal == "learned"]) · n_factors + (out if bias)``; a fixed sign
    diagonal (``"sign"`` on the input, ``"sign-output"`` after the circulant) is not trained.

    >>> parameter_count(8192, 512, "learned")   # the paper's DBoF FC (dense: 4,194,304)
    16384
    >>> parameter_count(1024, 8192, "learned")  # DBoF video embedding (dense: 8,388,608)
    16384
    >>> parameter_count(1024, 19310, None)      # circulant MoE gates
    19456
    """
    if diagonal not in ("learned", "sign", "sign-output", None):
        raise ValueError(f"diagonal must be 'learned', 'sign', 'sign-output' or None, got "
                         f"{diagonal!r}")
    if n_factors < 1:
        raise ValueError(f"n_factors must be >= 1, got {n_factors}")
    per_block = in_features * (2 if diagonal == "learned" else 1) * n_factors
    return num_blocks(in_features, out_features) * per_block + (out_features if bias else 0)


def nearest_block_circulant(W, n: int | None = None) -> np.ndarray:
    """Least-squares first columns ``(B, n)`` of the rectangular map closest to ``W (out, n)``.

    Row block ``b`` of ``W`` (rows ``b·n`` to ``b·n + n``, the last one possibly partial) is
    projected onto circulants using only the rows present: ``c_b[k]`` is the mean of the
    available entries on wrapped diagonal ``k``. Exact for a map built by the paper's rule.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a non-empty 2-D matrix, got shape {W.shape}")
    out, n_in = W.shape
    n = n_in if n is None else n
    if n != n_in:
        raise ValueError(f"W has {n_in} columns, expected n = {n}")
    blocks = num_blocks(n, out)
    cs = np.zeros((blocks, n))
    for b in range(blocks):
        cs[b] = wrapped_diagonal_means(W[b * n:(b + 1) * n])  # rows (r, n), r <= n
    return cs


def _sign_blocks(cs, ss) -> tuple[np.ndarray, np.ndarray]:
    cs = np.asarray(cs, dtype=np.float64)
    ss = np.asarray(ss, dtype=np.float64)
    if cs.ndim == 2:
        cs, ss = cs[:, None], ss.reshape(cs.shape)[:, None]
    if cs.ndim != 3 or 0 in cs.shape or ss.shape != cs.shape:
        raise ValueError(f"cs and ss must have the same shape (blocks, k, n), got {cs.shape} "
                         f"and {ss.shape}")
    return cs, ss


def sign_output_matrix(cs, ss, out_features: int) -> np.ndarray:
    """The ``(out, n)`` weight with blocks ``S_k C_k ⋯ S_1 C_1`` (signs after each circulant).

    ``cs`` (first columns) and ``ss`` (signs) of shape ``(B, k, n)`` or ``(B, n)``;
    ``B = ceil(out / n)``; blocks are stacked along the rows and truncated to ``out``.

    >>> sign_output_matrix([[1., 2.]], [[1., -1.]], 2)   # rows of circulant([1, 2]) signed
    array([[ 1.,  2.],
           [-2., -1.]])
    """
    cs, ss = _sign_blocks(cs, ss)
    b, k, n = cs.shape
    if b != num_blocks(n, out_features):
        raise ValueError(f"{n} -> {out_features} needs {num_blocks(n, out_features)} blocks, "
                         f"got {b}")
    parts = []
    for i in range(b):
        w = np.eye(n)
        for f in range(k):
            w = ss[i, f][:, None] * (circulant(cs[i, f]) @ w)
        parts.append(w)
    return np.concatenate(parts, axis=0)[:out_features]


def sign_output_matvec(cs, ss, x, out_features: int) -> np.ndarray:
    """``sign_output_matrix(cs, ss, out) @ x`` over the last axis of ``x``, by FFT.

    Shape:
        x ``(..., n)`` → ``(..., out_features)``.
    """
    cs, ss = _sign_blocks(cs, ss)
    b, k, n = cs.shape
    if b != num_blocks(n, out_features):
        raise ValueError(f"{n} -> {out_features} needs {num_blocks(n, out_features)} blocks, "
                         f"got {b}")
    x = np.asarray(x, dtype=np.float64)
    ys = []
    for i in range(b):
        y = x
        for f in range(k):
            y = ss[i, f] * circulant_matvec(cs[i, f], y)
        ys.append(y)
    return np.concatenate(ys, axis=-1)[..., :out_features]
