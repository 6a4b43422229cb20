"""torch layers: circulant maps (``functional``, ``CirculantLinear``) and the video modules.

Modules: ``functional`` (readable stateless ops, the public namespace of the ops),
``fastpath`` (the chunked fast path behind ``functional.circulant_linear``), ``kernels``
(its numba backward kernels and their torch twins), ``options`` (``FastPathOptions``,
``fast_path``), ``conventions`` (precision and block-shape rules), ``circulant``
(``CirculantLinear``), ``paper`` (the paper's complex-FFT formulation, ``PaperCirculant``: a
twin), ``toeplitz`` (``ToeplitzLinear``) and ``low_rank`` (``LowRankLinear``): other structured
maps, ``inputs`` (frame preparation: dequantization, L2 normalization, frame sampling),
``pooling`` and ``gating`` (video modules).
"""

from circlearn.nn import functional
from circlearn.nn.circulant import CirculantLinear
from circlearn.nn.gating import ContextGating, LogisticClassifier, MixtureOfExperts
from circlearn.nn.low_rank import LowRankLinear
from circlearn.nn.options import FastPathOptions, fast_path, fast_path_options
from circlearn.nn.paper import PaperCirculant
from circlearn.nn.pooling import DBoF, NetFV, NetVLAD
from circlearn.nn.toeplitz import ToeplitzLinear

__all__ = [
    "CirculantLinear",
    "PaperCirculant",
    "LowRankLinear",
    "ToeplitzLinear",
    "functional",
    "FastPathOptions",
    "fast_path",
    "fast_path_options",
    "DBoF",
    "NetVLAD",
    "NetFV",
    "ContextGating",
    "MixtureOfExperts",
    "LogisticClassifier",
]
