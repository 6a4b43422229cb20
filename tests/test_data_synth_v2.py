"""Generator version 2 (calibration smoke test at tiny size), presets and the dataset cache."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest

from circlearn.cli import main
from circlearn.data import synth
from circlearn.data.synth import SYNTH_PRESETS, SynthConfig, cached_dataset, generate
from circlearn.data.synth_models import V2, gumbel_top_k, log_uniform_lengths, quantize32
from circlearn.data.yt8m import (
    dequantize,
    quantize,
    read_frame_examples,
    read_video_examples,
    video_mean,
)
from circlearn.experiments import baselines
from circlearn.metrics import gap

TINY = dict(num_classes=40, rgb_size=24, audio_size=8, train_videos=1200, validate_videos=300,
            test_videos=0, shards=1, min_frames=8, max_frames=20, max_duration=40,
            num_verticals=5, vertical_purity=0.8, signal=0.25, generator_version=2)


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def load(root, split, kind="video"):
    meta = json.loads((root / "dataset.json").read_text())
    read = read_video_examples if kind == "video" else read_frame_examples
    return [e for f in sorted((root / kind).glob(f"{split}*"))
            for e in read(f, feature_sizes=meta["feature_sizes"])]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2")
    generate(root, SynthConfig(seed=0, **TINY))
    return root


def test_log_uniform_lengths_match_the_documented_shape():
    t = log_uniform_lengths(np.random.default_rng(0), 200_000, 120, 500, 300)
    assert t.min() == 120 and t.max() == 300
    at_cap = (t == 300).mean()
    theory = np.log(501 / 300) / np.log(501 / 120)  # P(duration >= 300)
    assert abs(at_cap - theory) < 0.005 and 0.35 < at_cap < 0.37
    assert 230 < t.mean() < 236  # ≈ 233 frames per video, as documented
    short = t[t < 300]
    assert np.median(short) < 200  # log-uniform: denser near 120 than near 300


def test_gumbel_top_k_is_sampling_without_replacement():
    rng = np.random.default_rng(1)
    w = np.array([0.5, 0.3, 0.15, 0.05])
    rows = gumbel_top_k(rng, np.log(np.tile(w, (40_000, 1))), np.ones(40_000, dtype=int))
    first = np.bincount(np.concatenate(rows), minlength=4) / 40_000
    np.testing.assert_allclose(first, w, atol=0.01)
    two = gumbel_top_k(rng, np.log(np.tile(w, (10, 1))), np.full(10, 3))
    assert all(r.size == 3 and np.unique(r).size == 3 for r in two)


def test_fast_quantize_and_means_match_the_reference():
    x = np.random.default_rng(0).normal(0, 1.2, size=(500, 64)).astype(np.float32)
    x[0, :5] = [-3.0, 3.0, -2.0, 2.0, 0.0]
    ref = quantize(x)
    fast = quantize32(x.copy())
    diff = np.abs(fast.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-4
    means = video_mean(ref, "sum")
    np.testing.assert_allclose(means, dequantize(ref).astype(np.float64).mean(0), atol=1e-6)


def test_frames_within_bounds_and_distribution_shape(tiny):
    frames = np.array([e.num_frames for e in load(tiny, "train", "frame")])
    assert frames.min() >= 8 and frames.max() == 20
    theory = np.log(41 / 20) / np.log(41 / 8)
    assert abs((frames == 20).mean() - theory) < 0.05


def test_verticals_make_labels_co_occur_and_vocabulary_is_long_tailed(tiny):
    vocab = [line.split(",") for line in (tiny / "vocabulary.csv").read_text().splitlines()[1:]]
    vertical = np.array([int(row[5].rsplit(" ", 1)[1]) for row in vocab])
    count = np.array([int(row[1]) for row in vocab])
    assert sorted(set(vertical.tolist())) == list(range(5))
    exs = load(tiny, "train")
    labels = [e.labels for e in exs]
    assert count.tolist() == np.bincount(np.concatenate(labels), minlength=40).tolist()
    same = [vertical[a] == vertical[b] for y in labels for i, a in enumerate(y) for b in y[i + 1:]]
    share = count / count.sum()
    chance = sum(share[vertical == v].sum() ** 2 for v in range(5))  # independent labels
    assert np.mean(same) > chance + 0.25, (np.mean(same), chance)
    top = np.sort(count)[::-1]
    assert top[:4].sum() > 0.3 * count.sum() and top[0] > 8 * max(top[-1], 1)  # long tail
    assert 2.7 < np.mean([y.size for y in labels]) < 3.3


def _means(exs, k):
    x = np.stack([np.concatenate([e.features["mean_rgb"], e.features["mean_audio"]])
                  for e in exs]).astype(np.float64)
    y = np.zeros((len(exs), k))
    for i, e in enumerate(exs):
        y[i, e.labels] = 1
    return x, y


def test_a_linear_model_on_means_beats_the_class_prior(tiny):
    xt, yt = _means(load(tiny, "train"), 40)
    xv, yv = _means(load(tiny, "validate"), 40)
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    a, b = np.c_[(xt - mu) / sd, np.ones(len(xt))], np.c_[(xv - mu) / sd, np.ones(len(xv))]
    w = np.linalg.solve(a.T @ a + 10.0 * np.eye(a.shape[1]), a.T @ yt)  # ridge
    prior = gap(np.tile(yt.mean(0), (len(yv), 1)), yv)
    linear = gap(b @ w, yv)
    assert linear > prior + 0.15, (linear, prior)


def test_flip_hides_evidence_from_means_but_not_from_frames(tmp_path):
    """At flip = 0.5 the class's mean shift vanishes; single frames still show it."""
    aucs = {}
    for flip in (0.0, 0.5):
        cfg = SynthConfig(seed=3, **{**TINY, "train_videos": 600, "validate_videos": 0,
                                     "flip": flip, "distractor": 0.0, "rgb_size": 64})
        generate(tmp_path / str(flip), cfg)
        exs = load(tmp_path / str(flip), "train", "frame")
        model = V2(np.random.default_rng(3), cfg)  # same seed: the same class directions
        u = model.dirs["rgb"][0]
        y = np.array([0 in e.labels for e in exs])
        proj = [dequantize(e.features["rgb"]) @ u for e in exs]  # (T,) per video
        mean_score = np.array([p.mean() for p in proj])
        frame_score = np.array([np.abs(p - np.median(p)).max() for p in proj])
        aucs[flip] = [(s[y][:, None] > s[~y][None, :]).mean() for s in (mean_score, frame_score)]
    assert aucs[0.0][0] > 0.75 and aucs[0.0][1] > 0.85, aucs
    assert abs(aucs[0.5][0] - 0.5) < 0.1 and aucs[0.5][1] > 0.85, aucs


@pytest.mark.parametrize("r", [0, 3])
def test_concepts_set_the_rank_of_the_class_directions(r):
    cfg = SynthConfig(**{**TINY, "concepts": r})
    u = V2(np.random.default_rng(0), cfg).dirs["rgb"]  # (40, 24)
    assert u.shape == (40, 24) and np.linalg.matrix_rank(u) == (r or 24)
    assert 0.5 < float((u * u).sum(1).mean()) / 24 < 1.5  # E|u_k|^2 = D


def test_presets_follow_the_medium_scale():
    m = SYNTH_PRESETS["medium"]
    assert (m.rgb_size, m.audio_size, m.max_frames, m.generator_version) == (1024, 128, 300, 2)
    assert m.train_videos >= 10_000 and m.validate_videos == 2_000 and m.test_videos == 1_000
    assert 200 <= m.num_classes <= 900
    p = SYNTH_PRESETS["proxy"]
    assert (p.rgb_size, p.audio_size, p.max_frames) == (1024, 128, 300)
    assert p.train_videos * p.labels_per_video / p.num_classes == pytest.approx(
        m.train_videos * m.labels_per_video / m.num_classes)  # examples per class


def test_the_reported_medium_draw_differs_from_the_calibration_draw_by_its_seed_only():
    reported, calibration = SYNTH_PRESETS["medium"], SYNTH_PRESETS["medium-calibration"]
    assert reported.seed != calibration.seed
    assert replace(reported, seed=calibration.seed) == calibration


def test_version_one_config_keeps_its_dataset_json_fields():
    cfg = SynthConfig(generator_version=1)
    assert "flip" not in cfg.to_dict() and "generator_version" not in cfg.to_dict()
    assert "flip" in SynthConfig().to_dict()


SMALL_CACHE = SynthConfig(seed=2, **{**TINY, "train_videos": 12, "validate_videos": 4,
                                     "test_videos": 2, "rgb_size": 8, "audio_size": 4})


def test_cache_generates_once_then_reuses(tmp_path, monkeypatch):
    calls = []

    class FakeFitted:  # one fit on train, then each split scored
        def __init__(self, train, *, feature_sizes, num_classes, seed=0, feature_names):
            calls.append(("fit", os.path.basename(train), seed))
            assert list(feature_sizes) == [8, 4] and num_classes == 40
            assert tuple(feature_names) == ("rgb", "audio")  # as dataset.json names them
            self.l2 = 0.1

        def gaps(self, evaluate, labels_csv=None):
            calls.append(("gaps", os.path.basename(evaluate), labels_csv))
            return {"class_prior": 0.25, "linear_means": 0.5}
    monkeypatch.setattr(baselines, "FittedBaselines", FakeFitted)
    root = cached_dataset(SMALL_CACHE, tmp_path, name="tiny", baselines=baselines.record_baselines)
    assert root.parent == tmp_path / "synth" and root.name.startswith("tiny-v2-")
    before = files(root)
    other = tmp_path / "direct"
    generate(other, SMALL_CACHE)
    direct = files(other)
    meta = json.loads(before.pop("dataset.json"))
    gaps = meta.pop("baselines")
    assert before == {k: v for k, v in direct.items() if k != "dataset.json"}
    assert meta == json.loads(direct["dataset.json"])  # generate()'s files, plus baselines
    want = {"class_prior": 0.25, "linear_means": 0.5}
    assert gaps == {"validate": want, "test": want, "seed": 0, "l2": 0.1,
                    "protocol": baselines.LINEAR_PROTOCOL}
    assert [c[:2] for c in calls] == [("fit", "train*.tfrecord"), ("gaps", "validate*.tfrecord"),
                                      ("gaps", "test*.tfrecord")]
    assert calls[1][2] is None and os.path.basename(calls[2][2]) == "test_labels.csv"

    def fail(*args, **kwargs):
        raise AssertionError("regenerated")
    monkeypatch.setattr(synth, "generate", fail)
    assert cached_dataset(SMALL_CACHE, tmp_path, name="tiny") == root
    assert [p.name for p in (tmp_path / "synth").iterdir()] == [root.name]
    monkeypatch.setenv(synth.CACHE_ENV_VAR, str(tmp_path))
    assert cached_dataset(SMALL_CACHE, name="tiny") == root
    other_seed = replace(SMALL_CACHE, seed=9)
    assert synth.config_hash(other_seed) != synth.config_hash(SMALL_CACHE)


def test_interrupted_generation_leaves_nothing_that_is_reused(tmp_path, monkeypatch):
    real = synth.generate

    def interrupted(out, cfg):
        (out / "frame").mkdir(parents=True)
        (out / "frame" / "train0000.tfrecord").write_bytes(b"half")
        raise KeyboardInterrupt
    monkeypatch.setattr(synth, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cached_dataset(SMALL_CACHE, tmp_path, baselines=False)
    assert list((tmp_path / "synth").iterdir()) == []
    # a leftover of a killed process (no cleanup ran) is removed, never reused
    final = f"custom-v2-{synth.config_hash(SMALL_CACHE)[:12]}"
    dead = tmp_path / "synth" / f".{final}.tmp-999999999"
    (dead / "frame").mkdir(parents=True)
    monkeypatch.setattr(synth, "generate", real)
    root = cached_dataset(SMALL_CACHE, tmp_path, baselines=False)
    assert not dead.exists() and root.name == final
    assert json.loads((root / "dataset.json").read_text())["config"]["seed"] == 2


def test_cache_rejects_a_folder_with_another_config(tmp_path):
    root = cached_dataset(SMALL_CACHE, tmp_path, baselines=False)
    meta = json.loads((root / "dataset.json").read_text())
    meta["config"]["seed"] = 7
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="another configuration"):
        cached_dataset(SMALL_CACHE, tmp_path, baselines=False)
    with pytest.raises(ValueError, match="unknown synthetic preset 'large'"):
        cached_dataset("large", tmp_path)


def test_cli_preset_prints_the_cached_folder(tmp_path, capsys, monkeypatch):
    args = ["data", "synth", "--preset", "proxy", "--cache-dir", str(tmp_path),
            "--rgb-size", "8", "--audio-size", "4", "--train-videos", "6",
            "--validate-videos", "2", "--num-classes", "10", "--num-verticals", "3",
            "--min-frames", "3", "--max-frames", "5", "--max-duration", "9"]
    assert main(args + ["--no-baselines"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith(str(tmp_path / "synth" / "proxy-v2-"))
    meta = json.loads((tmp_path / "synth" / os.path.basename(printed) / "dataset.json")
                      .read_text())
    assert meta["generator_version"] == 2 and meta["config"]["flip"] == \
        SYNTH_PRESETS["proxy"].flip
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == printed  # reused, not regenerated
    class FakeFitted:
        l2 = 0.1

        def __init__(self, *args, **kwargs):
            pass

        def gaps(self, *args, **kwargs):
            return {"class_prior": 0.25, "linear_means": 0.5}
    monkeypatch.setattr(baselines, "FittedBaselines", FakeFitted)
    assert main(args + ["--baselines"]) == 0  # added to the cached set
    assert "baselines on validate: class prior GAP 0.2500" in capsys.readouterr().out
    assert "baselines" in json.loads((tmp_path / "synth" / os.path.basename(printed) /
                                      "dataset.json").read_text())
    out = tmp_path / "direct"
    assert main(["data", "synth", "--out", str(out), "--baselines"] + args[6:]) == 0
    assert "baselines on validate: class prior GAP" in capsys.readouterr().out
    gaps = json.loads((out / "dataset.json").read_text())["baselines"]
    fake = {"class_prior": 0.25, "linear_means": 0.5}
    assert gaps == {"validate": fake, "test": fake, "seed": 0, "l2": 0.1,  # SynthConfig() has a
                    "protocol": baselines.LINEAR_PROTOCOL}  # test split
    assert main(["data", "synth", "--seed", "1"]) == 2
    assert "needs --out DIR, or --preset NAME" in capsys.readouterr().err
