r"""Toeplitz maps (constant along every diagonal; ``in + out - 1`` free values), in float64.

Weights follow ``torch.nn.Linear``: shape ``(out, in)``, ``y = x @ W.T`` on row vectors;
:class:`circlearn.nn.ToeplitzLinear` is tested against these functions::

    W = scipy.linalg.toeplitz(c, r),   c = W[:, 0] (out,),  r = W[0, :] (in,),  c[0] = r[0]
    W[i, j] = c[i - j] if i >= j else r[j - i]

``W @ x`` is a slice of the linear convolution of the diagonal values with ``x``, computed in
``O(n log n)`` by embedding ``W`` in a circulant of size ``>= in + out - 1``
(``scipy.linalg.matmul_toeplitz``). The Frobenius-nearest Toeplitz matrix to any ``W`` takes,
on each diagonal, the mean of ``W``'s entries there (the diagonals are orthogonal subspaces).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["toeplitz", "toeplitz_matvec", "nearest_toeplitz", "toeplitz_parameter_count"]


def _toeplitz_vectors(c, r) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(c, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if c.ndim != 1 or r.ndim != 1 or c.size == 0 or r.size == 0:
        raise ValueError(f"c and r must be non-empty 1-D vectors, got shapes {c.shape} and "
                         f"{r.shape}")
    if c[0] != r[0]:
        raise ValueError(f"c[0] and r[0] are the same entry W[0, 0]; got {c[0]} and {r[0]}")
    return c, r


def toeplitz(c, r) -> np.ndarray:
    """The ``(len(c), len(r))`` Toeplitz matrix with first column ``c`` and first row ``r``.

    >>> toeplitz([1., 2., 3.], [1., 5.])
    array([[1., 5.],
           [2., 1.],
           [3., 2.]])
    """
    c, r = _toeplitz_vectors(c, r)
    return scipy.linalg.toeplitz(c, r)


def toeplitz_matvec(c, r, x) -> np.ndarray:
    """``toeplitz(c, r) @ x`` over the last axis of ``x``, by FFT (``scipy.linalg.matmul_toeplitz``).

    Shape:
        c ``(out,)``, r ``(in,)``, x ``(..., in)`` → ``(..., out)``.

    >>> toeplitz_matvec([1., 2., 3.], [1., 5.], [1., 1.])
    array([6., 3., 5.])
    """
    c, r = _toeplitz_vectors(c, r)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] != r.size:
        raise ValueError(f"x must have shape (..., {r.size}) to match r of shape ({r.size},), "
                         f"got {x.shape}")
    cols = x.reshape(-1, r.size).T  # (in, rows): matmul_toeplitz multiplies columns
    y = scipy.linalg.matmul_toeplitz((c, r), cols)  # (out, rows)
    return np.asarray(y).T.reshape(*x.shape[:-1], c.size)


def nearest_toeplitz(W) -> tuple[np.ndarray, np.ndarray]:
    """``(c, r)`` of the Toeplitz matrix nearest to ``W (out, in)`` in the Frobenius norm.

    Each diagonal ``i - j = k`` of the result is the mean of ``W``'s entries on it; exact when
    ``W`` is Toeplitz.

    >>> c, r = nearest_toeplitz([[1., 2.], [3., 5.]])
    >>> c, r
    (array([3., 3.]), array([3., 2.]))
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a non-empty 2-D matrix, got shape {W.shape}")
    out, n_in = W.shape
    k = (np.arange(out)[:, None] - np.arange(n_in)[None, :]) + (n_in - 1)  # 0 … in+out-2
    sums = np.bincount(k.ravel(), weights=W.ravel(), minlength=out + n_in - 1)
    counts = np.bincount(k.ravel(), minlength=out + n_in - 1)
    t = sums / counts  # t[i - j + in - 1] = W[i, j]
    return t[n_in - 1:].copy(), t[n_in - 1::-1].copy()


def toeplitz_parameter_count(in_features: int, out_features: int, bias: bool = False) -> int:
    """``in + out - 1 (+ out for a bias)``.

    >>> toeplitz_parameter_count(8192, 512)   # dense: 4,194,304
    8703
    """
    if in_features < 1 or out_features < 1:
        raise ValueError(f"in_features and out_features must be >= 1, got {in_features} and "
                         f"{out_features}")
    return in_features + out_features - 1 + (out_features if bias else 0)
