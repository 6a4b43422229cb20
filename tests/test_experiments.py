"""Smoke test of every paper experiment at tiny size (the full quick run is ``make demo``)."""

from __future__ import annotations

import json

import pytest

from circlearn.experiments import EXPERIMENTS, experiment_configs, format_table, reproduce
from circlearn.plotting.paper import PAPER_CURVES

TINY_MODEL = {"hidden_size": 8, "n_bagging": 1, "iterations": 4}
TINY_TRAIN = {"max_steps": 2, "eval_every_steps": 2, "batch_size": 50, "tensorboard": False}


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_experiment_smoke(tmp_path, name):
    results = reproduce(name, "quick", tmp_path, epochs=1, model_overrides=TINY_MODEL,
                        train_overrides=TINY_TRAIN, log=lambda m: None)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["experiment"] == name == results["experiment"]
    presets = [v["preset"] for v in saved["variants"]]
    assert presets == [p for p, _ in EXPERIMENTS[name].variants] == list(PAPER_CURVES[name])
    for v in saved["variants"]:
        assert {"preset", "params", "model_mb", "gap", "curve", "videos_per_s"} <= set(v)
        assert v["curve"] == [{"epoch": v["curve"][0]["epoch"], "gap": v["gap"]}]
        assert v["model_mb"] == round(4 * v["params"] / 1e6, 4) and v["videos_per_s"] > 0
    table = (tmp_path / "table.md").read_text()
    assert table == format_table(saved) and table.count("\n| ") == len(presets) + 1
    assert (tmp_path / "figure.png").stat().st_size > 10_000


def test_compact_variants_have_fewer_parameters(tmp_path):
    from circlearn.models import VideoClassifier, count_parameters

    cfgs = experiment_configs("fig-embeddings", "quick", tmp_path)
    params = {c.preset: count_parameters(VideoClassifier(c.model, device="meta")) for c in cfgs}
    for pooling in ("dbof", "netvlad", "netfv"):
        assert params[f"{pooling}-fc-circulant"] < params[pooling]


def test_paper_scale_uses_paper_sizes(tmp_path):
    (tmp_path / "train0000.tfrecord").write_bytes(b"")
    cfg = experiment_configs("fig-layers", "paper", tmp_path / "out", data=str(tmp_path))[0]
    assert cfg.model.cluster_sizes == (8192,) and cfg.model.num_classes == 3862
    assert cfg.base_learning_rate == 2e-4 and cfg.data_augmentation and cfg.num_epochs == 7
