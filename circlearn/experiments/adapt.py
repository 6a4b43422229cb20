r"""Experiments on any data: widths from the data, and fields set for every variant.

**Streams.** Every variant gets one pooling branch per stream found in the data (its
``feature_names`` and ``feature_sizes``, :func:`circlearn.data.layout.resolve_data`). A
preset that keeps only some streams (fig-layers' "video only": ``use_features=("rgb",)``)
keeps as many, taken from the front: the data's first stream.

**Width rule** (:func:`data_sizes`; ``V`` classes, ``D_s`` the size of stream ``s``,
``pow2(x)`` the smallest power of two ``>= x``; ``H*``, ``K*``, ``C*`` are the scale's
hidden size, DBoF width and cluster count in :data:`~circlearn.experiments.SCALES`)::

    hidden size     H   = min(H*, max(16, pow2(4 V)))
    DBoF width      K_s = min(K*, max(2 H, pow2(4 D_s)))
    NetVLAD/NetFV   C_s = C* for the first stream, max(1, C* // 2) for the others
    frames kept     max_frames = the longest sequence dataset.json records (at most 300),
                    else the scale's

On each scale's own data the rule gives the scale's table: quick (rgb 128 + audio 16, 50
classes, 50 frames) ``H = 64``, DBoF 256/128; medium (rgb 1024 + audio 128, 400 classes, 300
frames) ``H = 64``, DBoF 1024/512. The ``paper`` scale keeps the paper's widths (the
preset's hidden size, and its first stream's width for the first stream, half for the
others, as the paper halves them for audio). The rule's result is ``results.json``'s
``sizes`` and a line of ``table.md``.

**Fields set for every variant** (``--set FIELD=VALUE``, :func:`parse_settings`): any
:class:`~circlearn.models.ModelConfig` or :class:`~circlearn.training.TrainConfig` field, its
value parsed by the parser ``circlearn train`` uses for that field
(:func:`circlearn.config.parse_field`). Refused, each with a one-line error naming it: an
unknown field, a bad value, the fields a figure's variants set themselves (``fc``,
``embedding``, ``classifier_layer``, ``pooling``, and any field a variant's preset or
overrides set, such as ``n_factors`` in fig-structures or ``context_gating`` in fig-layers),
the fields the data fixes (``feature_names``, ``feature_sizes``, ``num_classes``,
``use_features``: one branch per stream), those of
each run (``run_dir``, ``train_data``, ``eval_data``, ``seed``, ``preset``, ``model``,
``frame_level``, ``sign_seed``) and ``num_epochs`` (``--epochs`` sets it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["WIDTH_RULE", "MAX_FRAMES_CAP", "DataSizes", "data_sizes", "pow2",
           "parse_settings", "refused_fields", "settings_text"]

#: The width rule in words (``results.json``'s ``sizes.rule``).
WIDTH_RULE = ("H = min(H*, max(16, pow2(4 V))); DBoF K_s = min(K*, max(2 H, pow2(4 D_s))); "
              "NetVLAD/NetFV C* clusters for the first stream, C*//2 for the others; "
              "max_frames = the longest recorded sequence (<= 300), else the scale's "
              "(V classes, D_s stream sizes, pow2 = next power of two, H*/K*/C* the scale's)")
PAPER_RULE = ("the paper's widths: the preset's hidden size and first-stream width, half of "
              "it for every other stream")
#: YouTube-8M keeps at most 300 frames per video.
MAX_FRAMES_CAP = 300

#: Fields every figure sets per variant.
VARIANT_FIELDS = ("fc", "embedding", "classifier_layer", "pooling")
#: Fields the data or each run fix.
DATA_FIELDS = ("feature_names", "feature_sizes", "num_classes", "use_features")
RUN_FIELDS = ("run_dir", "train_data", "eval_data", "seed", "preset", "model", "frame_level",
              "sign_seed")


def pow2(x: float) -> int:
    """The smallest power of two ``>= x`` (1 for ``x <= 1``).

    >>> pow2(40), pow2(64), pow2(0.5)
    (64, 64, 1)
    """
    n = 1
    while n < x:
        n *= 2
    return n


@dataclass(frozen=True)
class DataSizes:
    """The widths an experiment uses on one dataset (the rule's result)."""

    rule: str
    streams: dict[str, int]
    num_classes: int
    hidden_size: int | None          # None: each preset's own (paper scale)
    clusters: dict[str, tuple[int, ...]]  # pooling → one width per stream, in stream order
    max_frames: int | None           # None: the scale's TrainConfig value
    max_frames_source: str

    def cluster_sizes(self, pooling: str, streams: int) -> tuple[int, ...]:
        """The widths of the first ``streams`` streams for ``pooling``."""
        return self.clusters[pooling][:streams]

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self),
                "clusters": {k: list(v) for k, v in self.clusters.items()}}

    def given(self, model: Mapping, train: Mapping) -> DataSizes:
        """These sizes with the widths that ``model`` and ``train`` (``--set``) replace:
        ``hidden_size``, ``cluster_sizes`` (for every pooling), ``max_frames``."""
        changed = {}
        if "hidden_size" in model:
            changed["hidden_size"] = model["hidden_size"]
        if "cluster_sizes" in model:
            changed["clusters"] = {k: tuple(model["cluster_sizes"]) for k in self.clusters}
        if "max_frames" in train:
            changed.update(max_frames=train["max_frames"], max_frames_source="set by --set")
        if not changed:
            return self
        named = ", ".join(sorted({"clusters": "cluster_sizes"}.get(k, k) for k in changed
                                 if k != "max_frames_source"))
        return dataclasses.replace(self, **changed, rule=f"{self.rule}; then {named} set by "
                                                         f"--set")


def data_sizes(spec: Mapping, layout) -> DataSizes:
    """The widths of scale ``spec`` (an entry of ``SCALES``) on ``layout``'s data
    (module docstring)."""
    from circlearn.models import preset_config

    names, sizes, v = layout.feature_names, layout.feature_sizes, layout.num_classes
    streams = dict(zip(names, sizes))
    longest = layout.max_frames
    if longest:
        max_frames, source = min(MAX_FRAMES_CAP, longest), "the longest recorded sequence"
    else:
        max_frames, source = None, "the scale's (no length recorded)"
    if spec["clusters"] is None:  # the paper's widths, one per stream
        clusters = {}
        for preset in ("dbof", "netvlad", "netfv"):
            k = preset_config(preset).cluster_sizes[0]
            clusters[preset] = tuple([k] + [max(1, k // 2)] * (len(names) - 1))
        return DataSizes(PAPER_RULE, streams, v, None, clusters, max_frames, source)
    hidden = min(spec["model"]["hidden_size"], max(16, pow2(4 * v)))
    clusters = {"dbof": tuple(min(spec["clusters"]["dbof"], max(2 * hidden, pow2(4 * d)))
                              for d in sizes)}
    for pooling in ("netvlad", "netfv"):
        c = spec["clusters"][pooling]
        clusters[pooling] = tuple([c] + [max(1, c // 2)] * (len(names) - 1))
    return DataSizes(WIDTH_RULE, streams, v, hidden, clusters, max_frames, source)


def refused_fields(variants: Iterable) -> dict[str, str]:
    """Field → why ``--set`` may not change it, for a figure with these ``variants``."""
    from circlearn.models.presets import PRESETS

    why = {f: "the data fixes it" for f in DATA_FIELDS}
    why.update({f: "each run sets it" for f in RUN_FIELDS})
    why["num_epochs"] = "use --epochs"
    for v in variants:
        for f in (*PRESETS[v.preset], *v.overrides):
            f = {"rank_budget": "rank"}.get(f, f)  # fig-structures: the rank from a budget
            if f not in ("cluster_sizes", "use_features", "thin_fc"):
                why[f] = f"variant {v.name!r} sets it"
    for f in VARIANT_FIELDS:
        why[f] = "the figure's variants set it"
    return why


def parse_settings(items: Iterable[str], variants: Iterable = ()) -> tuple[dict, dict]:
    """``FIELD=VALUE`` strings → ``(model_overrides, train_overrides)``.

    A ``ModelConfig`` field goes to the first dict, a ``TrainConfig`` field to the second;
    the value is parsed as ``circlearn train`` parses that option. Raises ``ValueError``
    (one line, naming the item) for a malformed item, a field given twice, an unknown
    field, a bad value, or a field :func:`refused_fields` lists for ``variants``.

    >>> parse_settings(["base_learning_rate=3e-3", "hidden-size=32"])
    ({'hidden_size': 32}, {'base_learning_rate': 0.003})
    """
    from circlearn.config import parse_field
    from circlearn.models import ModelConfig
    from circlearn.training import TrainConfig
    from circlearn.training.options import CHOICES

    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    refused = refused_fields(variants)
    model, train = {}, {}
    for item in items:
        field, sep, text = item.partition("=")
        field = field.strip().replace("-", "_")
        if not sep or not field:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE")
        if field in model or field in train:
            raise ValueError(f"--set {item!r}: field {field} given twice")
        if field in refused:
            raise ValueError(f"--set {item!r}: {field} cannot be set here ({refused[field]})")
        if field in model_fields:
            model[field] = parse_field(ModelConfig, field, text.strip(), CHOICES.get(field))
        elif field in train_fields:
            train[field] = parse_field(TrainConfig, field, text.strip(), CHOICES.get(field))
        else:
            raise ValueError(f"--set {item!r}: unknown field {field!r} (not a ModelConfig or "
                             f"TrainConfig field)")
    return model, train


def settings_text(model: Mapping, train: Mapping) -> str:
    """``"base_learning_rate=0.003, hidden_size=32"``: what ``--set`` gave, sorted."""
    values = {**model, **train}

    def show(v):
        return ",".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)

    return ", ".join(f"{k}={show(values[k])}" for k in sorted(values))
