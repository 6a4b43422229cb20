"""``ModelConfig``: everything that defines a video model, as one validated dataclass.

Layer kinds (``embedding``, ``fc``, ``classifier_layer``) — the three places the paper
compresses can each be dense or circulant independently:

=========================== ===========================================================
``"dense"``                 ``nn.Linear``
``"circulant"``             ``CirculantLinear(diagonal="learned")``, the paper's "DC"/general
                            layer
``"circulant-sign"``        ``CirculantLinear(diagonal="sign")``, fixed ±1 diagonal ("CD",
                            Cheng et al.)
``"circulant-plain"``       ``CirculantLinear(diagonal=None)``, the paper's compact MoE layers
``"circulant-sign-output"`` ``CirculantLinear(diagonal="sign-output")``, the authors'
                            placement of the fixed signs (after the circulant; a plain
                            circulant once BN follows)
``"toeplitz"``              ``ToeplitzLinear`` (``in + out - 1`` weights)
``"low-rank"``              ``LowRankLinear`` of rank ``rank`` (``rank · (in + out)`` weights)
=========================== ===========================================================

The structured kinds are initialised like the kind they replace: their represented weight's
entries get the standard deviation of the dense rule for that place (:mod:`circlearn.models.layers`).

Streams: the input frame vector is the concatenation of ``feature_names`` with
``feature_sizes`` (in order); the whole vector is L2-normalized per frame, then split.
``use_features`` picks the streams that get a pooling branch (``("rgb",)`` is the paper's
``--no_audio``: the audio still takes part in the joint normalization, as in its code).
``cluster_sizes`` has one entry per used stream (the paper halves the cluster count for audio:
DBoF 8192/4096, NetVLAD and NetFV 64/32).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from circlearn.config import dataclass_from_dict

__all__ = ["ModelConfig", "LAYER_KINDS", "POOLINGS", "CLASSIFIERS", "EVAL_SAMPLINGS"]

LAYER_KINDS = ("dense", "circulant", "circulant-sign", "circulant-plain",
               "circulant-sign-output", "toeplitz", "low-rank")
#: ``None`` is a video-level model (no frames, no pooling, no FC).
POOLINGS = ("dbof", "netvlad", "netfv", None)
DBOF_POOLINGS = ("max", "average")
CLASSIFIERS = ("moe", "logistic")
EVAL_SAMPLINGS = ("random", "all")
_TUPLE_FIELDS = ("feature_names", "feature_sizes", "use_features", "cluster_sizes")


@dataclass(frozen=True)
class ModelConfig:
    """A video classifier's configuration (defaults: the paper's dense DBoF model).

    Attributes:
        feature_names, feature_sizes: input streams, concatenated in this order per frame.
        use_features: streams that get a pooling branch; ``None`` means all.
        num_classes: ``V`` (YouTube-8M 2018: 3862).
        pooling: ``"dbof"``, ``"netvlad"``, ``"netfv"`` or ``None`` (video-level features).
        cluster_sizes: per used stream: DBoF width ``K_c`` or NetVLAD/NetFV cluster count.
        dbof_pooling: ``"max"`` (the paper's) or ``"average"`` over frames.
        embedding: layer kind of the DBoF projection / NetVLAD-NetFV assignment.
        hidden_size: width of the FC after each stream's pooling (paper: 512).
        fc: layer kind of that FC.
        classifier: ``"moe"`` or ``"logistic"``.
        classifier_layer: layer kind of the MoE gates and experts (or the logistic weight).
        num_mixtures: ``M`` experts per class.
        context_gating: Context Gating on the classifier's probabilities.
        context_gating_batch_norm: batch norm inside it (the paper's ``moe_add_batch_norm``).
        l2: weight of ``½‖W‖²`` on the dense classifier weights (``moe_l2`` = 1e-8).
        n_factors: diagonal-circulant factors per block in circulant layers (``k_factor``).
        rank: rank of every ``"low-rank"`` layer (capped at the layer's ``min(in, out)``).
        sign_seed: seed of the first sign diagonal; the others use ``sign_seed + i``.
        iterations: frames sampled per bag (with replacement).
        n_bagging: bags per video; pooled embeddings are averaged before the FC.
        eval_sampling: evaluation mode's frames: ``"random"`` (the training sampler, drawn
            from ``torch.Generator().manual_seed(eval_seed)`` at every call unless a generator
            is passed: circlearn's deterministic choice; the paper's ``eval.py`` sampled
            unseeded, ``paper.md`` §3.7) or ``"all"`` (every real frame, one bag).
        eval_seed: seed of the evaluation sampler.
    """

    feature_names: tuple[str, ...] = ("rgb", "audio")
    feature_sizes: tuple[int, ...] = (1024, 128)
    use_features: tuple[str, ...] | None = None
    num_classes: int = 3862
    pooling: str | None = "dbof"
    cluster_sizes: tuple[int, ...] = (8192, 4096)
    dbof_pooling: str = "max"
    embedding: str = "dense"
    hidden_size: int = 512
    fc: str = "dense"
    classifier: str = "moe"
    classifier_layer: str = "dense"
    num_mixtures: int = 4
    context_gating: bool = True
    context_gating_batch_norm: bool = True
    l2: float = 1e-8
    n_factors: int = 1
    rank: int = 1
    sign_seed: int = 0
    iterations: int = 15
    n_bagging: int = 10
    eval_sampling: str = "random"
    eval_seed: int = 0

    def __post_init__(self) -> None:
        for name in _TUPLE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
            elif value is not None:
                raise ValueError(f"{name} must be a tuple, got {value!r}")
        self._validate()

    def _validate(self) -> None:
        def choice(name: str, options: tuple) -> None:
            if getattr(self, name) not in options:
                raise ValueError(f"{name}: unknown value {getattr(self, name)!r}; valid: "
                                 f"{', '.join(map(repr, options))}")

        def positive(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

        choice("pooling", POOLINGS)
        choice("dbof_pooling", DBOF_POOLINGS)
        choice("embedding", LAYER_KINDS)
        choice("fc", LAYER_KINDS)
        choice("classifier", CLASSIFIERS)
        choice("classifier_layer", LAYER_KINDS)
        choice("eval_sampling", EVAL_SAMPLINGS)
        for name in ("num_classes", "hidden_size", "num_mixtures", "n_factors", "rank",
                     "iterations", "n_bagging"):
            positive(name)
        if not self.feature_names:
            raise ValueError("feature_names must name at least one stream")
        if len(self.feature_sizes) != len(self.feature_names):
            raise ValueError(f"feature_sizes has {len(self.feature_sizes)} entries but "
                             f"feature_names has {len(self.feature_names)}")
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError(f"feature_names must be distinct, got {self.feature_names}")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 1
               for s in self.feature_sizes):
            raise ValueError(f"feature_sizes must be integers >= 1, got {self.feature_sizes}")
        used = self.streams
        unknown = [n for n in used if n not in self.feature_names]
        if unknown or not used or len(set(used)) != len(used):
            raise ValueError(f"use_features must be distinct names among feature_names "
                             f"{self.feature_names}, got {self.use_features}")
        if self.pooling is not None:
            if len(self.cluster_sizes) != len(used):
                raise ValueError(f"cluster_sizes needs one entry per used stream {used}, got "
                                 f"{self.cluster_sizes}")
            if any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                   for s in self.cluster_sizes):
                raise ValueError(f"cluster_sizes must be integers >= 1, got "
                                 f"{self.cluster_sizes}")
        if not self.l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")

    @property
    def streams(self) -> tuple[str, ...]:
        """Names of the streams that get a branch (``use_features`` or all)."""
        return self.use_features if self.use_features is not None else self.feature_names

    @property
    def input_size(self) -> int:
        """``D_total = sum(feature_sizes)``, the width of the input frame vectors."""
        return sum(self.feature_sizes)

    @property
    def frame_level(self) -> bool:
        return self.pooling is not None

    def stream_slices(self) -> dict[str, slice]:
        """Where each stream lies in the concatenated vector, in ``feature_names`` order."""
        out, start = {}, 0
        for name, size in zip(self.feature_names, self.feature_sizes):
            out[name] = slice(start, start + size)
            start += size
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (tuples become lists); ``from_dict`` inverts it."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a dict; an unknown key raises ``ValueError`` naming it."""
        return dataclass_from_dict(cls, data)

    def replace(self, **overrides: Any) -> ModelConfig:
        """A copy with ``overrides``; an unknown field raises ``ValueError`` naming it."""
        return ModelConfig.from_dict({**self.to_dict(), **overrides})
