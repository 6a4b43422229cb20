r"""Square circulant matrices and diagonal-circulant products, in float64.

Convention (used everywhere in circlearn): ``circulant(c)`` has **first column** ``c``::

    C[i, j] = c[(i - j) mod n]          (as scipy.linalg.circulant)

so ``C @ x`` is the circular convolution ``c ⊛ x`` and, with ``F`` the DFT,

    C = F⁻¹ diag(F c) F,       C x = ifft(fft(c) · fft(x)) = irfft(rfft(c) · rfft(x), n).

The eigenvalues of ``C`` are ``fft(c)``; circulants commute; ``circ(a) circ(b) = circ(a ⊛ b)``;
the transpose and the inverse of a circulant are circulant.

Diagonal-circulant factors (the paper's "DC", ``diagonal="learned"``, and Cheng et al.'s
"CD" with fixed ±1 signs, ``diagonal="sign"``) scale the **input** first::

    W = C(c) · diag(d)                  one factor
    W = (C_k D_k) ⋯ (C_1 D_1)           k factors, applied right to left

The paper's TensorFlow code stores the **first row** and applies its fixed signs *after* the
circulant; ``paper.md`` §2.1-2.2 has the mapping (first row ``w`` ↔ first column
``c = transpose_vector(w)``). Both describe the same function class. The rectangular maps built
from these squares are in :mod:`circlearn.reference.rectangular`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = [
    "circulant",
    "circulant_matvec",
    "eigenvalues",
    "circulant_product",
    "transpose_vector",
    "paper_circulant_matvec",
    "circulant_inverse",
    "solve",
    "diag_circulant",
    "diag_circulant_chain",
    "diag_circulant_matvec",
    "nearest_circulant",
    "wrapped_diagonal_means",
]


def _vector(c, name: str = "c") -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {c.shape}")
    if c.shape[0] == 0:
        raise ValueError(f"{name} must not be empty (n = 0)")
    return c


def circulant(c) -> np.ndarray:
    """The ``n × n`` circulant matrix with first column ``c``: ``C[i, j] = c[(i - j) mod n]``.

    >>> circulant([1., 2., 3.])
    array([[1., 3., 2.],
           [2., 1., 3.],
           [3., 2., 1.]])
    """
    return scipy.linalg.circulant(_vector(c))


def circulant_matvec(c, x) -> np.ndarray:
    """``circulant(c) @ x`` over the last axis of ``x``, in O(n log n): ``irfft(rfft(c)·rfft(x), n)``.

    Shape:
        c ``(n,)``, x ``(..., n)`` → ``(..., n)``.

    >>> circulant_matvec(c=[1., 2., 3.], x=[1., 0., 0.])
    array([1., 2., 3.])
    >>> circulant_matvec([1., 2., 3.], [[0., 1., 0.], [1., 1., 1.]])
    array([[3., 1., 2.],
           [6., 6., 6.]])
    """
    c = _vector(c)
    x = np.asarray(x, dtype=np.float64)
    n = c.shape[0]
    if x.ndim == 0 or x.shape[-1] != n:
        raise ValueError(f"x must have shape (..., {n}) to match c of shape ({n},), got {x.shape}")
    # n= is required: for odd n, irfft's default output length 2*(m-1) is wrong.
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * np.fft.rfft(c), n=n, axis=-1)


def eigenvalues(c) -> np.ndarray:
    """Eigenvalues of ``circulant(c)``: the DFT ``fft(c)``; eigenvector k is ``exp(2πi jk/n)/√n``.

    >>> np.round(eigenvalues([1., 2., 3.]), 6)
    array([ 6. +0.j      , -1.5+0.866025j, -1.5-0.866025j])
    """
    return np.fft.fft(_vector(c))


def circulant_product(a, b) -> np.ndarray:
    """First column of ``circulant(a) @ circulant(b)`` (circular convolution ``a ⊛ b``).

    >>> circulant_product([1., 2., 3.], [0., 1., 0.])  # b is the cyclic shift
    array([3., 1., 2.])
    """
    a, b = _vector(a, "a"), _vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same length, got {a.shape} and {b.shape}")
    return circulant_matvec(a, b)


def transpose_vector(c) -> np.ndarray:
    """First column of ``circulant(c).T``: ``c[(-k) mod n]`` (also first row ↔ first column).

    >>> transpose_vector([1., 2., 3., 4.])
    array([1., 4., 3., 2.])
    """
    c = _vector(c)
    return np.roll(c[::-1], 1)


def paper_circulant_matvec(w, x) -> np.ndarray:
    """The paper's TensorFlow formulation (``paper.md`` §2.1), the twin of :func:`circulant_matvec`.

    The authors' code stores the **first row** ``w`` and computes, with complex FFTs::

        y = roll(real(ifft(fft(x) · fft(reverse(w)))), 1)       (over the last axis)

    i.e. ``y_i = Σ_j w[(j - i) mod n] x_j``, the cross-correlation with ``w``: the same map as
    ``circulant_matvec(transpose_vector(w), x)`` (first row ``w`` ↔ first column
    ``c = transpose_vector(w)``). :class:`circlearn.nn.PaperCirculant` is its torch layer.

    Shape:
        w ``(n,)``, x ``(..., n)`` → ``(..., n)``.

    >>> w, x = [1., 2., 3., 4.], [[1., 0., 0., 0.], [0., 1., 2., 0.]]
    >>> paper_circulant_matvec(w, x).round(9)
    array([[ 1.,  4.,  3.,  2.],
           [ 8.,  5.,  6., 11.]])
    >>> bool(np.allclose(paper_circulant_matvec(w, x), circulant_matvec(transpose_vector(w), x)))
    True
    """
    w = _vector(w, "w")
    x = np.asarray(x, dtype=np.float64)
    n = w.shape[0]
    if x.ndim == 0 or x.shape[-1] != n:
        raise ValueError(f"x must have shape (..., {n}) to match w of shape ({n},), got {x.shape}")
    y = np.fft.ifft(np.fft.fft(x, axis=-1) * np.fft.fft(w[::-1]), axis=-1).real
    return np.roll(y, 1, axis=-1)


def circulant_inverse(c, rcond: float = 1e-12) -> np.ndarray:
    """First column of ``inv(circulant(c))``: ``irfft(1 / rfft(c), n)``.

    Raises ``ValueError`` when ``circulant(c)`` is singular (an eigenvalue ``|fft(c)_k|``
    below ``rcond · max_k |fft(c)_k|``).

    >>> circulant_inverse([2., 0., 0.])
    array([0.5, 0. , 0. ])
    """
    c = _vector(c)
    spectrum = np.fft.rfft(c)
    mags = np.abs(spectrum)
    if mags.min() <= rcond * max(mags.max(), np.finfo(float).tiny):
        raise ValueError(f"circulant(c) is singular: min |fft(c)| = {mags.min():.3g}")
    return np.fft.irfft(1.0 / spectrum, n=c.shape[0])


def solve(c, b) -> np.ndarray:
    """Solve ``circulant(c) @ x = b`` (``b`` of shape ``(n,)`` or ``(..., n)``).

    Uses ``scipy.linalg.solve_circulant`` (``x = ifft(fft(b) / fft(c))``), raising
    ``ValueError`` for a singular matrix.

    >>> solve([2., 1., 0.], circulant_matvec([2., 1., 0.], [1., 2., 3.]))
    array([1., 2., 3.])
    """
    c = _vector(c)
    b = np.asarray(b, dtype=np.float64)
    n = c.shape[0]
    if b.ndim == 0 or b.shape[-1] != n:
        raise ValueError(f"b must have shape (..., {n}) to match c of shape ({n},), got {b.shape}")
    try:
        x = scipy.linalg.solve_circulant(c, np.moveaxis(b, -1, 0), singular="raise")
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"circulant(c) is singular: {exc}") from None
    return np.real_if_close(np.moveaxis(x, 0, -1))


def diag_circulant(c, d) -> np.ndarray:
    """The matrix ``circulant(c) @ diag(d)`` (column ``j`` of ``C`` scaled by ``d[j]``).

    >>> diag_circulant([1., 2.], [1., -1.])
    array([[ 1., -2.],
           [ 2., -1.]])
    """
    c, d = _vector(c), _vector(d, "d")
    if c.shape != d.shape:
        raise ValueError(f"c and d must have the same shape, got {c.shape} and {d.shape}")
    return circulant(c) * d[None, :]


def _factors(cs, ds) -> tuple[np.ndarray, np.ndarray | None]:
    cs = np.asarray(cs, dtype=np.float64)
    if cs.ndim != 2 or cs.shape[0] == 0 or cs.shape[1] == 0:
        raise ValueError(f"cs must have shape (k, n) with k, n >= 1, got {cs.shape}")
    if ds is not None:
        ds = np.asarray(ds, dtype=np.float64)
        if ds.shape != cs.shape:
            raise ValueError(f"ds must have the shape of cs {cs.shape}, got {ds.shape}")
    return cs, ds


def diag_circulant_chain(cs, ds=None) -> np.ndarray:
    """``(C_k D_k) ⋯ (C_1 D_1)`` for ``cs, ds`` of shape ``(k, n)`` (factor 1 is ``cs[0]``).

    ``ds=None`` means plain circulants (all ``D_i = I``).

    >>> m = diag_circulant_chain([[1., 2.], [0., 1.]], [[1., 1.], [1., -1.]])
    >>> np.allclose(m, diag_circulant([0., 1.], [1., -1.]) @ diag_circulant([1., 2.], [1., 1.]))
    True
    """
    cs, ds = _factors(cs, ds)
    out = None
    for i in range(cs.shape[0]):
        factor = circulant(cs[i]) if ds is None else diag_circulant(cs[i], ds[i])
        out = factor if out is None else factor @ out
    return out


def diag_circulant_matvec(cs, ds, x) -> np.ndarray:
    """``diag_circulant_chain(cs, ds) @ x`` over the last axis, by FFT (``ds`` may be None).

    Shape:
        cs, ds ``(k, n)`` or ``(n,)`` for one factor; x ``(..., n)`` → ``(..., n)``.
    """
    cs = np.atleast_2d(np.asarray(cs, dtype=np.float64))
    ds = None if ds is None else np.atleast_2d(np.asarray(ds, dtype=np.float64))
    cs, ds = _factors(cs, ds)
    y = np.asarray(x, dtype=np.float64)
    for i in range(cs.shape[0]):
        if ds is not None:
            if y.ndim == 0 or y.shape[-1] != cs.shape[1]:
                raise ValueError(f"x must have shape (..., {cs.shape[1]}), got {y.shape}")
            y = y * ds[i]
        y = circulant_matvec(cs[i], y)
    return y


def nearest_circulant(W) -> np.ndarray:
    """Frobenius projection of a square matrix onto circulant matrices; returns ``c``.

    ``c[k]`` is the mean of ``W`` along its ``k``-th wrapped diagonal,
    ``c[k] = (1/n) Σ_i W[(i + k) mod n, i]``. The residual ``W - circulant(c)`` is orthogonal
    (in the Frobenius inner product) to every circulant, and ``c`` is exact when ``W`` is
    circulant. This is how a trained dense layer is compressed.

    >>> nearest_circulant(circulant([1., 2., 3.]))
    array([1., 2., 3.])
    >>> nearest_circulant(np.eye(2) + [[0., 2.], [0., 0.]])
    array([1., 1.])
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] == 0:
        raise ValueError(f"nearest_circulant needs a non-empty square matrix, got shape {W.shape}")
    return wrapped_diagonal_means(W)


def wrapped_diagonal_means(rows) -> np.ndarray:
    """``c[k]``: the mean of the entries of ``rows (r, n)``, ``r <= n``, on wrapped diagonal ``k``.

    Entry ``(i, j)`` lies on diagonal ``(i - j) mod n``; every diagonal meets every row once,
    so each mean has ``r >= 1`` terms. For ``r = n`` this is :func:`nearest_circulant`.

    >>> wrapped_diagonal_means([[1., 2., 3.]])   # one row: c[k] = rows[0, -k mod n]
    array([1., 3., 2.])
    """
    rows = np.asarray(rows, dtype=np.float64)
    n = rows.shape[1]
    j = np.arange(n)
    i = np.arange(rows.shape[0])[:, None]
    k = (i - j[None, :]) % n  # wrapped diagonal of each entry
    sums = np.bincount(k.ravel(), weights=rows.ravel(), minlength=n)
    counts = np.bincount(k.ravel(), minlength=n)
    return sums / counts
