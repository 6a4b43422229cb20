"""Synthetic YouTube-8M: the exact file format, from a documented generative model.

Output layout (``out/``)::

    frame/train0000.tfrecord …     SequenceExample shards (rgb/audio uint8 per second)
    video/train00.tfrecord …       Example shards (mean_rgb/mean_audio float32)
    frame|video/validate*, test*   the same; test records carry no labels
    test_labels.csv                the test split's ground truth ("id,l1 l2 …")
    vocabulary.csv                 the 2018 header; Index = label id, sorted by frequency
    dataset.json                   the configuration, feature names/sizes, counts

**Generative model** (stream ``s`` ∈ {rgb, audio} of size ``D_s``; all draws from one
``np.random.default_rng(seed)`` in a fixed order, so a seed gives byte-identical files):

1. Class directions ``u_k^s ~ N(0, I_{D_s})``, one per class and stream.
2. Label frequencies are long-tailed: ``p_k ∝ (k + 1) ** -zipf``; class 0 is the most frequent
   (as in the real ``vocabulary.csv``).
3. A video has ``L = min(1 + Poisson(labels_per_video - 1), max_labels)`` distinct labels
   drawn without replacement with probabilities ``p``, and ``T ~ U{min_frames..max_frames}``
   frames (1 per second).
4. Each label ``k`` shows up in one contiguous segment covering a fraction
   ``f ~ U[evidence_min, evidence_max]`` of the frames (at least one frame), at a uniform start;
   with probability ``distractor`` per label the video also gets a segment of a random
   non-label class at half amplitude (evidence that must not fire).
5. Frame ``t``: ``x_t^s = b^s + ε_t^s + Σ_k a_s · m_{k,t} · u_k^s`` with a video offset
   ``b^s ~ N(0, video_noise²)``, frame noise ``ε ~ N(0, noise²)``, ``a_rgb = signal``,
   ``a_audio = signal · audio_signal``, ``m_{k,t} = 1`` inside label ``k``'s segment.
6. Frames are quantised like the real data (:func:`circlearn.data.yt8m.quantize`); video-level
   features are the means of the dequantised frames (float32), as in the real video-level files.

Pooling matters because evidence covers only part of each video; rare classes have few
examples; distractors and the per-video offset make single frames ambiguous.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .yt8m import VideoExample, dequantize, quantize, write_frame_examples, write_video_examples

__all__ = ["SynthConfig", "generate", "config_fields", "SPLITS", "GENERATOR_VERSION"]

SPLITS = ("train", "validate", "test")
GENERATOR_VERSION = 1
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))


@dataclass
class SynthConfig:
    """Size and difficulty knobs of the synthetic dataset (see the module docstring)."""

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

    def __post_init__(self):
        checks = [(self.num_classes >= 1, "num_classes >= 1"),
                  (self.rgb_size >= 1 and self.audio_size >= 1, "feature sizes >= 1"),
                  (min(self.train_videos, self.validate_videos, self.test_videos) >= 0,
                   "video counts >= 0"),
                  (self.shards >= 1, "shards >= 1"),
                  (1 <= self.min_frames <= self.max_frames <= 300,
                   "1 <= min_frames <= max_frames <= 300"),
                  (1 <= self.labels_per_video <= self.max_labels <= self.num_classes,
                   "1 <= labels_per_video <= max_labels <= num_classes"),
                  (0 < self.evidence_min <= self.evidence_max <= 1,
                   "0 < evidence_min <= evidence_max <= 1"),
                  (0 <= self.distractor <= 1, "0 <= distractor <= 1"),
                  (self.noise >= 0 and self.video_noise >= 0 and self.zipf >= 0,
                   "noise, video_noise, zipf >= 0"),
                  (self.id_key in ("id", "video_id"), "id_key in ('id', 'video_id')")]
        for ok, what in checks:
            if not ok:
                raise ValueError(f"invalid synthetic-data config: need {what}; got {self}")


def _segment(rng: np.random.Generator, t: int, cfg: SynthConfig) -> slice:
    frac = rng.uniform(cfg.evidence_min, cfg.evidence_max)
    length = max(1, int(np.ceil(frac * t)))
    start = int(rng.integers(0, t - length + 1))
    return slice(start, start + length)


def _video(rng, cfg: SynthConfig, dirs, p) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One video's labels and quantised frames (steps 3–6)."""
    n_labels = min(1 + int(rng.poisson(cfg.labels_per_video - 1)), cfg.max_labels)
    labels = np.sort(rng.choice(cfg.num_classes, size=n_labels, replace=False, p=p))
    t = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    events = [(int(k), 1.0, _segment(rng, t, cfg)) for k in labels]
    others = np.setdiff1d(np.arange(cfg.num_classes), labels)
    for _ in range(n_labels):
        if others.size and rng.random() < cfg.distractor:
            events.append((int(rng.choice(others)), 0.5, _segment(rng, t, cfg)))
    feats = {}
    for name, amp in (("rgb", cfg.signal), ("audio", cfg.signal * cfg.audio_signal)):
        d = dirs[name].shape[1]
        x = rng.normal(0.0, cfg.noise, size=(t, d)) + rng.normal(0.0, cfg.video_noise, size=d)
        for k, scale, seg in events:
            x[seg] += (amp * scale) * dirs[name][k]  # (len, D)
        feats[name] = quantize(x)  # (T, D) uint8
    return labels.astype(np.int64), feats


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        v = "".join(rng.choice(_ID_ALPHABET, size=4))
        if v not in seen:
            seen.add(v)
            ids.append(v)
    return ids


def _shard_name(split: str, i: int, frame: bool) -> str:
    return f"{split}{i:04d}.tfrecord" if frame else f"{split}{i:02d}.tfrecord"


def generate(out, config: SynthConfig | None = None) -> dict:
    """Write the synthetic dataset under ``out``; return the ``dataset.json`` summary."""
    cfg = config or SynthConfig()
    out = Path(out)
    rng = np.random.default_rng(cfg.seed)
    dirs = {"rgb": rng.normal(size=(cfg.num_classes, cfg.rgb_size)),
            "audio": rng.normal(size=(cfg.num_classes, cfg.audio_size))}
    w = (np.arange(cfg.num_classes) + 1.0) ** -cfg.zipf
    p = w / w.sum()
    counts = {s: getattr(cfg, f"{s}_videos") for s in SPLITS}
    all_ids = _ids(rng, sum(counts.values()))
    train_count = np.zeros(cfg.num_classes, dtype=np.int64)
    summary = {"generator_version": GENERATOR_VERSION, "config": asdict(cfg),
               "num_classes": cfg.num_classes, "frame_features": ["rgb", "audio"],
               "video_features": ["mean_rgb", "mean_audio"],
               "feature_sizes": [cfg.rgb_size, cfg.audio_size], "splits": {}}
    test_truth = []
    pos = 0
    for split in SPLITS:
        n = counts[split]
        if n == 0:
            continue
        frame_ex, video_ex = [], []
        for vid in all_ids[pos:pos + n]:
            labels, feats = _video(rng, cfg, dirs, p)
            frame_ex.append(VideoExample(vid, labels, feats))
            means = {f"mean_{k}": dequantize(v).astype(np.float64).mean(axis=0).astype(np.float32)
                     for k, v in feats.items()}
            video_ex.append(VideoExample(vid, labels, means))
            if split == "train":
                train_count[labels] += 1
            if split == "test":
                test_truth.append((vid, labels))
        pos += n
        shards = min(cfg.shards, n)
        bounds = np.linspace(0, n, shards + 1).round().astype(int)
        for i in range(shards):
            lo, hi = bounds[i], bounds[i + 1]
            kw = dict(id_key=cfg.id_key, with_labels=split != "test")
            write_frame_examples(out / "frame" / _shard_name(split, i, True), frame_ex[lo:hi], **kw)
            write_video_examples(out / "video" / _shard_name(split, i, False), video_ex[lo:hi], **kw)
        summary["splits"][split] = {
            "videos": n, "shards": shards,
            "frames": int(sum(e.num_frames for e in frame_ex)),
            "labels": int(sum(e.labels.size for e in frame_ex))}
    if test_truth:
        with open(out / "test_labels.csv", "w", newline="") as f:
            f.write("VideoId,Labels\n")
            for vid, labels in test_truth:
                f.write(f"{vid},{' '.join(str(int(k)) for k in labels)}\n")
    _write_vocabulary(out / "vocabulary.csv", train_count)
    (out / "dataset.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def _write_vocabulary(path: Path, train_count: np.ndarray) -> None:
    header = ["Index", "TrainVideoCount", "KnowledgeGraphId", "Name", "WikiUrl", "Vertical1",
              "Vertical2", "Vertical3", "WikiDescription"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for k, c in enumerate(train_count):
            writer.writerow([k, int(c), f"/synthetic/{k:04d}", f"Synthetic class {k}", "",
                             f"Synthetic vertical {k % 8}", "", "",
                             f"Synthetic class {k} of the circlearn generator."])


def config_fields() -> list[str]:
    """Names of the :class:`SynthConfig` knobs (the CLI exposes each as an option)."""
    return [f.name for f in fields(SynthConfig)]
