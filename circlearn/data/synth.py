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

``SynthConfig.generator_version`` picks the model; :data:`GENERATOR_VERSION` is the newest.
All draws come from one ``np.random.default_rng(seed)`` in a fixed order, so a seed and a
version give byte-identical files. Stream ``s`` ∈ {rgb, audio} has size ``D_s``.

**Version 1** (the bundled ``data_samples/``; one video at a time):

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

**Version 2** (the calibrated model; vectorised, :class:`circlearn.data.synth_models.V2`).
Steps 1, 5 and 6 as in version 1 (float32 draws), with these changes:

- *Concepts* (classes look alike; shared structure). With ``concepts = r > 0`` the class
  directions of a stream are ``u_k = A z_k`` with ``A ~ N(0, I)`` of shape ``(D_s, r)``
  and ``z_k ~ N(0, I_r / r)``: every class is a mix of ``r`` shared appearance factors
  (``E|u_k|² = D_s`` as in step 1), so related classes have correlated directions and a
  model that learns the factors once (a pooling layer and a narrow FC shared by all
  classes) needs fewer examples per class than one linear model per class on the means.
  ``concepts = 0`` keeps version 1's independent directions.
- *Verticals* (label co-occurrence). ``num_verticals`` verticals (the real vocabulary has
  about two dozen ``Vertical1`` values) of long-tailed sizes: each class belongs to one
  vertical ``g(k)``, every vertical has at least one class and the others are assigned with
  probabilities ``∝ (v + 1) ** -vertical_zipf``. A video first picks a vertical ``v`` with
  probability ``P_v = Σ_{g(k)=v} p_k``, then draws its ``L`` labels (as in version 1)
  sequentially without replacement with weights
  ``w_k = purity · p_k [g(k) = v] / P_v + (1 − purity) · p_k`` (``purity =
  vertical_purity``; Gumbel-top-k): most labels come from the video's vertical, so labels of
  one vertical co-occur, and the vertical's frequent classes co-occur most. Each vertical
  also has a *look* ``c_v^s ~ N(0, I)`` added to every frame at amplitude ``vertical_signal``
  (videos of one vertical resemble each other).
- *Lengths*. A video lasts ``d = floor(exp(U[ln min_frames, ln(max_duration + 1)]))`` seconds
  and has ``T = min(d, max_frames)`` frames (1 per second, capped like the real extractor).
  The real selection kept videos of 120–500 s and capped them at 300 frames; its published
  totals give ≈ 230 frames per video (1.9B frames / 8.2M videos in 2016, 3.2B features / 2
  streams / 7.0M videos in 2017). Log-uniform durations on [120, 500] s give a mean of ≈ 233
  frames with 36 % of the videos at the 300-frame cap, all at least 120 frames ("most videos
  are long"); a uniform duration would give ≈ 257 and 53 % at the cap.
- *Segments*. As step 4, plus: a distractor segment has amplitude ``distractor_amplitude``
  (the mean of a long weak distractor can exceed that of a short true segment; single frames
  tell them apart), and each segment's sign is flipped with probability ``flip`` (it shows
  ``−u_k``). A flipped segment shifts the video mean the other way, so the class's mean
  shift shrinks by ``1 − 2 · flip``, while a frame-level pooling (a cluster for ``+u_k`` and
  one for ``−u_k``, or a residual's energy) still sees each frame's evidence: ``flip`` is the
  knob that sets how much a frame model can beat a linear model on video-level means.

**Calibration of** ``SYNTH_PRESETS["medium"]`` (synthetic data; one seed per row unless
stated). Target (issue 12): with the medium model and training (``SCALES["medium"]`` in
:mod:`circlearn.experiments`: DBoF 1024/512 clusters, NetVLAD 32/16, NetFV 16/8, hidden 64,
one bag of 30 frames, batch 64, 5 epochs = 780 steps) dense DBoF's 3-seed mean GAP in
[0.78, 0.90] and every pooling model's paired 95 % interval against the linear model on
the means above 0. Tries ran on the ``proxy`` set (100 classes, 2,500 / 500 videos: the
medium set's examples per class) for 20 epochs, the same 780 steps, before the medium set.

*Round 1* (training: Adam 1e-3 without decay, batch-norm momentum 0.01; the project's 2-core
VM shared with five other jobs, load 7–12). "linear": a throwaway logistic regression on the
L2-normalised means (L-BFGS; the best on validate of λ ∈ {0, 1e-4, 1e-3}, of {0, 1e-4} for
the chosen row, so optimistic), except where ``circlearn.baselines`` is named.

============================================ ===== ============= ===== =======
set and knobs (noise a/b: noise/video_noise) prior linear        DBoF  NetVLAD
============================================ ===== ============= ===== =======
proxy, concepts 0, noise 0.6/0.3              0.14  0.93          0.74q –
proxy, concepts 32, noise 0.6/0.3             0.15  0.80 (0.82 b) 0.90  0.70
proxy, concepts 32, noise 0.6/0.3, flip 0.3   0.15  0.39          0.84  ≈0.4†
proxy, concepts 32, noise 0.3/0.5             0.15  0.64‡         0.88  0.67
medium, concepts 32, noise 0.6/0.3            0.09  0.60‡         0.79  0.64
medium, concepts 32, noise 0.3/0.5 (chosen)   0.09  0.60          0.80  0.62
============================================ ===== ============= ===== =======

q: a quarter-size model (256/128 clusters, hidden 16). † stopped at epoch 15 (0.41).
‡ λ = 1e-4 only. (b) ``circlearn.baselines.baseline_gaps`` (λ chosen on a split of train).

Findings: with independent class directions a linear model on the means is close to
perfect (0.93) and far above DBoF, because every class is a separate mean shift that the
mean of ~233 frames measures with little noise, while the pooling models see 30 sampled
frames through a 64-wide FC. Shared concepts (rank 32) make related classes look alike:
the linear model drops, the pooling models (which learn the factors once) gain. Less frame
noise and a larger per-video offset make 30 sampled frames about as informative as the full
mean (the offset is shared by both), which is what NetVLAD needs.

*Round 2* (after the medium protocol became Adam 3e-3, batch-norm momentum 0.1,
``benchmarks/results/protocol_sweep-medium.md``; two runs at a time on the otherwise idle
2-core VM; "linear" is ``circlearn.baselines`` (λ chosen on a split of train) throughout).
Round 1's set (``noise=0.3``, ``flip=0``) left dense NetFV **below** the linear model at
medium (3 seeds: 0.611 ± 0.007 against 0.644, paired interval −0.033 [−0.051, −0.014]).
Measured about it first (medium, seed 0): not the optimiser (Adam 1e-3 / 3e-3 / 1e-2: 0.600
/ 0.619 / 0.556), nor the cluster count (32 instead of 16: 0.623), nor the 30 sampled
frames (every frame at evaluation: 0.633); it overfits (GAP 0.879 on training videos). More
training videos lift it (below), but DBoF with them, past the target, at twice the cost per
epoch. The knob that separates them is ``flip``: a flipped segment cancels evidence in the
video mean, which the linear model sees, but not in NetFV's second-order (variance) terms
nor in DBoF's max over frames.

============================================ ===== ====== ===== ======= =====
set and knobs (noise: frame noise)           prior linear DBoF  NetVLAD NetFV
============================================ ===== ====== ===== ======= =====
proxy, flip 0, noise 0.3 (round 1's choice)   0.155 0.687  0.876 0.724   0.626
proxy, the same with 5,000 train videos       0.149 0.723  –     –       0.732
proxy, flip 0.1, noise 0.3                    0.155 0.531  0.826 0.646   0.554
proxy, flip 0.15, noise 0.3                   0.155 0.458  0.823 0.617   0.527
proxy, flip 0.2, noise 0.3                    0.155 0.408  –     –       0.501
proxy, flip 0.1, noise 0.2                    0.155 0.531  0.837 –       0.560
medium, flip 0, noise 0.3, 3 seeds            0.091 0.644  0.837 0.719   0.611
medium, flip 0, noise 0.3, 20,000 train ¶     0.087 0.688  0.905 –       0.749
medium, flip 0.1, noise 0.2                   0.091 0.511  0.803 0.650   0.549
medium, flip 0.1, noise 0.2, 3 seeds §        0.091 0.511  0.795 0.646   0.538
medium, flip 0.15, noise 0.1 (chosen)         0.091 0.460  0.801 0.628   0.515
medium, flip 0.15, noise 0.1, 3 seeds         0.091 0.460  0.802 0.627   0.518
============================================ ===== ====== ===== ======= =====

¶ ``replace(SYNTH_PRESETS["medium"], train_videos=20_000, shards=32)``, not a preset (6.0 GB;
generation and baselines 40 min on the shared VM); NetFV over 3 seeds: 0.749 ± 0.010, +0.061
[+0.037, +0.086] over the linear model, but dense DBoF (seed 0) 0.905, above the target.
§ the whole fig-embeddings at medium (17 min 24 s, idle): DBoF 0.795 ± 0.008, NetVLAD 0.646
± 0.007, NetFV 0.538 ± 0.012, but NetFV's paired interval against the linear model,
+0.027 [−0.004, +0.057], still reaches below 0 (three seeds give t = 4.30).

Findings: ``flip`` lowers the linear model about twice as fast as NetFV (proxy, 0 → 0.1:
−0.156 against −0.072), NetVLAD about twice as slowly as the linear model, and DBoF least
(0.1 → 0.15: linear −0.073, NetFV −0.027, NetVLAD −0.029, DBoF −0.003). At 0.1 NetFV is
above the linear model by 0.023 on the proxy and 0.027 at medium, too little for three
seeds; 0.15 gives +0.058. Less frame noise adds about 0.01 to the frame models (0.3 → 0.2
on the proxy: DBoF +0.011, NetFV +0.006) and nothing to the linear model, whose means
average the noise away; 0.1 keeps DBoF inside the target with 0.15 flips.

**Status at medium scale** (``SYNTH_PRESETS["medium"]``: ``flip=0.15``, ``noise=0.1``; 3
seeds, ``data_samples/results/medium/fig-embeddings/``; idle 2-core VM). Generation 58 s
(one process, idle VM), 3.62 GB on disk; ``circlearn.baselines``: class prior 0.091, linear
on means 0.460 (validate; test 0.088 / 0.458; λ = 0.03, chosen on a split of train; 599 s on
one thread while three training runs, 329 s in all, shared the VM). fig-embeddings (3 seeds
× 5 epochs, 17 min 2 s idle): dense DBoF 0.802 ± 0.004, inside the target [0.78, 0.90];
against the linear model, paired 95 % intervals: DBoF +0.342 [+0.333, +0.352], NetVLAD
(0.627 ± 0.003) +0.167 [+0.159, +0.176], NetFV (0.518 ± 0.003) +0.058 [+0.050, +0.066], and
the compact models too (the smallest: compact NetFV +0.023 [+0.010, +0.036]). The
calibration target is met.
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
