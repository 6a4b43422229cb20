"""The paper's model configurations by name (``README.md`` §4), at paper sizes.

Trainable-parameter counts at paper sizes (3862 classes; derivation in ``paper.md`` §4.2):

================================== ============ =====================================
preset                             parameters   what
================================== ============ =====================================
``dbof``                           65,761,384   DBoF 8192/4096, dense FC 512, MoE(4) + CG
``dbof-fc-circulant``              59,494,504   circulant FC, learned diagonal
``dbof-fc-circulant-sign``         59,482,216   circulant FC, fixed ±1 diagonal
``netvlad``                        86,323,496   NetVLAD 64/32, dense FC, MoE + CG
``netvlad-fc-circulant``           50,811,176   circulant FC
``netfv``                          122,044,712  NetFV 64/32, dense FC, MoE + CG
``netfv-fc-circulant``             51,020,072   circulant FC
``dbof-video``                     45,334,632   video (rgb) only, dense
``dbof-video-embedding-circulant`` 36,962,408   circulant DBoF embedding
``dbof-video-fc-circulant``        41,156,712   circulant FC
``dbof-video-moe-circulant``       12,651,096   plain circulant MoE, no context gating, no L2
``logistic``                       4,452,886    starter code's video-level logistic regression
``moe``                            22,252,844   starter code's video-level MoE (M = 2, no CG)
================================== ============ =====================================

Overrides scale a preset down, e.g. ``from_preset("dbof", cluster_sizes=(64, 32),
hidden_size=32, num_classes=10)``.
"""

from __future__ import annotations

from typing import Any

from circlearn.models.config import ModelConfig
from circlearn.models.video import VideoClassifier

__all__ = ["PRESETS", "preset_config", "from_preset"]

_VIDEO_ONLY = {"use_features": ("rgb",), "cluster_sizes": (8192,)}
_NETVLAD = {"pooling": "netvlad", "cluster_sizes": (64, 32)}
_NETFV = {"pooling": "netfv", "cluster_sizes": (64, 32)}
_VIDEO_LEVEL = {"pooling": None, "cluster_sizes": ()}

#: preset name → ``ModelConfig`` fields that differ from the defaults (the dense DBoF model).
PRESETS: dict[str, dict[str, Any]] = {
    "dbof": {},
    "dbof-fc-circulant": {"fc": "circulant"},
    "dbof-fc-circulant-sign": {"fc": "circulant-sign"},
    "netvlad": dict(_NETVLAD),
    "netvlad-fc-circulant": {**_NETVLAD, "fc": "circulant"},
    "netfv": dict(_NETFV),
    "netfv-fc-circulant": {**_NETFV, "fc": "circulant"},
    "dbof-video": dict(_VIDEO_ONLY),
    "dbof-video-embedding-circulant": {**_VIDEO_ONLY, "embedding": "circulant"},
    "dbof-video-fc-circulant": {**_VIDEO_ONLY, "fc": "circulant"},
    "dbof-video-moe-circulant": {**_VIDEO_ONLY, "classifier_layer": "circulant-plain",
                                 "context_gating": False, "l2": 0.0},
    "logistic": {**_VIDEO_LEVEL, "classifier": "logistic", "context_gating": False},
    "moe": {**_VIDEO_LEVEL, "num_mixtures": 2, "context_gating": False},
}


def preset_config(name: str, **overrides: Any) -> ModelConfig:
    """The ``ModelConfig`` of preset ``name`` with ``overrides`` applied.

    >>> preset_config("dbof-video", hidden_size=64).hidden_size
    64
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return ModelConfig().replace(**PRESETS[name]).replace(**overrides)


def from_preset(name: str, *, device=None, dtype=None, **overrides: Any) -> VideoClassifier:
    """Build preset ``name``; ``overrides`` are ``ModelConfig`` fields (an unknown one raises
    ``ValueError`` naming it). ``device="meta"`` builds without allocating memory.

    >>> from circlearn.models.size import count_parameters
    >>> count_parameters(from_preset("dbof", device="meta"))
    65761384
    """
    return VideoClassifier(preset_config(name, **overrides), device=device, dtype=dtype)
