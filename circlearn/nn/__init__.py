"""torch layers: circulant maps (``functional``, ``CirculantLinear``), other structured maps
(``ToeplitzLinear``, ``LowRankLinear``) and the video modules."""

from circlearn.nn import functional
from circlearn.nn.circulant import CirculantLinear
from circlearn.nn.gating import ContextGating, LogisticClassifier, MixtureOfExperts
from circlearn.nn.pooling import DBoF, NetFV, NetVLAD
from circlearn.nn.structured import LowRankLinear, ToeplitzLinear

__all__ = [
    "CirculantLinear",
    "LowRankLinear",
    "ToeplitzLinear",
    "functional",
    "DBoF",
    "NetVLAD",
    "NetFV",
    "ContextGating",
    "MixtureOfExperts",
    "LogisticClassifier",
]
