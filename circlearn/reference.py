r"""NumPy/SciPy float64 references for the circulant algebra: the math, readable.

Convention (used everywhere in circlearn)
-----------------------------------------
``circulant(c)`` has **first column** ``c``::

    C[i, j] = c[(i - j) mod n]          (as scipy.linalg.circulant)

so ``C @ x`` is the circular convolution ``c ⊛ x`` and, with ``F`` the DFT,

    C = F⁻¹ diag(F c) F,       C x = ifft(fft(c) · fft(x)) = irfft(rfft(c) · rfft(x), n).

The eigenvalues of ``C`` are ``fft(c)``; circulants commute; ``circ(a) circ(b) = circ(a ⊛ b)``;
the transpose and the inverse of a circulant are circulant.

Layers follow ``torch.nn.Linear``: a weight ``W`` of shape ``(out, in)`` acts as
``y = x @ W.T`` on row vectors ``x``. A square plain circulant layer has ``W = circulant(c)``.

Diagonal-circulant factors (the paper's "DC", ``diagonal="learned"``, and Cheng et al.'s
"CD" with fixed ±1 signs, ``diagonal="sign"``) scale the **input** first::

    W = C(c) · diag(d)                  one factor
    W = (C_k D_k) ⋯ (C_1 D_1)           k factors, applied right to left

The paper's TensorFlow code stores the **first row** and applies its fixed signs *after* the
circulant; ``paper.md`` §2.1-2.2 has the mapping (first row ``w`` ↔ first column
``c = transpose_vector(w)``). Both describe the same function class.

Rectangular maps ``in → out`` (the paper's rule): ``B = ceil(out / in)`` independent square
``in × in`` blocks act on the same input; their outputs are concatenated and truncated to the
first ``out`` entries. For ``out < in`` that is one block's first ``out`` rows. There is no
input padding. Parameters: ``B · in · (1 + learned diagonal) · k (+ out for a bias)``.

Every torch layer in :mod:`circlearn.nn` is tested against these functions. Toeplitz, low-rank
and signs-after-the-circulant maps live in :mod:`circlearn.reference_structured` and are
re-exported here.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from circlearn import reference_structured as _structured
from circlearn.reference_structured import (  # noqa: F401 (re-exported through __all__)
    low_rank_matrix,
    low_rank_matvec,
    low_rank_parameter_count,
    nearest_low_rank,
    nearest_toeplitz,
    sign_output_matrix,
    sign_output_matvec,
    toeplitz,
    toeplitz_matvec,
    toeplitz_parameter_count,
)

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
    "num_blocks",
    "rectangular_matrix",
    "rectangular_matvec",
    "parameter_count",
    "nearest_circulant",
    "nearest_block_circulant",
    # re-exported: the structured maps of circlearn.reference_structured
    *_structured.__all__,
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
    return nearest_block_circulant(W, W.shape[1])[0]


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
    j = np.arange(n)
    for b in range(blocks):
        rows = W[b * n:(b + 1) * n]  # (r, n), r <= n
        i = np.arange(rows.shape[0])[:, None]
        k = (i - j[None, :]) % n  # wrapped diagonal of each entry
        sums = np.bincount(k.ravel(), weights=rows.ravel(), minlength=n)
        counts = np.bincount(k.ravel(), minlength=n)
        cs[b] = sums / counts  # every diagonal meets every row once, so counts >= 1
    return cs
