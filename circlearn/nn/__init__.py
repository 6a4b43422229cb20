"""torch layers: circulant maps (``functional``, ``CirculantLinear``) and the video modules."""

from circlearn.nn import functional
from circlearn.nn.circulant import CirculantLinear
from circlearn.nn.gating import ContextGating, LogisticClassifier, MixtureOfExperts
from circlearn.nn.pooling import DBoF, NetFV, NetVLAD

__all__ = [
    "CirculantLinear",
    "functional",
    "DBoF",
    "NetVLAD",
    "NetFV",
    "ContextGating",
    "MixtureOfExperts",
    "LogisticClassifier",
]
