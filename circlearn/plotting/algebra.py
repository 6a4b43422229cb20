"""Figures for the circulant-algebra notebooks (01-03): matrices, spectra, errors.

Every function takes the numbers to draw (computed by :mod:`circlearn.reference` or the
caller) and returns the ``matplotlib.figure.Figure`` it made with ``pyplot`` (so a notebook
shows it inline; scripts and tests should ``plt.close(fig)``). Figures are small (``DPI``)
because the notebooks store them as PNG in git.

Functions:

- :func:`show_matrices`: heatmaps side by side on a symmetric colour scale (shared or per panel);
- :func:`plot_spectrum`: ``fft(c)`` beside ``numpy.linalg.eigvals(circulant(c))``;
- :func:`plot_fft_error`: ``max |FFT product - dense product|`` against ``n``, per dtype;
- :func:`plot_approximation`: relative Frobenius error against the number of factors ``k``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from circlearn import reference as ref

__all__ = ["DPI", "show_matrices", "plot_spectrum", "plot_fft_error", "plot_approximation"]

DPI = 72


def show_matrices(mats: Mapping[str, np.ndarray], *, cmap: str = "RdBu_r",
                  size: float = 2.6, shared_scale: bool = True):
    """Heatmaps of the 2-D arrays ``mats`` (title → matrix), one panel each.

    The colour scale is symmetric. With ``shared_scale`` it is ``±max |entry|`` over all
    panels (one colour bar), so equal colours mean equal values across panels; without it each
    panel gets its own ``±max |entry|`` and colour bar, so a panel with small entries is not
    washed out by a large one (a circulant's constant diagonals show as stripes either way).
    """
    if not mats:
        raise ValueError("show_matrices needs at least one matrix")
    arrays = {k: np.asarray(v, dtype=float) for k, v in mats.items()}
    for name, a in arrays.items():
        if a.ndim != 2:
            raise ValueError(f"matrix {name!r} must be 2-D, got shape {a.shape}")
    shared = max(float(np.abs(a).max()) for a in arrays.values()) or 1.0
    fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays), size), dpi=DPI,
                             squeeze=False)
    for ax, (name, a) in zip(axes[0], arrays.items()):
        vmax = shared if shared_scale else (float(np.abs(a).max()) or 1.0)
        im = ax.imshow(a, cmap=cmap, vmin=-vmax, vmax=vmax)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if not shared_scale:
            fig.colorbar(im, ax=ax, shrink=0.7)
    if shared_scale:
        fig.colorbar(im, ax=list(axes[0]), shrink=0.8)
    return fig


def plot_spectrum(c):
    """Eigenvalues of ``circulant(c)`` in the complex plane: ``fft(c)`` and a dense solver.

    The DFT values (circles) and ``numpy.linalg.eigvals`` (crosses) coincide as sets; the
    DFT gives them in the order of the Fourier eigenvectors.
    """
    c = np.asarray(c, dtype=float)
    dft = ref.eigenvalues(c)
    eig = np.linalg.eigvals(ref.circulant(c))
    fig, ax = plt.subplots(figsize=(3.6, 3.4), dpi=DPI)
    ax.scatter(dft.real, dft.imag, s=60, facecolors="none", edgecolors="C0", label="fft(c)")
    ax.scatter(eig.real, eig.imag, s=20, marker="x", color="C1", label="eigvals(C)")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set_xlabel("real")
    ax.set_ylabel("imaginary")
    ax.set_title(f"spectrum of a {c.size}x{c.size} circulant", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_fft_error(ns: Sequence[int], errors: Mapping[str, Sequence[float]],
                   eps: Mapping[str, float] | None = None):
    """Log-log error of the FFT product against the dense product, one line per dtype.

    ``errors[label][i]`` is the error at size ``ns[i]``; ``eps`` (label → machine epsilon)
    draws each dtype's epsilon as a dashed reference line.
    """
    ns = list(ns)
    fig, ax = plt.subplots(figsize=(4.6, 3.2), dpi=DPI)
    for i, (label, errs) in enumerate(errors.items()):
        if len(errs) != len(ns):
            raise ValueError(f"errors[{label!r}] has {len(errs)} values for {len(ns)} sizes")
        ax.loglog(ns, errs, "o-", color=f"C{i}", label=label)
        if eps and label in eps:
            ax.axhline(eps[label], color=f"C{i}", ls="--", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n")
    ax.set_ylabel("relative max error")
    ax.set_title("FFT product vs dense product (dashed: eps)", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_approximation(ks: Sequence[int], errors: Mapping[str, Sequence[float]],
                       reference_lines: Mapping[str, float] | None = None):
    """Relative Frobenius error ``‖W − Ŵ_k‖ / ‖W‖`` against the number of factors ``k``.

    ``errors[target][i]`` is the error of the best ``ks[i]``-factor fit found for ``target``;
    ``reference_lines`` (label → value) adds horizontal lines, e.g. the projection onto
    plain circulants.
    """
    ks = list(ks)
    fig, ax = plt.subplots(figsize=(4.6, 3.2), dpi=DPI)
    for i, (label, errs) in enumerate(errors.items()):
        if len(errs) != len(ks):
            raise ValueError(f"errors[{label!r}] has {len(errs)} values for {len(ks)} k's")
        ax.plot(ks, errs, "o-", color=f"C{i}", label=label)
    for j, (label, value) in enumerate((reference_lines or {}).items()):
        ax.axhline(value, color=f"C{len(errors) + j}", ls="--", lw=1, label=label)
    ax.set_xticks(ks)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("k (diagonal-circulant factors)")
    ax.set_ylabel("relative Frobenius error")
    ax.legend(fontsize=8)
    return fig
