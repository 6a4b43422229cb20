r"""Options of the circulant fast path, passed as a value instead of module globals.

:class:`FastPathOptions` holds the knobs of :func:`circlearn.nn.functional.circulant_linear`
and :class:`~circlearn.nn.CirculantLinear`; :func:`fast_path` replaces some of them for a
``with`` block and :func:`fast_path_options` reads the ones in force::

    with fast_path(plain=True):           # readable torch ops only: traceable, exportable
        torch.onnx.export(model, ...)
    with fast_path(chunk_transforms=16):  # smaller chunks (tests, memory)
        ...

The options in force are thread-local (a :class:`threading.local`, which ``torch.compile``
reads and guards on; a ``contextvars.ContextVar`` stops it), so a ``with`` block affects only
its own thread; blocks nest and restore on exit, also after an exception.

``plain=True`` gives :func:`~circlearn.nn.functional.block_circulant_matmul`'s computation
(``torch.fft.rfft``/``irfft`` and elementwise products, autograd's backward): no custom
``torch.autograd.Function``, no numba kernel, no ``scipy.fft``, no cached spectrum —
what ``torch.jit.trace``, ``torch.export`` and ``torch.onnx.export(dynamo=True)`` can record.

>>> fast_path_options().chunk_transforms
128
>>> with fast_path(plain=True):
...     fast_path_options().plain
True
>>> fast_path_options().plain
False
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["FastPathOptions", "fast_path_options", "fast_path"]


@dataclass(frozen=True)
class FastPathOptions:
    """How :func:`~circlearn.nn.functional.circulant_linear` computes (never what).

    Attributes:
        small_cpu_rows: at most this many length-n transforms per call go through
            ``scipy.fft`` on the CPU (inference on a few rows, and every small FFT of the fast
            path: the spectrum of ``c``, the weight gradient, small batches). torch's CPU FFT
            (MKL) pays a per-call set-up proportional to n (≈130 µs at n = 8192, one row),
            scipy's pocketfft caches its plans (≈40 µs); per row MKL is ≈4× faster, so the
            crossover measured on the 2-core CPU is ≈8 rows at n = 8192 and ≈13 at n = 1024
            (``circlearn bench layers``). 0 keeps every transform on ``torch.fft``.
        chunk_transforms: length-n transforms per FFT call on the CPU (rows × blocks of one
            chunk). Each torch CPU FFT call pays a plan set-up that grows with n, so a chunk
            needs enough transforms to amortize it, yet should stay small enough for its
            intermediates to be reused from cache. 128 was best or within ~10% of best on the
            2-core CPU for n = 1024 (8 blocks) to 16384 (1 block), at 1 and 2 threads (16 was
            up to 2x slower). All blocks of a rectangular layer share each FFT call: 7-11%
            faster than one call per block (1024→8192 on 1,200 rows). On CUDA the whole batch
            goes in one call: cuFFT caches its plans and a GPU needs large launches to fill.
        use_kernels: fuse the backward's products and reductions with the numba kernels of
            :mod:`circlearn.nn.kernels` (CPU, float32/64, numba importable); False: their
            torch-expression twins.
        plain: readable, traceable torch ops only (see the module docstring).
    """

    small_cpu_rows: int = 8
    chunk_transforms: int = 128
    use_kernels: bool = True
    plain: bool = False

    def __post_init__(self) -> None:
        for name in ("small_cpu_rows", "chunk_transforms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"FastPathOptions.{name} must be an int, got {value!r}")
        if self.small_cpu_rows < 0:
            raise ValueError(f"FastPathOptions.small_cpu_rows must be >= 0, "
                             f"got {self.small_cpu_rows}")
        if self.chunk_transforms < 1:
            raise ValueError(f"FastPathOptions.chunk_transforms must be >= 1, "
                             f"got {self.chunk_transforms}")
        for name in ("use_kernels", "plain"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"FastPathOptions.{name} must be a bool, "
                                f"got {getattr(self, name)!r}")


_DEFAULTS = FastPathOptions()
_IN_FORCE = threading.local()  # .options: this thread's FastPathOptions, unset = _DEFAULTS


def fast_path_options() -> FastPathOptions:
    """The :class:`FastPathOptions` in force (the defaults outside any :func:`fast_path`)."""
    return getattr(_IN_FORCE, "options", _DEFAULTS)


@contextmanager
def fast_path(**changes) -> Iterator[FastPathOptions]:
    """Replace the named fields of the options in force for a ``with`` block; yields them.

    Unknown field names raise ``TypeError`` naming them and the valid fields; bad values raise
    as :class:`FastPathOptions` does. The previous options come back on exit, also after an
    exception; blocks nest (an inner block starts from the outer block's options).
    """
    valid = [f.name for f in dataclasses.fields(FastPathOptions)]
    unknown = sorted(set(changes) - set(valid))
    if unknown:
        raise TypeError(f"unknown fast-path option(s) {', '.join(unknown)}; "
                        f"valid: {', '.join(valid)}")
    previous = fast_path_options()
    options = dataclasses.replace(previous, **changes)
    _IN_FORCE.options = options
    try:
        yield options
    finally:
        _IN_FORCE.options = previous
