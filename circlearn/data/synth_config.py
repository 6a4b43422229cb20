"""The synthetic generator's configuration: :class:`SynthConfig` and the named presets.

The knobs are documented with the generative models in :mod:`circlearn.data.synth`; what they
do and how the presets were calibrated, in ``data_samples/CALIBRATION.md``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace

__all__ = ["SynthConfig", "GENERATOR_VERSION", "SYNTH_PRESETS", "config_fields", "config_hash",
           "preset"]

GENERATOR_VERSION = 2
_V1_FIELDS = ("seed", "num_classes", "rgb_size", "audio_size", "train_videos", "validate_videos",
              "test_videos", "shards", "min_frames", "max_frames", "labels_per_video",
              "max_labels", "zipf", "evidence_min", "evidence_max", "distractor", "signal",
              "audio_signal", "noise", "video_noise", "id_key")


@dataclass
class SynthConfig:
    """Size and difficulty knobs of the synthetic dataset (:mod:`circlearn.data.synth`).

    The fields after ``generator_version`` are version-2 knobs; version 1 needs them at their
    defaults (it would ignore them).
    """

    seed: int = 0
    num_classes: int = 50
    rgb_size: int = 1024
    audio_size: int = 128
    train_videos: int = 1000
    validate_videos: int = 300
    test_videos: int = 200
    shards: int = 2
    min_frames: int = 10
    max_frames: int = 50
    labels_per_video: float = 3.0
    max_labels: int = 8
    zipf: float = 1.0
    evidence_min: float = 0.1
    evidence_max: float = 0.4
    distractor: float = 0.5
    signal: float = 0.3
    audio_signal: float = 0.7
    noise: float = 0.6
    video_noise: float = 0.3
    id_key: str = "id"
    generator_version: int = GENERATOR_VERSION
    max_duration: int = 100
    num_verticals: int = 8
    vertical_zipf: float = 1.0
    vertical_purity: float = 0.8
    vertical_signal: float = 0.1
    distractor_amplitude: float = 0.5
    flip: float = 0.0
    concepts: int = 0

    def __post_init__(self):
        checks = [(self.generator_version in (1, 2), "generator_version in (1, 2)"),
                  (self.num_classes >= 1, "num_classes >= 1"),
                  (self.rgb_size >= 1 and self.audio_size >= 1, "feature sizes >= 1"),
                  (min(self.train_videos, self.validate_videos, self.test_videos) >= 0,
                   "video counts >= 0"),
                  (self.shards >= 1, "shards >= 1"),
                  (1 <= self.min_frames <= self.max_frames <= 300,
                   "1 <= min_frames <= max_frames <= 300"),
                  (self.max_duration >= self.min_frames, "max_duration >= min_frames"),
                  (1 <= self.labels_per_video <= self.max_labels <= self.num_classes,
                   "1 <= labels_per_video <= max_labels <= num_classes"),
                  (0 < self.evidence_min <= self.evidence_max <= 1,
                   "0 < evidence_min <= evidence_max <= 1"),
                  (0 <= self.distractor <= 1 and 0 <= self.flip <= 1,
                   "0 <= distractor, flip <= 1"),
                  (min(self.noise, self.video_noise, self.zipf, self.vertical_zipf,
                       self.vertical_signal, self.distractor_amplitude) >= 0,
                   "noise, video_noise, zipf, vertical_zipf, vertical_signal, "
                   "distractor_amplitude >= 0"),
                  (1 <= self.num_verticals <= self.num_classes,
                   "1 <= num_verticals <= num_classes"),
                  (0 <= self.vertical_purity < 1, "0 <= vertical_purity < 1"),
                  (self.concepts >= 0, "concepts >= 0"),
                  (self.id_key in ("id", "video_id"), "id_key in ('id', 'video_id')")]
        for ok, what in checks:
            if not ok:
                raise ValueError(f"invalid synthetic-data config: need {what}; got {self}")
        if self.generator_version == 1:
            default = SynthConfig(generator_version=2)
            changed = [f.name for f in fields(self) if f.name not in _V1_FIELDS
                       and f.name != "generator_version"
                       and getattr(self, f.name) != getattr(default, f.name)]
            if changed:
                raise ValueError(f"invalid synthetic-data config: {', '.join(changed)} are "
                                 f"version-2 knobs; generator_version 1 does not use them")

    def to_dict(self) -> dict:
        """The knobs as stored in ``dataset.json`` (version 1: its own fields only)."""
        d = asdict(self)
        return {k: d[k] for k in _V1_FIELDS} if self.generator_version == 1 else d


def config_fields() -> list[str]:
    """Names of the :class:`SynthConfig` knobs (the CLI exposes each as an option)."""
    return [f.name for f in fields(SynthConfig)]


_REAL = dict(rgb_size=1024, audio_size=128, min_frames=120, max_frames=300, max_duration=500,
             labels_per_video=3.0, max_labels=10, num_verticals=24, generator_version=2)
_KNOBS = dict(zipf=1.0, vertical_zipf=1.0, vertical_purity=0.8, vertical_signal=0.1,
              evidence_min=0.1, evidence_max=0.4, distractor=0.5, distractor_amplitude=0.5,
              flip=0.15, concepts=32, signal=0.3, audio_signal=0.7, noise=0.1, video_noise=0.5)

_MEDIUM = dict(**_REAL, **_KNOBS, num_classes=400, train_videos=10_000, validate_videos=2_000,
               test_videos=1_000, shards=16)

#: Named version-2 sets at the real feature sizes and lengths, with the calibrated knobs
#: (``concepts=32``, ``noise=0.1``, ``video_noise=0.5``, ``flip=0.15``; the calibration tables are
#: in ``data_samples/CALIBRATION.md``).
#:
#: - ``medium``: the medium scale's reported draw (generator seed 1: 400 classes, 24
#:   verticals, 10,000 / 2,000 / 1,000 videos). Nothing was chosen on it.
#: - ``medium-calibration``: the same configuration, generator seed 0 (draw 0). The knobs,
#:   the medium protocol and its epoch budget were chosen on this draw only.
#: - ``proxy``: the same examples per class at a quarter of the classes and videos (100
#:   classes, 6 verticals, 2,500 / 500 videos) for quick tries.
SYNTH_PRESETS: dict[str, SynthConfig] = {
    "medium": SynthConfig(seed=1, **_MEDIUM),
    "medium-calibration": SynthConfig(seed=0, **_MEDIUM),
    "proxy": SynthConfig(**{**_REAL, "num_verticals": 6}, **_KNOBS, num_classes=100,
                         train_videos=2_500, validate_videos=500, test_videos=0, shards=4),
}


def config_hash(cfg: SynthConfig) -> str:
    """SHA-256 (hex) of the configuration's canonical JSON; names the cache folder."""
    text = json.dumps(cfg.to_dict(), sort_keys=True)
    return hashlib.sha256(f"v{cfg.generator_version}:{text}".encode()).hexdigest()


def preset(name: str, **overrides) -> SynthConfig:
    """``SYNTH_PRESETS[name]`` with ``overrides`` (a copy; unknown names raise)."""
    if name not in SYNTH_PRESETS:
        raise ValueError(f"unknown synthetic preset {name!r}; valid: {', '.join(SYNTH_PRESETS)}")
    return replace(SYNTH_PRESETS[name], **overrides)
