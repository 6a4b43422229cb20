"""fig-scaling: nested, deterministic training subsets at equal steps, and a tiny end-to-end run."""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

import pytest

from circlearn.data.synth import SynthConfig, generate
from circlearn.experiments import experiment_configs, reproduce, scaling
from circlearn.plotting.scaling import paper_differences, scaling_rows


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """4 train shards of 32 videos (one batch of the quick scale each)."""
    root = tmp_path_factory.mktemp("tiny-scaling")
    generate(root, SynthConfig(seed=3, num_classes=12, rgb_size=16, audio_size=4,
                               train_videos=128, validate_videos=24, test_videos=16, shards=4,
                               min_frames=4, max_frames=20))
    return root


def test_subsets_are_nested_prefixes_of_the_sorted_shards():
    files = [f"train{i:04d}.tfrecord" for i in range(16)]
    shuffled = random.Random(0).sample(files, len(files))
    subsets = [scaling.train_files(shuffled, f) for f in scaling.FRACTIONS]
    assert [len(s) for s in subsets] == [4, 8, 16]
    assert subsets[0] == files[:4] and subsets[1] == files[:8] and subsets[2] == files
    assert subsets == [scaling.train_files(list(reversed(files)), f) for f in scaling.FRACTIONS]


@pytest.mark.parametrize("count,fraction", [(6, Fraction(1, 4)), (1, Fraction(1, 2)),
                                            (4, Fraction(0)), (4, Fraction(3, 2))])
def test_a_fraction_that_is_not_whole_shards_is_refused(count, fraction):
    with pytest.raises(ValueError, match=r"train file\(s\)|in \(0, 1\]"):
        scaling.train_files([f"t{i}" for i in range(count)], fraction)


def test_steps_not_epochs_are_held_fixed():
    assert [scaling.scaled_epochs(8, f) for f in scaling.FRACTIONS] == [32, 16, 8]
    with pytest.raises(ValueError, match="not a whole number"):
        scaling.scaled_epochs(3, Fraction(2, 3))


def test_configs_take_nested_files_and_more_epochs(tiny, tmp_path):
    cfgs = {Path(c.run_dir).parent.name: c for c in experiment_configs(
        "fig-scaling", "quick", tmp_path, data=str(tiny), epochs=2)}
    assert len(cfgs) == 12  # 2 poolings x 2 FCs x 3 sizes
    quarter, half, full = (cfgs[scaling.variant_name("dbof", f)] for f in scaling.FRACTIONS)
    q, h = quarter.train_data.split(","), half.train_data.split(",")
    assert len(q) == 1 and len(h) == 2 and h[:1] == q
    assert full.train_data.endswith("train*.tfrecord")
    assert (quarter.num_epochs, half.num_epochs, full.num_epochs) == (8, 4, 2)
    dense, compact = cfgs["netvlad-50pct"], cfgs["netvlad-fc-circulant-50pct"]
    assert dense.train_data == compact.train_data and compact.model.fc == "circulant"
    again = experiment_configs("fig-scaling", "quick", tmp_path, data=str(tiny), epochs=2)
    assert [c.train_data for c in again] == [c.train_data for c in cfgs.values()]


def test_tiny_end_to_end(tiny, tmp_path):
    out = tmp_path / "out"
    results = reproduce("fig-scaling", "quick", out, seeds=2, data=str(tiny), epochs=1,
                        baselines=False, log=lambda m: None)
    by = {v["name"]: v for v in results["variants"]}
    assert [by[scaling.variant_name("dbof", f)]["train_videos"] for f in scaling.FRACTIONS] \
        == [32, 64, 128]
    steps = {v["steps"] for v in results["variants"]}
    assert steps == {4}, steps  # 128 videos / batch 32: 4 steps at every size
    assert results["epochs"] == 1 and "1/f epochs" in results["protocol"]
    assert len(results["comparisons"]) == 6 and len(results["comparisons_test"]) == 6
    assert all(c["verdict_holm"] is not None for c in results["comparisons"])
    rows = scaling_rows(results)
    assert {(r["pooling"], r["train_videos"]) for r in rows} == {
        (p, n) for p in ("dbof", "netvlad") for n in (32, 64, 128)}
    table = (out / "table.md").read_text()
    assert "| dbof | 32 | 4 |" in table and "Circulant FC − dense FC on test" in table
    assert f"netvlad {paper_differences()['netvlad']:+.3f}" in table
    slopes = scaling.trend(results)
    assert set(slopes) == {"dbof", "netvlad"} and all(t["seeds"] == 2 for t in slopes.values())
    assert f"dbof {slopes['dbof']['slope']:+.4f} [{slopes['dbof']['ci95'][0]:+.4f}" in table
    assert (out / "figure.png").stat().st_size > 10_000
    saved = json.loads((out / "results.json").read_text())
    assert saved["data"]["train"] == "frame/train*.tfrecord"
    assert by["dbof-25pct"]["epochs"] == 4 and by["dbof-100pct"]["epochs"] == 1


def test_trend_is_the_mean_per_seed_slope_per_doubling():
    """d_s(n) = a_s + b_s · log2 n: the trend is the mean of b_s, with its t-interval over seeds."""
    import numpy as np

    from circlearn.experiments.stats import t_quantile

    slopes_by_seed = [0.010, 0.004, -0.002]
    variants = []
    for f in scaling.FRACTIONS:
        n = int(2000 * f)
        for preset in ("netvlad", "netvlad-fc-circulant"):
            runs = [{"seed": s, "gap": 0.6, "test_gap": 0.5} if preset == "netvlad" else
                    {"seed": s, "gap": 0.6 - 0.05 + b * np.log2(n) + 0.001 * s,
                     "test_gap": 0.5 - 0.01} for s, b in enumerate(slopes_by_seed)]
            variants.append({"name": scaling.variant_name(preset, f), "train_videos": n,
                             "runs": runs})
    t = scaling.trend({"variants": variants})
    assert set(t) == {"netvlad"} and t["netvlad"]["seeds"] == 3
    assert t["netvlad"]["slope"] == pytest.approx(np.mean(slopes_by_seed))
    half = t_quantile(0.975, 2) * np.std(slopes_by_seed, ddof=1) / np.sqrt(3)
    assert t["netvlad"]["ci95"] == pytest.approx([0.004 - half, 0.004 + half])
    assert scaling.trend({"variants": variants}, "test_gap")["netvlad"]["slope"] == \
        pytest.approx(0.0, abs=1e-12)  # a constant test difference: no trend
