r"""Stateless torch circulant ops (``torch.fft.rfft``/``irfft`` with explicit ``n``).

Conventions are those of :mod:`circlearn.reference` (first column ``c``, ``C[i, j] =
c[(i - j) mod n]``; layers act on row vectors like ``nn.Linear``)::

    circulant_matmul(x, c)          = x @ circulant(c).T          = irfft(rfft(x) · rfft(c), n)
    diag_circulant_matmul(x, c, d)  = x @ (circulant(c) diag(d)).T = circulant_matmul(x · d, c)
    block_circulant_matmul(x, c, d, out)  the paper's rectangular rule, k factors per block
                                          (autograd through torch.fft: the readable twin)
    circulant_linear(x, c, d, out, bias=None)  the same map (plus an optional bias) for one
                                    factor per block, with a hand-written backward (the fast
                                    path used by CirculantLinear)
    circulant_linear_small_cpu(...) inference on a few CPU rows via scipy.fft (cached plans)

Fast path (:func:`circulant_linear`). For ``y_b = C(c_b) z_b`` with ``z_b = d_b ⊙ x``:

    dL/dz_b = irfft(rfft(g_b) · conj(rfft(c_b)), n)            (correlation with c_b)
    dL/dc_b = irfft(Σ_rows rfft(g_b) · conj(rfft(z_b)), n)      (batch reduced in frequency)
    dL/dd_b = Σ_rows x ⊙ dL/dz_b,     dL/dx = Σ_b d_b ⊙ dL/dz_b,     dL/dbias = Σ_rows g

On the CPU the backward's products and reductions run fused in numba kernels
(:mod:`circlearn.nn.kernels`; the torch expressions here are their twin and fallback).

Rows are processed in chunks of ``CHUNK_TRANSFORMS / blocks`` rows so the intermediates stay
in cache and are reused by the allocator (on the 2-core CPU this is 2-4x faster than the
autograd chain for 1024→8192 on 1200 rows; see benchmarks/bench_layers.py). With several
blocks the input spectrum is recomputed in backward rather than stored (one more FFT, no
``rows · blocks · n`` buffer); with one block it is kept (it is no larger than the input).
Without a diagonal one ``rfft(x)`` serves every block and ``dL/dx`` needs one inverse FFT.
The bias lives in the frequency domain: ``irfft(Z·S + rfft(bias)) = irfft(Z·S) + bias``, so the
product pass adds it, and its gradient ``Σ_rows g`` is summed from the spectra ``rfft(g)`` the
weight gradient reads anyway (one small inverse FFT at the end). Adding it to the output
afterwards cost one more pass over the output and, for outputs above glibc's 32 MB mmap
ceiling, a fresh page-faulted allocation (1024→8192 on 1,200 rows: 15% of the whole fwd+bwd
on the 2-core CPU).

Precision: FFTs run in at least float32. float16/bfloat16 inputs (also under autocast, where a
preceding matmul hands us half tensors) are computed in float32 and the result is cast back to
the input dtype: CPU has no half FFT, cuFFT's half FFT needs power-of-two sizes, and there is no
bfloat16 FFT at all. float64 inputs stay float64.
"""

from __future__ import annotations

import scipy.fft
import torch
from torch.autograd.function import once_differentiable

from circlearn.nn import kernels

__all__ = [
    "l2_normalize",
    "circulant_linear",
    "circulant_linear_small_cpu",
    "circulant_spectrum",
    "circulant_matmul",
    "diag_circulant_matmul",
    "block_circulant_matmul",
    "circulant_dense",
    "compute_dtype",
]

_HALF = (torch.float16, torch.bfloat16)


def compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The real dtype FFTs run in: the promoted dtype of the inputs, at least float32."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if dtype in _HALF or not dtype.is_floating_point:
        return torch.float32
    return dtype


def _check_last_dim(x: torch.Tensor, n: int, name: str = "x") -> None:
    if x.dim() == 0 or x.shape[-1] != n:
        raise ValueError(f"{name} must have shape (..., {n}), got {tuple(x.shape)}")


def circulant_matmul(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``x @ circulant(c).T`` over the last dim: ``irfft(rfft(x) * rfft(c), n=n)``.

    ``c`` may carry leading dims that broadcast against ``x``'s (one circulant per block).

    Shape:
        x ``(..., n)``, c ``(..., n)`` → ``(..., n)`` in ``x``'s dtype.

    >>> circulant_matmul(torch.tensor([1., 0., 0.]), torch.tensor([1., 2., 3.]))
    tensor([1., 2., 3.])
    """
    n = c.shape[-1]
    if n == 0:
        raise ValueError("c must not be empty (n = 0)")
    _check_last_dim(x, n)
    dt = compute_dtype(x, c)
    # n= is required: for odd n, irfft's default output length 2*(m-1) is wrong.
    y = torch.fft.irfft(torch.fft.rfft(x.to(dt)) * torch.fft.rfft(c.to(dt)), n=n)
    return y.to(x.dtype)


def diag_circulant_matmul(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``x @ (circulant(c) diag(d)).T``: scale the input by ``d``, then convolve with ``c``.

    Shape:
        x ``(..., n)``, c and d ``(..., n)`` → ``(..., n)``.
    """
    if d.shape[-1] != c.shape[-1]:
        raise ValueError(f"d must have shape (..., {c.shape[-1]}), got {tuple(d.shape)}")
    dt = compute_dtype(x, c, d)
    return circulant_matmul(x.to(dt) * d.to(dt), c).to(x.dtype)


def _check_blocks(c: torch.Tensor, d: torch.Tensor | None, out_features: int) -> None:
    if c.dim() != 3 or 0 in c.shape:
        raise ValueError(f"c must have shape (blocks, n_factors, n), got {tuple(c.shape)}")
    if d is not None and d.shape != c.shape:
        raise ValueError(f"d must have the shape of c {tuple(c.shape)}, got {tuple(d.shape)}")
    blocks, _, n = c.shape
    if out_features < 1 or blocks != -(-out_features // n):
        raise ValueError(
            f"{n} -> {out_features} needs ceil({out_features}/{n}) blocks, c has {blocks}")


def block_circulant_matmul(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor | None,
                           out_features: int) -> torch.Tensor:
    """The paper's rectangular circulant map ``x @ W.T`` with ``W`` of shape ``(out, n)``.

    Block ``b`` is ``(C(c[b, k-1]) D(d[b, k-1])) ⋯ (C(c[b, 0]) D(d[b, 0]))`` (``d=None``:
    no diagonals); every block sees the same ``x``; outputs are concatenated and truncated
    to ``out_features``. With no diagonal on the first factor, one ``rfft(x)`` is shared by all
    blocks.

    Shape:
        x ``(..., n)``, c and d ``(blocks, k, n)`` → ``(..., out_features)``.
    """
    _check_blocks(c, d, out_features)
    blocks, k, n = c.shape
    _check_last_dim(x, n)
    dt = compute_dtype(x, c) if d is None else compute_dtype(x, c, d)
    z = x.to(dt).unsqueeze(-2)  # (..., 1, n)
    for i in range(k):
        if d is not None:
            z = z * d[:, i].to(dt)  # (..., blocks, n)
        # rfft of the factor's columns, not a slice of one complex tensor: the ONNX exporter
        # cannot index complex tensors (it lowers rfft to DFT, complex as a trailing dim 2)
        spec_c = torch.fft.rfft(c[:, i].to(dt))  # (blocks, n//2+1)
        z = torch.fft.irfft(torch.fft.rfft(z) * spec_c, n=n)  # (..., blocks, n)
    y = z.reshape(*z.shape[:-2], blocks * n)  # (..., blocks*n)
    if blocks * n != out_features:
        y = y[..., :out_features]  # (..., out)
    return y.to(x.dtype)


def _circulant_rows(c: torch.Tensor, rows: int) -> torch.Tensor:
    """First ``rows`` rows of ``circulant(c)`` for ``c (..., n)`` → ``(..., rows, n)``."""
    n = c.shape[-1]
    i = torch.arange(rows, device=c.device).view(-1, 1)
    j = torch.arange(n, device=c.device).view(1, -1)
    return c[..., (i - j) % n]


def circulant_dense(c: torch.Tensor, d: torch.Tensor | None, out_features: int) -> torch.Tensor:
    """Materialize the ``(out_features, n)`` weight of :func:`block_circulant_matmul`.

    Differentiable: gradients through ``x @ W.T`` equal those of the FFT form. Built by
    indexing ``C[i, j] = c[(i - j) mod n]`` and scaling columns by ``d``; factor chains are
    multiplied out (only the rows that survive truncation are formed for the last factor).
    """
    _check_blocks(c, d, out_features)
    blocks, k, n = c.shape
    parts = []
    for b in range(blocks):
        rows = min(n, out_features - b * n)
        w = None
        for i in range(k):
            last = i == k - 1
            m = _circulant_rows(c[b, i], rows if last else n)  # (r, n)
            if d is not None:
                m = m * d[b, i].unsqueeze(0)
            w = m if w is None else m @ w
        parts.append(w)
    return torch.cat(parts, dim=0)  # (out, n)


# At most this many length-n transforms per call go through scipy.fft on the CPU (inference
# on a few rows, and every small FFT of the fast path: the spectrum of c, the weight gradient,
# small batches). torch's CPU FFT (MKL) pays a per-call set-up proportional to n (≈130 µs at
# n = 8192, one row), scipy's pocketfft caches its plans (≈40 µs); per row MKL is ≈4× faster,
# so the crossover measured on the 2-core CPU is ≈8 rows at n = 8192 and ≈13 at n = 1024
# (benchmarks/bench_layers.py).
SMALL_CPU_ROWS = 8


# Length-n transforms per FFT call (rows × blocks of one chunk). Each torch CPU FFT call pays a
# plan set-up that grows with n (≈130 µs at n = 8192), so a chunk needs enough transforms to
# amortize it, yet should stay small enough for its intermediates to be reused from cache.
# 128 was best or within ~10% of best on the 2-core CPU for n = 1024 (8 blocks) to 16384
# (1 block), at 1 and 2 threads (benchmarks/bench_layers.py; 16 was up to 2x slower).
# All blocks of a rectangular layer share each FFT call (rows × blocks transforms): on the
# 2-core CPU that was 7-11% faster than one call per block (1024→8192 on 1,200 rows, forward:
# 22.6 vs 24.4 ms at 1 thread, 14.4 vs 16.1 ms at 2).
# On CUDA the whole batch goes in one call: cuFFT caches its plans and a GPU needs large
# launches to fill; chunking would only add kernel launches (benchmarks/gpu_suite.sh measures
# it; no GPU was available when this default was set).
CHUNK_TRANSFORMS = 128


# Fuse the backward's products and reductions with the numba kernels of circlearn.nn.kernels
# (CPU, float32/64, numba importable). False: the torch expressions below, their twin.
USE_KERNELS = True


def _chunk_rows(x: torch.Tensor, rows: int, blocks: int) -> int:
    if x.device.type == "cuda":
        return max(1, rows)
    return max(1, CHUNK_TRANSFORMS // blocks)


# Measured and not taken (2-core CPU, 256 × 8192, one thread): real FFTs through half-length
# complex ones (torch.fft.fft of x viewed as n/2 complex numbers: 1.64 ms against rfft's
# 2.26 ms; ifft 1.73 ms against irfft's 3.13 ms, which clones its input). They need a
# split/merge pass per transform; fused with the spectrum product in numba it ran at 2.1 ms
# against 0.84 ms for the product alone, leaving about 0.6 ms per forward for much harder code.


def _few_cpu_transforms(t: torch.Tensor) -> bool:
    # scipy is outside autograd (a tensor that needs a gradient stays on torch.fft), and
    # torch.compile traces torch.fft, not scipy: compiled code keeps the torch calls.
    return (t.device.type == "cpu" and t.numel() <= SMALL_CPU_ROWS * t.shape[-1]
            and t.dtype in (torch.float32, torch.float64, torch.complex64, torch.complex128)
            and not (t.requires_grad and torch.is_grad_enabled())
            and not kernels.is_compiling())


def _rfft(x: torch.Tensor) -> torch.Tensor:
    """``torch.fft.rfft`` over the last dim; a few CPU rows go through ``scipy.fft``, which
    caches its plans (torch's CPU FFT sets one up per call: ≈130 µs at n = 8192)."""
    if _few_cpu_transforms(x):
        return torch.from_numpy(scipy.fft.rfft(x.detach().numpy(), axis=-1))
    return torch.fft.rfft(x)


def _irfft(z: torch.Tensor, n: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """``torch.fft.irfft(z, n)`` over the last dim, with :func:`_rfft`'s rule for few rows."""
    if _few_cpu_transforms(z):
        y = torch.from_numpy(scipy.fft.irfft(z.detach().numpy(), n=n, axis=-1))
        return y if out is None else out.copy_(y)
    return torch.fft.irfft(z, n=n, out=out)


def circulant_spectrum(c: torch.Tensor) -> torch.Tensor:
    """``rfft`` of the first columns ``c (blocks, n)`` → ``(blocks, n//2+1)`` (cacheable)."""
    return _rfft(c.to(compute_dtype(c)))


class _CirculantLinearFn(torch.autograd.Function):
    """One diagonal-circulant factor per block, chunked over rows, hand-written backward."""

    @staticmethod
    def forward(ctx, x, c, d, bias, out_features, spectrum):
        blocks, n = c.shape
        x2 = x.reshape(-1, n)  # (R, n)
        rows = x2.shape[0]
        s = circulant_spectrum(c) if spectrum is None else spectrum  # (blocks, m)
        step = _chunk_rows(x2, rows, blocks)
        exact = blocks * n == out_features  # no truncation: irfft can write into y
        # One chunk and no truncation: irfft's result is y (out= on the CPU would copy it).
        single = exact and step >= rows
        y = None if single else x2.new_empty(rows, out_features)  # (R, out)
        # One block: keep the input spectrum for dL/dc (as large as x); several blocks:
        # recompute it in backward instead of storing blocks × the input.
        keep = ctx.needs_input_grad[1] and blocks == 1
        kept = []  # per chunk (r, 1, m); not one buffer: rfft(out=) on the CPU copies its result
        bspec = None
        if bias is not None:  # added to the spectrum: irfft(Z·S + rfft(bias)) = irfft(Z·S) + bias
            padded = bias if exact else torch.nn.functional.pad(bias, (0, blocks * n - out_features))
            bspec = _rfft(padded.view(blocks, n))  # (blocks, m)
        for r0 in range(0, rows, step):
            xs = x2[r0:r0 + step]  # (r, n)
            r = xs.shape[0]
            inp = xs.unsqueeze(1) if d is None else xs.unsqueeze(1) * d  # (r, blocks|1, n)
            z = _rfft(inp)  # (r, blocks|1, m)
            if keep:
                kept.append(z)  # (r, 1, m), for backward
            if bspec is not None:
                spec = torch.addcmul(bspec, z, s)  # (r, blocks, m)
            elif keep or d is None:  # z is kept, or (r, 1, m) broadcast over blocks
                spec = z * s
            else:
                spec = z.mul_(s)
            if single:
                y = _irfft(spec, n=n).view(r, out_features)
            elif exact:
                _irfft(spec, n=n, out=y[r0:r0 + step].view(r, blocks, n))
            else:
                y[r0:r0 + step] = _irfft(spec, n=n).reshape(r, blocks * n)[:, :out_features]
        ctx.save_for_backward(x2, d, s, *kept)
        ctx.meta = (x.shape, n, blocks, out_features, step, bias is not None)
        return y.reshape(*x.shape[:-1], out_features)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        x2, d, s, *kept = ctx.saved_tensors
        x_shape, n, blocks, out_features, step, has_bias = ctx.meta
        rows = x2.shape[0]
        need_x, need_c, need_d, need_b = ctx.needs_input_grad[:4]
        grad_y = grad_y.reshape(rows, out_features)
        grad_x = x2.new_empty(rows, n) if need_x else None
        grad_cs = s.new_zeros(s.shape) if need_c else None  # (blocks, m), frequency domain
        grad_d = x2.new_zeros(blocks, n) if (need_d and d is not None) else None
        grad_b = x2.new_zeros(out_features) if (need_b and has_bias) else None
        # dL/dbias = Σ_rows grad_y: summed from the spectra g (read anyway for dL/dc; one small
        # inverse FFT at the end), else from the chunks of grad_y.
        grad_bs = s.new_zeros(s.shape) if (grad_b is not None and need_c) else None
        s_conj = s.conj().resolve_conj()  # materialized once, not per chunk
        # (each chunk's g and xs are contiguous, of s's and x2's dtypes: checked once here)
        use_kernels = USE_KERNELS and kernels.usable(x2, s_conj) and (d is None or kernels.usable(d))
        for i, r0 in enumerate(range(0, rows, step)):
            xs = x2[r0:r0 + step]  # (r, n)
            r = xs.shape[0]
            gys = grad_y[r0:r0 + step]
            if grad_b is not None and grad_bs is None:
                grad_b += gys.sum(0)
            if blocks * n != out_features:  # truncated rows get zero gradient
                gys = torch.nn.functional.pad(gys, (0, blocks * n - out_features))
            g = _rfft(gys.reshape(r, blocks, n))  # (r, blocks, m)
            scaled = False  # g already multiplied by conj(s)
            if need_c:
                if kept:
                    z = kept[i]  # (r, 1, m)
                else:
                    z = _rfft(xs).unsqueeze(1) if d is None else \
                        _rfft(xs.unsqueeze(1) * d)  # (r, blocks|1, m)
                if use_kernels:  # one pass: grad_cs += Σ_r g·conj(z), grad_bs += Σ_r g, g *= conj(s)
                    scaled = d is not None
                    kernels.frequency_backward(g, z, s_conj, grad_cs, scale=scaled, acc_sum=grad_bs)
                else:
                    grad_cs += (g * z.conj()).sum(0)
                    if grad_bs is not None:
                        grad_bs += g.sum(0)
            if d is None:
                if need_x:
                    _irfft((g * s_conj).sum(1), n=n, out=grad_x[r0:r0 + step])
            else:
                gz = _irfft(g if scaled else g.mul_(s_conj), n=n)  # (r, blocks, n)
                if use_kernels:  # one pass: grad_x = Σ_b gz·d, grad_d += Σ_r gz·x
                    kernels.spatial_backward(gz, xs, d, grad_x[r0:r0 + step] if need_x else None,
                                             grad_d)
                    continue
                if need_x:
                    if blocks == 1:
                        torch.mul(gz[:, 0], d[0], out=grad_x[r0:r0 + step])
                    else:
                        grad_x[r0:r0 + step] = (gz * d).sum(1)
                if grad_d is not None:
                    grad_d += (gz * xs.unsqueeze(1)).sum(0)
        grad_c = _irfft(grad_cs, n=n) if need_c else None
        if grad_bs is not None:
            grad_b = _irfft(grad_bs, n=n).reshape(blocks * n)[:out_features]
        grad_x = None if grad_x is None else grad_x.reshape(x_shape)
        return grad_x, grad_c, grad_d, grad_b, None, None


def circulant_linear(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor | None,
                     out_features: int, spectrum: torch.Tensor | None = None,
                     bias: torch.Tensor | None = None) -> torch.Tensor:
    """Fast :func:`block_circulant_matmul` for one factor per block, plus ``bias`` if given.

    ``c`` and ``d`` are ``(blocks, n)`` (or ``(blocks, 1, n)``), ``bias`` ``(out_features,)``;
    ``spectrum`` optionally
    passes a cached :func:`circulant_spectrum` of ``c`` (inference only: no gradient reaches
    ``c`` through it). Same precision rules as the other ops; first-order gradients only.

    Shape:
        x ``(..., n)`` → ``(..., out_features)``.
    """
    if c.dim() == 3 and c.shape[1] == 1:
        c = c[:, 0]
        d = None if d is None else d[:, 0]
    if c.dim() != 2:
        raise ValueError(f"c must have shape (blocks, n) (one factor), got {tuple(c.shape)}")
    _check_blocks(c.unsqueeze(1), None if d is None else d.unsqueeze(1), out_features)
    _check_last_dim(x, c.shape[-1])
    if bias is not None and bias.shape != (out_features,):
        raise ValueError(f"bias must have shape ({out_features},), got {tuple(bias.shape)}")
    dt = compute_dtype(x, c) if d is None else compute_dtype(x, c, d)
    if spectrum is not None:
        spectrum = spectrum.to(torch.promote_types(spectrum.dtype, torch.complex64))
    y = _CirculantLinearFn.apply(x.to(dt).contiguous(), c.to(dt), None if d is None else d.to(dt),
                                 None if bias is None else bias.to(dt), out_features, spectrum)
    return y.to(x.dtype)


def l2_normalize(x: torch.Tensor, dim: int = -1, eps: float = 1e-12) -> torch.Tensor:
    """``tf.nn.l2_normalize``: ``x / sqrt(max(Σ x², eps))`` along ``dim``; zeros stay zeros.

    Used for the per-frame input normalization and inside NetVLAD/NetFV.

    >>> l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[0.6000, 0.8000],
            [0.0000, 0.0000]])
    """
    return x * torch.rsqrt(torch.clamp((x * x).sum(dim=dim, keepdim=True), min=eps))




def circulant_linear_small_cpu(x: torch.Tensor, d: torch.Tensor | None, out_features: int,
                               spectrum: torch.Tensor) -> torch.Tensor:
    """Inference-only :func:`circulant_linear` for a few rows on the CPU, via ``scipy.fft``.

    No autograd (the caller checks ``torch.is_grad_enabled()``); ``spectrum`` is
    :func:`circulant_spectrum` of the first columns, shape ``(blocks, n//2+1)``. float32 and
    float64 inputs keep their dtype; other dtypes are computed in float32 and cast back.

    Shape:
        x ``(..., n)`` → ``(..., out_features)``.
    """
    blocks, m = spectrum.shape
    n = x.shape[-1]
    _check_last_dim(x, n)
    if m != n // 2 + 1:
        raise ValueError(f"spectrum must have shape (blocks, {n // 2 + 1}), got {tuple(spectrum.shape)}")
    if d is not None and d.shape != (blocks, n):
        raise ValueError(f"d must have shape ({blocks}, {n}), got {tuple(d.shape)}")
    dt = compute_dtype(x) if d is None else compute_dtype(x, d)
    xs = x.detach().reshape(-1, 1, n).to(dt).numpy()  # (R, 1, n), no copy when already dt
    z = xs if d is None else xs * d.detach().to(dt).numpy()  # (R, blocks|1, n)
    spec = spectrum.detach().to(torch.complex128 if dt == torch.float64 else torch.complex64)
    y = scipy.fft.irfft(scipy.fft.rfft(z, axis=-1) * spec.numpy(), n=n, axis=-1)  # (R, blocks, n)
    y = y.reshape(y.shape[0], blocks * n)[:, :out_features]
    return torch.from_numpy(y).reshape(*x.shape[:-1], out_features).to(x.dtype)
