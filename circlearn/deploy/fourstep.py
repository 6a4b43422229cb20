r"""A circulant layer as three real matrix products, built in float64 (NumPy).

ONNX Runtime's CPU ``DFT`` kernel is slow on many short transforms, so an exported circulant
layer is lowered to ``MatMul`` nodes instead (:mod:`circlearn.deploy.lowering`). This module
builds the matrices; the derivation ("four-step", mixed-radix) is design note
``structured.md`` §5.6.

Write ``n = n1 · n2`` (``n1`` even) and index a length-``n`` vector as ``i = n2·i1 + i2``, ``i1``
the slow index. Let ``F`` be the ``n1 × n1`` real DFT in half-complex order (rows ``X_0``,
``X_{n1/2}``, then ``Re X_s``, ``Im X_s`` for ``s = 1 … n1/2 − 1``, with
``X_s = Σ_{i1} x[i1] e^{−2πi s i1 / n1}``). Then ``P = F ⊗ I_{n2}`` block-diagonalizes every
circulant ``C`` of size ``n``: ``P C P⁻¹ = blockdiag(M_0, …, M_{n1/2−1})`` with real
``2n2 × 2n2`` blocks. With ``ĉ = fft(c)``, ``t_k[i2] = e^{−2πi i2 k / n}`` and ``G`` the
``n2``-point DFT matrix, the complex map of frequency ``k`` is::

    K_k = diag(conj(t_k)) · G⁻¹ · diag(ĉ[k + n1·k2]_{k2}) · G · diag(t_k)

and the real blocks are ``M_0 = blockdiag(K_0, K_{n1/2})`` (both real) and, for ``s ≥ 1``,
``M_s = [[Re K_s, −Im K_s], [Im K_s, Re K_s]]`` acting on ``(Re, Im)``. A diagonal-circulant
block ``y = C(c) (d ⊙ x)`` is then three products::

    t1 = (F ⊗ I)(d ⊙ x),   t2 = M_s t1 blockwise,   y = (F⁻¹ ⊗ I) t2

Work per row and block ``≈ 4 n (n1 + n2)`` flops (a dense block: ``2 n²``); stored floats
``2 n n2`` per block for the ``M_s`` plus ``2 n1²`` for ``F`` and ``F⁻¹``.

>>> import numpy as np
>>> from circlearn import reference
>>> rng = np.random.default_rng(0)
>>> c, d = rng.standard_normal((2, 2, 8))   # two 8 × 8 blocks: a map 8 → 12
>>> x = rng.standard_normal((5, 8))           # five rows
>>> fwd, mix, ds, inv, n2 = three_matrices(c, d, 4)
>>> y = apply_three(fwd, mix, ds, inv, x, 12)
>>> bool(np.allclose(y, reference.rectangular_matvec(c, d, x, 12)))
True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["real_dft_matrix", "split", "three_matrices", "apply_three", "stored_floats",
           "split_fft", "fft_factors", "apply_fft", "stored_floats_fft"]


def real_dft_matrix(n1: int) -> tuple[np.ndarray, np.ndarray]:
    """``(F, F⁻¹)``: the ``n1 × n1`` real DFT in half-complex order and its inverse (float64).

    >>> f, g = real_dft_matrix(4)
    >>> f
    array([[ 1.,  1.,  1.,  1.],
           [ 1., -1.,  1., -1.],
           [ 1.,  0., -1., -0.],
           [-0., -1., -0.,  1.]])
    >>> bool(np.allclose(g @ f, np.eye(4)))
    True
    """
    if n1 < 2 or n1 % 2:
        raise ValueError(f"the real DFT size n1 must be even and >= 2, got {n1}")
    i = np.arange(n1)
    s = np.arange(1, n1 // 2)[:, None]
    angle = 2 * np.pi * s * i / n1  # (n1/2 - 1, n1)
    f = np.empty((n1, n1))
    f[0], f[1] = 1.0, (-1.0) ** i
    f[2::2], f[3::2] = np.cos(angle), -np.sin(angle)
    g = np.empty((n1, n1))  # y[i] = (X_0 + (-1)^i X_{n1/2} + 2 Σ_s Re(X_s e^{+iθ})) / n1
    g[:, 0], g[:, 1] = 1.0 / n1, (-1.0) ** i / n1
    g[:, 2::2], g[:, 3::2] = 2 * np.cos(angle.T) / n1, -2 * np.sin(angle.T) / n1
    return f, g


def split(n: int) -> tuple[int, int] | None:
    """``(n1, n2)`` with ``n1`` even and ``n1 ≥ n2``, ``n2`` the largest divisor of ``n`` up to
    ``√n`` that leaves ``n1 = n / n2`` even (least work ``4n(n1 + n2)``; ``n1 ≥ n2`` stores
    fewer floats, ``2n·n2 + 2n1²``); None when ``n`` is odd.

    >>> split(1024), split(8192), split(512), split(6), split(7)
    ((32, 32), (128, 64), (32, 16), (6, 1), None)
    """
    if n < 2 or n % 2:
        return None
    n2 = max(k for k in range(1, math.isqrt(n) + 1) if n % k == 0 and (n // k) % 2 == 0)
    return n // n2, n2


def _frequency_maps(c: np.ndarray, n1: int, n2: int, ks=None) -> np.ndarray:
    """The complex ``K_k`` of the module docstring for ``k`` in ``ks`` (default ``0 … n1/2``):
    ``(len(ks), n2, n2)``."""
    n = n1 * n2
    spectrum = np.fft.fft(c)  # (n,), c is the first column: Y = ĉ · Z
    k = np.arange(n1 // 2 + 1)[:, None] if ks is None else np.asarray(ks)[:, None]
    i2 = np.arange(n2)
    t = np.exp(-2j * np.pi * k * i2 / n)  # (n1/2 + 1, n2), twiddles
    g = np.exp(-2j * np.pi * np.outer(i2, i2) / n2)  # (n2, n2), symmetric
    spec = spectrum[k + n1 * i2]  # (n1/2 + 1, n2): ĉ[k + n1·k2]
    inner = (g.conj() / n2)[None] * spec[:, None, :] @ g  # G⁻¹ diag(ĉ) G
    return t.conj()[:, :, None] * inner * t[:, None, :]


def three_matrices(cs, ds, n1: int, *, check: bool = True):
    """The float64 factors of a block-circulant layer: ``(F, M, d, F⁻¹, n2)``.

    ``cs`` ``(blocks, n)`` first columns; ``ds`` ``(blocks, n)`` input diagonals or None;
    ``n1`` even, dividing ``n``. Returns ``F`` ``(n1, n1)``, ``M`` ``(blocks, n1/2, 2n2,
    2n2)``, ``ds`` as given and ``F⁻¹`` ``(n1, n1)``. ``check``: raise ``ArithmeticError``
    when the blocks ``M_0`` are not real to 1e-9 of their scale (the factorization is wrong
    if they are not).
    """
    cs = np.atleast_2d(np.asarray(cs, dtype=np.float64))
    blocks, n = cs.shape
    if n1 < 2 or n1 % 2 or n % n1:
        raise ValueError(f"n1 must be even and divide n = {n}, got {n1}")
    n2 = n // n1
    mix = np.empty((blocks, n1 // 2, 2 * n2, 2 * n2))
    for b in range(blocks):
        k = _frequency_maps(cs[b], n1, n2)  # (n1/2 + 1, n2, n2)
        edge = np.stack([k[0], k[n1 // 2]])  # frequencies 0 and n1/2: real maps
        scale = max(np.abs(k).max(), np.finfo(float).tiny)
        if check and np.abs(edge.imag).max() > 1e-9 * scale:
            raise ArithmeticError(f"block {b}: the frequency-0 and n1/2 maps are not real")
        mix[b, 0] = 0.0
        mix[b, 0, :n2, :n2], mix[b, 0, n2:, n2:] = edge.real
        inner = k[1:n1 // 2]  # (n1/2 - 1, n2, n2)
        mix[b, 1:, :n2, :n2], mix[b, 1:, :n2, n2:] = inner.real, -inner.imag
        mix[b, 1:, n2:, :n2], mix[b, 1:, n2:, n2:] = inner.imag, inner.real
    f, g = real_dft_matrix(n1)
    return f, mix, None if ds is None else np.asarray(ds, dtype=np.float64), g, n2


def apply_three(fwd, mix, ds, inv, x, out_features: int) -> np.ndarray:
    """The three products on rows ``x`` ``(R, n)`` → ``(R, out_features)`` (float64), the
    layout :class:`circlearn.deploy.lowering.MatMulCirculant` uses: feature-major
    ``(blocks, n1, n2·R)`` so that every product has its matrix first."""
    x = np.asarray(x, dtype=np.float64)
    blocks, half, m2, _ = mix.shape
    n1, n2, r = 2 * half, m2 // 2, x.shape[0]
    xt = x.T[None]  # (1, n, R)
    if ds is not None:
        xt = xt * np.asarray(ds)[:, :, None]  # (blocks, n, R)
    t1 = fwd @ xt.reshape(xt.shape[0], n1, n2 * r)  # (blocks|1, n1, n2·R)
    t2 = mix @ t1.reshape(t1.shape[0], half, m2, r)  # (blocks, n1/2, 2n2, R)
    y = inv @ t2.reshape(blocks, n1, n2 * r)  # (blocks, n1, n2·R)
    return y.reshape(blocks * n1 * n2, r)[:out_features].T


def stored_floats(in_features: int, out_features: int, n1: int) -> int:
    """Floats stored by the three-product form of ``in → out``: the ``M`` blocks, ``F``, the
    used rows of ``F⁻¹`` (not counting ``d`` and the bias, which every form stores).

    >>> stored_floats(1024, 8192, 32)   # 8 blocks · 2 · 1024 · 32 + 32² + 32²
    526336
    """
    blocks = -(-out_features // in_features)
    n2 = in_features // n1
    rows = n1 if blocks > 1 else min(n1, -(-out_features // n2))
    return blocks * 2 * in_features * n2 + n1 * n1 + rows * n1


# ----------------------------------------------------------------------------- the FFT form
# The mixing blocks cost 2n·n2 stored floats per block: more than the dense weight for the
# FCs of NetVLAD and NetFV (65,536 and 131,072 → 512). Their factors K_s = conj(t_s) G⁻¹
# diag(ĉ_s) G t_s can be applied one by one instead: the twiddles t_s and the spectrum ĉ are
# elementwise products (O(n) floats), G and G⁻¹ are shared n2 × n2 DFT matrices; only the
# two real edge maps K_0 and K_{n1/2} are stored whole. That is the four-step FFT itself,
# written with matrix products.


def _fft_flops(n: int, out: int, n1: int) -> int:
    """Flops per row and block of the FFT form: F, G and G⁻¹, the used rows of F⁻¹."""
    n2 = n // n1
    rows = n1 if out > n else min(n1, -(-out // n2))
    return 2 * n * n1 + 8 * n * n2 + 2 * n * rows


def split_fft(n: int, out: int) -> tuple[int, int] | None:
    """``(n1, n2)`` of least work for the FFT form of ``n → out`` (``n1`` even); None for odd
    ``n``.

    >>> split_fft(65536, 512), split_fft(131072, 512)
    ((512, 128), (512, 256))
    """
    if n < 2 or n % 2:
        return None
    n1 = min((n // k for k in range(1, n + 1) if n % k == 0 and (n // k) % 2 == 0),
             key=lambda m: (_fft_flops(n, out, m), -m))
    return n1, n // n1


def fft_factors(cs, n1: int) -> dict[str, np.ndarray]:
    """The float64 factors of the FFT form (``h = n1/2 - 1`` inner frequency pairs):
    ``edge`` ``(blocks, 2n2, 2n2)`` = ``blockdiag(K_0, K_{n1/2})``, ``twiddle`` ``(h, n2)``
    complex (``t_s[i2] = e^{−2πi s i2 / n}``), ``spectrum`` ``(blocks, h, n2)`` complex
    (``ĉ[s + n1·k2]``), ``g`` ``(n2, n2)`` complex (the ``n2``-point DFT) and ``F``, ``F⁻¹``.
    """
    cs = np.atleast_2d(np.asarray(cs, dtype=np.float64))
    blocks, n = cs.shape
    if n1 < 2 or n1 % 2 or n % n1:
        raise ValueError(f"n1 must be even and divide n = {n}, got {n1}")
    n2 = n // n1
    edge = np.zeros((blocks, 2 * n2, 2 * n2))
    for b in range(blocks):
        k0, kh = _frequency_maps(cs[b], n1, n2, [0, n1 // 2])
        edge[b, :n2, :n2], edge[b, n2:, n2:] = k0.real, kh.real
    s = np.arange(1, n1 // 2)[:, None]
    i2 = np.arange(n2)
    spectrum = np.fft.fft(cs, axis=-1)[:, s + n1 * i2]  # (blocks, h, n2)
    f, g_inv = real_dft_matrix(n1)
    return {"forward": f, "inverse": g_inv, "edge": edge,
            "twiddle": np.exp(-2j * np.pi * s * i2 / n), "spectrum": spectrum,
            "g": np.exp(-2j * np.pi * np.outer(i2, i2) / n2)}


def apply_fft(factors: dict, ds, x, out_features: int) -> np.ndarray:
    """The FFT form on rows ``x`` ``(R, n)`` → ``(R, out_features)`` (float64), in the
    layout of :func:`apply_three`, the mixing step applied factor by factor."""
    x = np.asarray(x, dtype=np.float64)
    f, edge, tw, spec, g = (factors[k] for k in ("forward", "edge", "twiddle", "spectrum", "g"))
    blocks, n2, r = edge.shape[0], g.shape[0], x.shape[0]
    n1 = f.shape[0]
    xt = x.T[None] if ds is None else x.T[None] * np.asarray(ds)[:, :, None]  # (·, n, R)
    t1 = (f @ xt.reshape(xt.shape[0], n1, n2 * r)).reshape(-1, n1 // 2, 2 * n2, r)
    head = edge[:, None] @ t1[:, :1]  # (blocks, 1, 2n2, R)
    a = t1[:, 1:, :n2] + 1j * t1[:, 1:, n2:]  # (·, h, n2, R)
    z = tw.conj()[..., None] * (np.linalg.inv(g) @ (spec[..., None] * (g @ (tw[..., None] * a))))
    t2 = np.concatenate([head, np.concatenate([z.real, z.imag], axis=2)], axis=1)
    y = factors["inverse"] @ t2.reshape(blocks, n1, n2 * r)  # (blocks, n1, n2·R)
    return y.reshape(blocks * n1 * n2, r)[:out_features].T


def stored_floats_fft(in_features: int, out_features: int, n1: int) -> int:
    """Floats stored by the FFT form: ``F``, the used rows of ``F⁻¹``, the edge maps, the real
    blocks of ``G`` and ``G⁻¹``, twiddles and spectra (real and imaginary parts).

    >>> stored_floats_fft(65536, 512, 512)   # 512² + 4·512 + 4·128² + 8·128² + 4·255·128
    591360
    """
    blocks = -(-out_features // in_features)
    n2 = in_features // n1
    rows = n1 if blocks > 1 else min(n1, -(-out_features // n2))
    inner = (n1 // 2 - 1) * n2
    return n1 * n1 + rows * n1 + blocks * 4 * n2 * n2 + 8 * n2 * n2 + 2 * inner * (1 + blocks)
