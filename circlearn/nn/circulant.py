r"""``CirculantLinear``: a drop-in, compact replacement for ``nn.Linear``.

The layer represents the ``(out_features, in_features)`` weight of the paper's rectangular
rule (:mod:`circlearn.reference.rectangular`): ``blocks = ceil(out / in)`` square blocks, each
a chain of ``n_factors`` diagonal-circulant factors ``(C_k D_k) ⋯ (C_1 D_1)``, stacked and
truncated::

    y = x @ W.T + b,   W = dense(),   computed as rfft / irfft in O(n log n) per block

Diagonal modes (``diagonal=``):

- ``"learned"`` (the paper's default "DC"): ``D_i = diag(d_i)`` trained.
- ``"sign"`` (Cheng et al.'s "CD", D ∈ {−1, +1}): ``D_i = diag(s_i)`` with fixed random
  signs on the **input**, ``W = C · diag(s)``: a buffer drawn on the CPU from
  ``torch.Generator().manual_seed(sign_seed)`` — so the same seed gives the same signs on
  every device — and saved in ``state_dict``. Signs on the input mix the features before the
  circulant: the function class differs from a plain circulant's.
- ``"sign-output"`` (the authors' placement, ``CirculantLayerWithDiag``, ``paper.md`` §2.2):
  the same fixed signs applied **after** each circulant, ``W = diag(s) · C`` per factor
  (their code's ``roll(d ⊙ C x, 1)`` is ``roll(d, 1) ⊙ C' x``, again random signs after a
  circulant). With one factor, each output is one circulant row times ±1, so a batch norm
  that follows absorbs the signs into its scales: ``BN(D′Cx) = BN(Cx)`` with the scales
  started at ±1 (tests/test_nn_sign_output.py). In the paper's model the "CD" FC, followed by
  batch norm, is therefore a plain circulant; only ``"sign"`` is Cheng et al.'s construction.
- ``None``: plain circulant blocks.

Parameters: ``c`` (first columns, shape ``(blocks, n_factors, in)``), ``d`` (learned diagonal,
same shape, or the sign buffer of either sign mode), ``bias`` ``(out,)``.

Computation: see :meth:`CirculantLinear.forward` (fast path, or the readable twin).

Initialization (``init=``):

- ``"paper"`` (default, ``paper.md`` §2.4): ``c`` and a learned ``d`` ~ N(0, std²) with
  ``std = init_std`` or ``1/sqrt(out_features)`` (the code's ``1/√fc_hidden_size``,
  ``1/√cluster_size``, ``1/√(V(M+1))``, ``1/√(VM)``); the bias is the constant ``std``
  (the circulant MoE experts' rule).
- ``"linear"``: ``nn.Linear``'s rule: ``c`` and bias ~ U(−1/√in, 1/√in), ``d = 1``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from circlearn import reference
from circlearn.nn import functional as F
from circlearn.nn.blocks import check_sizes, parameter_text
from circlearn.nn.options import fast_path_options

__all__ = ["CirculantLinear", "DIAGONAL_MODES", "INIT_MODES"]

DIAGONAL_MODES = ("learned", "sign", "sign-output", None)
_SIGNS = ("sign", "sign-output")
INIT_MODES = ("paper", "linear")


class CirculantLinear(nn.Module):
    """Linear map ``in_features → out_features`` with a block-circulant (diagonal) weight.

    Args:
        in_features: size of each input sample (the circulant size ``n``).
        out_features: size of each output sample.
        bias: learn an additive bias.
        diagonal: ``"learned"``, ``"sign"``, ``"sign-output"`` or ``None`` (module docstring).
        n_factors: diagonal-circulant factors per block.
        init: ``"paper"`` or ``"linear"``.
        init_std: standard deviation of the ``"paper"`` init (default ``1/sqrt(out_features)``).
        sign_seed: seed of the sign diagonal (default: drawn from torch's global RNG, so
            ``torch.manual_seed`` makes it reproducible).

    Shape:
        input ``(*, in_features)`` → output ``(*, out_features)``.

    >>> layer = CirculantLinear(4, 6, bias=False, diagonal=None)
    >>> layer(torch.ones(2, 4)).shape, layer.dense().shape
    (torch.Size([2, 6]), torch.Size([6, 4]))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 diagonal: str | None = "learned", n_factors: int = 1, device=None, dtype=None,
                 *, init: str = "paper", init_std: float | None = None,
                 sign_seed: int | None = None) -> None:
        super().__init__()
        if diagonal not in DIAGONAL_MODES:
            raise ValueError(f"diagonal must be one of {DIAGONAL_MODES}, got {diagonal!r}")
        if init not in INIT_MODES:
            raise ValueError(f"init must be one of {INIT_MODES}, got {init!r}")
        if int(n_factors) != n_factors or n_factors < 1:
            raise ValueError(f"n_factors must be an integer >= 1, got {n_factors!r}")
        check_sizes(in_features, out_features)
        if init_std is not None and not init_std > 0:
            raise ValueError(f"init_std must be > 0, got {init_std}")
        factory = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.out_features = out_features
        self.diagonal = diagonal
        self.n_factors = int(n_factors)
        self.init = init
        self.init_std = init_std
        self.blocks = reference.num_blocks(in_features, out_features)
        shape = (self.blocks, self.n_factors, in_features)
        self.c = nn.Parameter(torch.empty(shape, **factory))
        if diagonal == "learned":
            self.d = nn.Parameter(torch.empty(shape, **factory))
        elif diagonal in _SIGNS:
            if sign_seed is None:
                sign_seed = int(torch.randint(0, 2**31 - 1, ()).item())
            self.sign_seed = int(sign_seed)
            gen = torch.Generator().manual_seed(self.sign_seed)
            signs = torch.randint(0, 2, shape, generator=gen).mul_(2).sub_(1)  # ±1, on CPU
            self.register_buffer("d", signs.to(device=device, dtype=dtype or
                                                torch.get_default_dtype()))
        else:
            self.register_parameter("d", None)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        # Inference cache of rfft(c) for the fast path: (key, spectrum) or None; filled by
        # _cached_spectrum in eval mode without grad, never saved (not a buffer).
        self._spectrum_cache: tuple | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw ``c``, a learned ``d`` and the bias (a sign diagonal stays fixed)."""
        if self.init == "paper":
            std = self.init_std if self.init_std is not None else 1 / math.sqrt(self.out_features)
            nn.init.normal_(self.c, 0.0, std)
            if self.diagonal == "learned":
                nn.init.normal_(self.d, 0.0, std)
            if self.bias is not None:
                nn.init.constant_(self.bias, std)
        else:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.c, -bound, bound)
            if self.diagonal == "learned":
                nn.init.ones_(self.d)
            if self.bias is not None:
                nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ dense().T + bias``, computed per block by FFT.

        One factor per block goes through the fast path
        (:func:`circlearn.nn.functional.circulant_linear`; in eval mode without grad, ``rfft(c)``
        is cached in ``_spectrum_cache`` and a few CPU rows go through ``scipy.fft``); factor
        chains, ``torch.jit.trace`` and :func:`circlearn.nn.fast_path` ``(plain=True)`` use the
        readable twin :func:`~circlearn.nn.functional.block_circulant_matmul` (torch ops only).
        """
        if self.diagonal == "sign-output":
            return self._forward_sign_output(x)
        options = fast_path_options()
        # Tracing (TorchScript export) cannot record the fast path's custom autograd Function,
        # nor does fast_path(plain=True) want it: the readable twin computes the same values
        # (tests/test_nn_functional.py).
        if self.n_factors == 1 and not options.plain and not torch.jit.is_tracing():
            spectrum = self._cached_spectrum()  # None while training or under autograd
            rows = x.numel() // max(self.in_features, 1) * self.blocks
            if spectrum is None or x.device.type != "cpu" or rows > options.small_cpu_rows:
                # the bias is added inside, in the frequency domain (no extra pass over the output)
                return F.circulant_linear(x, self.c, self.d, self.out_features, spectrum=spectrum,
                                          bias=self.bias)
            d = None if self.d is None else self.d[:, 0]  # (blocks, n)
            y = F.circulant_linear_small_cpu(x, d, self.out_features, spectrum,
                                             in_features=self.in_features)
        else:  # factor chains and the plain path use the autograd twin
            y = F.block_circulant_matmul(x, self.c, self.d, self.out_features)  # (*, out)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y

    def _sign_output_parts(self) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``S_k C_k ⋯ S_1 C_1`` as input diagonals ``(1, s_1, …, s_{k-1})`` per factor plus
        the output signs ``s_k`` flattened over the blocks, ``(out,)``."""
        inner = None
        if self.n_factors > 1:
            inner = torch.cat([torch.ones_like(self.d[:, :1]), self.d[:, :-1]], dim=1)
        last = self.d[:, -1].reshape(-1)[:self.out_features]  # (out,)
        return inner, last

    def _forward_sign_output(self, x: torch.Tensor) -> torch.Tensor:
        inner, last = self._sign_output_parts()
        if inner is None and not torch.jit.is_tracing():  # tracing: the autograd twin below
            y = F.circulant_linear(x, self.c, None, self.out_features)  # (*, out)
        else:
            y = F.block_circulant_matmul(x, self.c, inner, self.out_features)  # (*, out)
        y = y * last.to(y.dtype)
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def _cached_spectrum(self) -> torch.Tensor | None:
        """``rfft(c)`` cached for inference (eval mode, no grad); None while training.

        The cache (``self._spectrum_cache``, created empty in ``__init__``) holds
        ``(key, spectrum)``; the key is ``c``'s version counter, storage, dtype and device, so
        an optimizer step, ``load_state_dict`` or ``.to()`` invalidates it.
        """
        if self.training or torch.is_grad_enabled():
            return None
        key = (self.c._version, self.c.data_ptr(), self.c.dtype, self.c.device)
        if self._spectrum_cache is None or self._spectrum_cache[0] != key:
            self._spectrum_cache = (key, F.circulant_spectrum(self.c.detach()[:, 0]))
        return self._spectrum_cache[1]

    def dense(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` weight this layer represents (differentiable)."""
        if self.diagonal == "sign-output":
            inner, last = self._sign_output_parts()
            return F.circulant_dense(self.c, inner, self.out_features) * last.unsqueeze(1)
        return F.circulant_dense(self.c, self.d, self.out_features)

    @classmethod
    def from_dense(cls, weight: torch.Tensor, bias: torch.Tensor | None = None,
                   diagonal: str | None = None, **kwargs) -> CirculantLinear:
        """The circulant layer nearest (Frobenius) to a dense ``weight`` of shape ``(out, in)``.

        Each row block of ``weight`` is projected onto circulants
        (:func:`circlearn.reference.nearest_block_circulant`). With ``diagonal="sign"`` the
        projection is of ``weight · diag(s)`` for the layer's signs ``s`` (exact when ``weight``
        has that form), with ``"sign-output"`` of ``diag(s) · weight``; with ``"learned"`` the
        diagonal starts at ones. Exact whenever ``weight`` is a map of the same form. Extra
        factors (``n_factors > 1``) start as the identity. ``kwargs`` go to the constructor
        (``n_factors``, ``sign_seed``, ``device``…).
        """
        if weight.dim() != 2:
            raise ValueError(f"weight must have shape (out_features, in_features), "
                             f"got {tuple(weight.shape)}")
        out_features, in_features = weight.shape
        if diagonal in _SIGNS and kwargs.get("n_factors", 1) != 1:
            raise ValueError(f"from_dense with diagonal={diagonal!r} needs n_factors=1 "
                             f"(got n_factors={kwargs['n_factors']})")
        if bias is not None and bias.shape != (out_features,):
            raise ValueError(f"bias must have shape ({out_features},), got {tuple(bias.shape)}")
        kwargs.setdefault("device", weight.device)
        kwargs.setdefault("dtype", weight.dtype)
        layer = cls(in_features, out_features, bias=bias is not None, diagonal=diagonal,
                    **kwargs)
        w = weight.detach().to("cpu", torch.float64)
        with torch.no_grad():
            if diagonal == "sign":
                # W = C diag(s) ⇔ C = W diag(s) per block (s² = 1).
                s = layer.d[:, 0].detach().to("cpu", torch.float64)  # (blocks, in)
                rows = torch.arange(out_features) // in_features
                w = w * s[rows]
            elif diagonal == "sign-output":
                # W = diag(s) C ⇔ C = diag(s) W (rows scaled by their own sign).
                s = layer.d[:, 0].detach().to("cpu", torch.float64).reshape(-1)[:out_features]
                w = w * s.unsqueeze(1)
            cs = reference.nearest_block_circulant(w.numpy(), in_features)  # (blocks, in)
            layer.c.zero_()
            layer.c[:, 0] = torch.from_numpy(cs).to(layer.c)
            layer.c[:, 1:, 0] = 1.0  # identity factors
            if diagonal == "learned":
                layer.d.fill_(1.0)
            if bias is not None:
                layer.bias.copy_(bias.detach())
        return layer

    def extra_repr(self) -> str:
        s = (f"in_features={self.in_features}, out_features={self.out_features}, "
             f"bias={self.bias is not None}, diagonal={self.diagonal!r}, "
             f"n_factors={self.n_factors}, blocks={self.blocks}, {parameter_text(self)}")
        if self.diagonal in _SIGNS:
            s += f", sign_seed={self.sign_seed}"
        return s
