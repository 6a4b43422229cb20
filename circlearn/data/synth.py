"""Synthetic YouTube-8M: the exact file format, from a documented generative model.

Output layout (``out/``)::

    frame/train0000.tfrecord …     SequenceExample shards (rgb/audio uint8 per second)
    video/train00.tfrecord …       Example shards (mean_rgb/mean_audio float32)
    frame|video/validate*, test*   the same; test records carry no labels
    test_labels.csv                the test split's ground truth ("id,l1 l2 …")
    vocabulary.csv                 the 2018 header; Index = label id (the prior decreases with
                                   it), TrainVideoCount = the generated training count
    dataset.json                   generator_version, the configuration, feature names/sizes,
                                   counts (and ``baselines`` when made by :func:`cached_dataset`)

``SynthConfig.generator_version`` picks the model (:mod:`circlearn.data.synth_models`);
:data:`GENERATOR_VERSION` is the newest. All draws come from one ``np.random.default_rng(seed)``
in a fixed order, so a seed and a version give byte-identical files. Stream ``s`` ∈ {rgb,
audio} has size ``D_s``. **Version 1** (the bundled ``data_samples/``; one video at a time):

1. Class directions ``u_k^s ~ N(0, I_{D_s})``; label prior ``p_k ∝ (k + 1) ** -zipf``.
2. ``L = min(1 + Poisson(labels_per_video - 1), max_labels)`` distinct labels drawn with ``p``.
3. ``T ~ U{min_frames..max_frames}`` frames (1 per second).
4. Label ``k`` shows in one contiguous segment of a fraction ``f ~ U[evidence_min,
   evidence_max]`` of the frames; with probability ``distractor`` per label, a non-label
   class shows in a segment too, at half amplitude.
5. Frame ``t``: ``x_t^s = b^s + ε_t^s + Σ_k a_s · m_{k,t} · u_k^s`` with ``b^s ~ N(0,
   video_noise²)``, ``ε ~ N(0, noise²)``, ``a_rgb = signal``, ``a_audio = signal ·
   audio_signal``, ``m_{k,t} = 1`` inside label ``k``'s segment.
6. Quantised as the real data (:func:`~.yt8m.quantize`); video level: dequantised frame means.

**Version 2** (the calibrated model, vectorised) changes: *concepts*: ``u_k = A z_k`` with
``A ~ N(0, I)`` of shape ``(D_s, r)``, ``z_k ~ N(0, I_r / r)``, ``r = concepts``; *verticals*:
class ``k`` is in vertical ``g(k)``; a video picks ``v`` with ``P_v = Σ_{g(k)=v} p_k``, then
labels with weights ``w_k = purity · p_k [g(k) = v] / P_v + (1 − purity) · p_k``
(Gumbel-top-k), and every frame adds the look ``c_v^s ~ N(0, I)`` at ``vertical_signal``;
*lengths*: ``T = min(floor(exp(U[ln min_frames, ln(max_duration + 1)])), max_frames)``;
*segments*: as step 4, distractors at ``distractor_amplitude``, and each segment shows
``−u_k`` with probability ``flip``.

What the knobs do, the calibration tables, the medium preset: ``data_samples/CALIBRATION.md``.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .files import atomic_directory
from .synth_config import (
                           GENERATOR_VERSION,
                           SYNTH_PRESETS,
                           SynthConfig,
                           config_fields,
                           config_hash,
                           preset,
)
from .synth_models import V1, V2
from .yt8m import VideoExample, write_frame_examples, write_video_examples

__all__ = ["SynthConfig", "generate", "config_fields", "SPLITS", "GENERATOR_VERSION",
           "SYNTH_PRESETS", "cached_dataset", "cache_root", "config_hash", "CACHE_ENV_VAR",
           "preset"]

SPLITS = ("train", "validate", "test")
CACHE_ENV_VAR = "CIRCLEARN_CACHE"
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))


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
    """Write the synthetic dataset under ``out``; return the ``dataset.json`` summary.

    Videos are generated and written one shard at a time (memory: one shard's frames).
    """
    cfg = config or SynthConfig()
    out = Path(out)
    rng = np.random.default_rng(cfg.seed)
    model = (V1 if cfg.generator_version == 1 else V2)(rng, cfg)
    counts = {s: getattr(cfg, f"{s}_videos") for s in SPLITS}
    all_ids = _ids(rng, sum(counts.values()))
    train_count = np.zeros(cfg.num_classes, dtype=np.int64)
    summary = {"generator_version": cfg.generator_version, "config": cfg.to_dict(),
               "num_classes": cfg.num_classes, "frame_features": ["rgb", "audio"],
               "video_features": ["mean_rgb", "mean_audio"],
               "feature_sizes": [cfg.rgb_size, cfg.audio_size], "splits": {}}
    test_truth = []
    pos = 0
    for split in SPLITS:
        n = counts[split]
        if n == 0:
            continue
        ids, videos = all_ids[pos:pos + n], model.videos(n)
        shards = min(cfg.shards, n)
        bounds = np.linspace(0, n, shards + 1).round().astype(int)
        frames = labels = 0
        for i in range(shards):
            frame_ex, video_ex = [], []
            for vid in ids[bounds[i]:bounds[i + 1]]:
                y, feats, means = next(videos)
                frame_ex.append(VideoExample(vid, y, feats))
                video_ex.append(VideoExample(vid, y, means))
                frames, labels = frames + frame_ex[-1].num_frames, labels + y.size
                if split == "train":
                    train_count[y] += 1
                if split == "test":
                    test_truth.append((vid, y))
            kw = dict(id_key=cfg.id_key, with_labels=split != "test")
            write_frame_examples(out / "frame" / _shard_name(split, i, True), frame_ex, **kw)
            write_video_examples(out / "video" / _shard_name(split, i, False), video_ex, **kw)
        pos += n
        summary["splits"][split] = {"videos": n, "shards": shards, "frames": int(frames),
                                    "labels": int(labels)}
    if test_truth:
        with open(out / "test_labels.csv", "w", newline="") as f:
            f.write("VideoId,Labels\n")
            for vid, y in test_truth:
                f.write(f"{vid},{' '.join(str(int(k)) for k in y)}\n")
    _write_vocabulary(out / "vocabulary.csv", train_count, model.verticals)
    (out / "dataset.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def _write_vocabulary(path: Path, train_count: np.ndarray, verticals: np.ndarray) -> None:
    header = ["Index", "TrainVideoCount", "KnowledgeGraphId", "Name", "WikiUrl", "Vertical1",
              "Vertical2", "Vertical3", "WikiDescription"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for k, c in enumerate(train_count):
            writer.writerow([k, int(c), f"/synthetic/{k:04d}", f"Synthetic class {k}", "",
                             f"Synthetic vertical {int(verticals[k])}", "", "",
                             f"Synthetic class {k} of the circlearn generator."])


# ----------------------------------------------------------------------------- cache

def cache_root(cache_dir=None) -> Path:
    """``cache_dir``, else ``$CIRCLEARN_CACHE``, else ``~/.cache/circlearn``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env) if env else Path.home() / ".cache" / "circlearn"


def cached_dataset(config_or_name: SynthConfig | str, cache_dir=None, *, name: str | None = None,
                   baselines: Callable[[Path], object] | None = None, log=None) -> Path:
    """The root of a generated dataset in the cache, generating it first when absent.

    The folder is ``<cache>/synth/<name>-v<version>-<hash12>`` (``name``: the preset's, else
    ``name`` or ``custom``; ``hash12``: :func:`config_hash`). Generation writes into a hidden
    temporary folder next to it, which is renamed into place only when complete
    (:func:`circlearn.data.files.atomic_directory`), so an
    interrupted generation is never reused (its leftover folder is removed by a later call
    once its process has ended). An existing folder whose ``dataset.json`` does not record
    this configuration raises ``ValueError``. Same seed and version: byte-identical files.
    ``baselines``, if given, is called on the complete folder before the rename, e.g.
    :func:`circlearn.experiments.baselines.record_baselines`, which stores the set's baseline GAPs in its
    ``dataset.json`` (passed in by the caller: the baselines are a layer above the data).
    """
    if isinstance(config_or_name, str):
        if config_or_name not in SYNTH_PRESETS:
            raise ValueError(f"unknown synthetic preset {config_or_name!r}; valid: "
                             f"{', '.join(SYNTH_PRESETS)}")
        name, cfg = config_or_name, SYNTH_PRESETS[config_or_name]
    else:
        name, cfg = name or "custom", config_or_name
    parent = cache_root(cache_dir) / "synth"
    final = parent / f"{name}-v{cfg.generator_version}-{config_hash(cfg)[:12]}"
    if final.is_dir():
        _check_cached(final, cfg)
        return final
    if log:
        log(f"generating {name} (generator v{cfg.generator_version}) into {final}")
    try:
        with atomic_directory(final) as tmp:
            generate(tmp, cfg)
            if baselines and cfg.train_videos and (cfg.validate_videos or cfg.test_videos):
                if log:
                    log("computing the baseline GAPs (class prior, linear on means)")
                baselines(tmp)
    except OSError:
        if not final.is_dir():  # not a lost race with another process: a real error
            raise
    _check_cached(final, cfg)
    return final


def _check_cached(root: Path, cfg: SynthConfig) -> None:
    meta = root / "dataset.json"
    if not meta.is_file():
        raise ValueError(f"{root}: cached synthetic dataset without dataset.json; remove it")
    info = json.loads(meta.read_text())
    if info.get("config") != cfg.to_dict() or info.get("generator_version") != \
            cfg.generator_version:  # (``baselines`` may or may not be there)
        raise ValueError(f"{meta} records another configuration than the one requested; "
                         f"remove {root}")
