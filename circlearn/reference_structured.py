r"""NumPy/SciPy float64 references for more structured maps: Toeplitz, low rank, and the
authors' placement of the fixed sign diagonal (after the circulant).

Re-exported by :mod:`circlearn.reference`; the torch layers of :mod:`circlearn.nn.structured`
are tested against these functions. Weights follow ``torch.nn.Linear``: shape ``(out, in)``,
``y = x @ W.T`` on row vectors.

Toeplitz (constant along every diagonal; ``in + out - 1`` free values)::

    W = scipy.linalg.toeplitz(c, r),   c = W[:, 0] (out,),  r = W[0, :] (in,),  c[0] = r[0]
    W[i, j] = c[i - j] if i >= j else r[j - i]

``W @ x`` is a slice of the linear convolution of the diagonal values with ``x``, computed in
``O(n log n)`` by embedding ``W`` in a circulant of size ``>= in + out - 1``
(``scipy.linalg.matmul_toeplitz``). The Frobenius-nearest Toeplitz matrix to any ``W`` takes,
on each diagonal, the mean of ``W``'s entries there (the diagonals are orthogonal subspaces).

Low rank ``r``::

    W = U V^T,   U (out, r),  V (in, r),   x @ W.T = (x @ V) @ U.T   in O((in + out) r)

The Frobenius-nearest matrix of rank ``<= r`` is the truncated SVD (Eckart-Young); it is
returned split evenly, ``U = U_r sqrt(S_r)``, ``V = V_r sqrt(S_r)``.

Signs after the circulant (``diagonal="sign-output"``; the paper's TF ``CirculantLayerWithDiag``,
``paper.md`` §2.2, whose ``roll(d ⊙ C x, 1) = roll(d, 1) ⊙ roll(C x, 1)``: the rolled signs
are again a fixed random ±1 vector ``s``)::

    block b = S_k C_k ⋯ S_1 C_1,   S_i = diag(s_i)      (stacked and truncated to ``out`` rows)
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = [
    "toeplitz",
    "toeplitz_matvec",
    "nearest_toeplitz",
    "toeplitz_parameter_count",
    "low_rank_matrix",
    "low_rank_matvec",
    "nearest_low_rank",
    "low_rank_parameter_count",
    "sign_output_matrix",
    "sign_output_matvec",
]


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
    from circlearn.reference import circulant, num_blocks

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
    from circlearn.reference import circulant_matvec, num_blocks

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
