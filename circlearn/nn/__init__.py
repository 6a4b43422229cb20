"""torch layers: circulant maps (``functional``, ``CirculantLinear``) and the video modules."""

from circlearn.nn import functional
from circlearn.nn.circulant import CirculantLinear

__all__ = ["CirculantLinear", "functional"]
