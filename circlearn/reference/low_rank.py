r"""Low-rank maps ``W = U V^T`` of rank ``r``, in float64.

Weights follow ``torch.nn.Linear``: shape ``(out, in)``, ``y = x @ W.T`` on row vectors;
:class:`circlearn.nn.LowRankLinear` is tested against these functions::

    W = U V^T,   U (out, r),  V (in, r),   x @ W.T = (x @ V) @ U.T   in O((in + out) r)

The Frobenius-nearest matrix of rank ``<= r`` is the truncated SVD (Eckart-Young); it is
returned split evenly, ``U = U_r sqrt(S_r)``, ``V = V_r sqrt(S_r)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["low_rank_matrix", "low_rank_matvec", "nearest_low_rank", "low_rank_parameter_count"]


def _factors(u, v) -> tuple[np.ndarray, np.ndarray]:
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if u.ndim != 2 or v.ndim != 2 or u.shape[1] != v.shape[1] or 0 in u.shape + v.shape:
        raise ValueError(f"u and v must have shapes (out, rank) and (in, rank), got {u.shape} "
                         f"and {v.shape}")
    return u, v


def low_rank_matrix(u, v) -> np.ndarray:
    """``u @ v.T``: the ``(out, in)`` weight of factors ``u (out, r)`` and ``v (in, r)``.

    >>> low_rank_matrix([[1.], [2.]], [[3.], [4.], [5.]])
    array([[ 3.,  4.,  5.],
           [ 6.,  8., 10.]])
    """
    u, v = _factors(u, v)
    return u @ v.T


def low_rank_matvec(u, v, x) -> np.ndarray:
    """``low_rank_matrix(u, v) @ x`` over the last axis of ``x``: ``(x @ v) @ u.T``.

    Shape:
        x ``(..., in)`` → ``(..., out)``.

    >>> low_rank_matvec([[1.], [2.]], [[3.], [4.], [5.]], [1., 0., 1.])
    array([ 8., 16.])
    """
    u, v = _factors(u, v)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] != v.shape[0]:
        raise ValueError(f"x must have shape (..., {v.shape[0]}), got {x.shape}")
    return (x @ v) @ u.T


def nearest_low_rank(W, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Factors ``(u, v)`` of the best rank-``rank`` approximation of ``W`` (truncated SVD).

    ``u = U[:, :r] sqrt(S_r)``, ``v = Vh[:r].T sqrt(S_r)``; exact when ``rank(W) <= r``.

    >>> u, v = nearest_low_rank(np.outer([1., 2.], [3., 4., 5.]), 1)
    >>> np.allclose(u @ v.T, np.outer([1., 2.], [3., 4., 5.]))
    True
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a non-empty 2-D matrix, got shape {W.shape}")
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or \
            not 1 <= rank <= min(W.shape):
        raise ValueError(f"rank must be an integer in [1, {min(W.shape)}] for W of shape "
                         f"{W.shape}, got {rank!r}")
    U, S, Vh = np.linalg.svd(W, full_matrices=False)
    root = np.sqrt(S[:rank])
    return U[:, :rank] * root, Vh[:rank].T * root


def low_rank_parameter_count(in_features: int, out_features: int, rank: int,
                             bias: bool = False) -> int:
    """``rank · (in + out) (+ out for a bias)``.

    >>> low_rank_parameter_count(8192, 512, 2)   # dense: 4,194,304
    17408
    """
    if in_features < 1 or out_features < 1 or rank < 1:
        raise ValueError(f"in_features, out_features and rank must be >= 1, got {in_features}, "
                         f"{out_features}, {rank}")
    return rank * (in_features + out_features) + (out_features if bias else 0)
