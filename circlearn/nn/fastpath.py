r"""The fast path of :func:`~circlearn.nn.functional.circulant_linear`: chunked, hand-written
backward, ``scipy.fft`` for a few CPU rows, fused numba kernels.

It computes what its readable twin :func:`~circlearn.nn.functional.block_circulant_matmul`
computes for one factor per block (tests tie the two, forward and gradients), steered by
:class:`~circlearn.nn.options.FastPathOptions`. For ``y_b = C(c_b) z_b`` with ``z_b = d_b ⊙ x``:

    dL/dz_b = irfft(rfft(g_b) · conj(rfft(c_b)), n)            (correlation with c_b)
    dL/dc_b = irfft(Σ_rows rfft(g_b) · conj(rfft(z_b)), n)      (batch reduced in frequency)
    dL/dd_b = Σ_rows x ⊙ dL/dz_b,     dL/dx = Σ_b d_b ⊙ dL/dz_b,     dL/dbias = Σ_rows g

The backward runs two steps per chunk, a frequency-domain one (``dL/dc``, ``dL/dbias``) and a
spatial one (``dL/dd``, ``dL/dx``); :func:`circlearn.nn.kernels.backward_steps` picks the
fused numba kernels or their readable torch twins, once per backward.

Rows are processed in chunks of ``chunk_transforms / blocks`` rows so the intermediates stay
in cache and are reused by the allocator (on the 2-core CPU this is 2-4x faster than the
autograd chain for 1024→8192 on 1200 rows; ``circlearn bench layers``). With several blocks
the input spectrum is recomputed in backward rather than stored (one more FFT, no
``rows · blocks · n`` buffer); with one block it is kept (it is no larger than the input).
Without a diagonal one ``rfft(x)`` serves every block and ``dL/dx`` needs one inverse FFT.
The bias lives in the frequency domain: ``irfft(Z·S + rfft(bias)) = irfft(Z·S) + bias``, so the
product pass adds it, and its gradient ``Σ_rows g`` is summed from the spectra ``rfft(g)`` the
weight gradient reads anyway (one small inverse FFT at the end). Adding it to the output
afterwards cost one more pass over the output and, for outputs above glibc's 32 MB mmap
ceiling, a fresh page-faulted allocation (1024→8192 on 1,200 rows: 15% of the whole fwd+bwd
on the 2-core CPU).

Measured and not taken (2-core CPU, 256 × 8192, one thread): real FFTs through half-length
complex ones (torch.fft.fft of x viewed as n/2 complex numbers: 1.64 ms against rfft's
2.26 ms; ifft 1.73 ms against irfft's 3.13 ms, which clones its input). They need a
split/merge pass per transform; fused with the spectrum product in numba it ran at 2.1 ms
against 0.84 ms for the product alone, leaving about 0.6 ms per forward for much harder code.
"""

from __future__ import annotations

import scipy.fft
import torch
from torch.autograd.function import once_differentiable

from circlearn.nn import kernels
from circlearn.nn.conventions import check_last_dim, compute_dtype, one_factor_args
from circlearn.nn.options import fast_path_options

__all__ = ["circulant_linear_fast", "circulant_linear_small_cpu", "circulant_spectrum"]


def _few_cpu_transforms(t: torch.Tensor) -> bool:
    # scipy is outside autograd (a tensor that needs a gradient stays on torch.fft), and
    # torch.compile traces torch.fft, not scipy: compiled code keeps the torch calls.
    options = fast_path_options()
    return (not options.plain and t.device.type == "cpu"
            and t.numel() <= options.small_cpu_rows * t.shape[-1]
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


def _chunk_rows(x: torch.Tensor, rows: int, blocks: int, chunk_transforms: int) -> int:
    if x.device.type == "cuda":  # one call: cuFFT caches its plans, a GPU needs large launches
        return max(1, rows)
    return max(1, chunk_transforms // blocks)


def circulant_spectrum(c: torch.Tensor) -> torch.Tensor:
    """``rfft`` of the first columns ``c (blocks, n)`` → ``(blocks, n//2+1)`` (cacheable)."""
    return _rfft(c.to(compute_dtype(c)))


class _CirculantLinearFn(torch.autograd.Function):
    """One diagonal-circulant factor per block, chunked over rows, hand-written backward."""

    @staticmethod
    def forward(ctx, x, c, d, bias, out_features, spectrum, chunk_transforms, use_kernels):
        blocks, n = c.shape
        x2 = x.reshape(-1, n)  # (R, n)
        rows = x2.shape[0]
        s = circulant_spectrum(c) if spectrum is None else spectrum  # (blocks, m)
        step = _chunk_rows(x2, rows, blocks, chunk_transforms)
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
        ctx.meta = (x.shape, n, blocks, out_features, step, bias is not None, use_kernels)
        return y.reshape(*x.shape[:-1], out_features)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        x2, d, s, *kept = ctx.saved_tensors
        x_shape, n, blocks, out_features, step, has_bias, use_kernels = ctx.meta
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
        # The one dispatch: fused numba kernels or their torch twins, for the whole backward
        # (each chunk's g and xs are contiguous, of s's and x2's dtypes).
        frequency_step, spatial_step = kernels.backward_steps(
            use_kernels, x2, s_conj, *(() if d is None else (d,)))
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
                # grad_cs += Σ_r g·conj(z), grad_bs += Σ_r g, g *= conj(s) (when d is used)
                scaled = d is not None
                frequency_step(g, z, s_conj, grad_cs, scale=scaled, acc_sum=grad_bs)
            if d is None:
                if need_x:
                    _irfft((g * s_conj).sum(1), n=n, out=grad_x[r0:r0 + step])
            else:
                gz = _irfft(g if scaled else g.mul_(s_conj), n=n)  # (r, blocks, n)
                # grad_x = Σ_b gz·d, grad_d += Σ_r gz·x
                spatial_step(gz, xs, d, grad_x[r0:r0 + step] if need_x else None, grad_d)
        grad_c = _irfft(grad_cs, n=n) if need_c else None
        if grad_bs is not None:
            grad_b = _irfft(grad_bs, n=n).reshape(blocks * n)[:out_features]
        grad_x = None if grad_x is None else grad_x.reshape(x_shape)
        return grad_x, grad_c, grad_d, grad_b, None, None, None, None


def circulant_linear_fast(x: torch.Tensor, c: torch.Tensor, d: torch.Tensor | None,
                          out_features: int, spectrum: torch.Tensor | None = None,
                          bias: torch.Tensor | None = None) -> torch.Tensor:
    """The fast path of :func:`~circlearn.nn.functional.circulant_linear` (same arguments),
    under the :func:`~circlearn.nn.options.fast_path_options` in force, ignoring ``plain``.

    Shape:
        x ``(..., n)``, c and d ``(blocks, n)`` or ``(blocks, 1, n)`` → ``(..., out_features)``.
    """
    c, d = one_factor_args(x, c, d, out_features, bias)
    options = fast_path_options()
    dt = compute_dtype(x, c) if d is None else compute_dtype(x, c, d)
    if spectrum is not None:
        spectrum = spectrum.to(torch.promote_types(spectrum.dtype, torch.complex64))
    y = _CirculantLinearFn.apply(x.to(dt).contiguous(), c.to(dt), None if d is None else d.to(dt),
                                 None if bias is None else bias.to(dt), out_features, spectrum,
                                 options.chunk_transforms, options.use_kernels)
    return y.to(x.dtype)


def circulant_linear_small_cpu(x: torch.Tensor, d: torch.Tensor | None, out_features: int,
                               spectrum: torch.Tensor, *, in_features: int) -> torch.Tensor:
    """Inference-only :func:`~circlearn.nn.functional.circulant_linear` for a few rows on the
    CPU, via ``scipy.fft`` (whose plans are cached; torch's CPU FFT sets one up per call).

    No autograd (the caller checks ``torch.is_grad_enabled()``); ``spectrum`` is
    :func:`circulant_spectrum` of the first columns, shape ``(blocks, n//2+1)`` with
    ``n = in_features`` and ``blocks = ceil(out_features / n)`` (``n`` is passed because the
    spectrum's width leaves its parity open). float32 and float64 inputs keep their dtype;
    other dtypes are computed in float32 and cast back.

    Shape:
        x ``(..., n)`` → ``(..., out_features)``.
    """
    blocks, m = spectrum.shape
    n = in_features
    check_last_dim(x, n)
    if m != n // 2 + 1:
        raise ValueError(f"spectrum must have shape (blocks, {n // 2 + 1}), got {tuple(spectrum.shape)}")
    if out_features < 1 or blocks != -(-out_features // n):
        raise ValueError(
            f"{n} -> {out_features} needs ceil({out_features}/{n}) blocks, spectrum has {blocks}")
    if d is not None and d.shape != (blocks, n):
        raise ValueError(f"d must have shape ({blocks}, {n}), got {tuple(d.shape)}")
    dt = compute_dtype(x) if d is None else compute_dtype(x, d)
    xs = x.detach().reshape(-1, 1, n).to(dt).numpy()  # (R, 1, n), no copy when already dt
    z = xs if d is None else xs * d.detach().to(dt).numpy()  # (R, blocks|1, n)
    spec = spectrum.detach().to(torch.complex128 if dt == torch.float64 else torch.complex64)
    y = scipy.fft.irfft(scipy.fft.rfft(z, axis=-1) * spec.numpy(), n=n, axis=-1)  # (R, blocks, n)
    y = y.reshape(y.shape[0], blocks * n)[:, :out_features]
    return torch.from_numpy(y).reshape(*x.shape[:-1], out_features).to(x.dtype)
