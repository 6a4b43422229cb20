"""fig-compress: its variants and epochs, reuse of fig-embeddings' dense runs, and a tiny
end-to-end run (two phases, the projection's GAP, resume, worker processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from circlearn.data import samples
from circlearn.data.layout import resolve_data
from circlearn.data.synth import SynthConfig, generate
from circlearn.experiments import compression, experiment_configs, reproduce
from circlearn.experiments.registry import get_experiment
from circlearn.experiments.reuse import config_differences
from circlearn.experiments.runner import _phases

TINY_MODEL = {"hidden_size": 8, "n_bagging": 1, "iterations": 4}
TINY_TRAIN = {"batch_size": 32, "tensorboard": False}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """2 train shards of 64 videos (2 batches of 32 each), labelled validate and test."""
    root = tmp_path_factory.mktemp("tiny-compress")
    generate(root, SynthConfig(seed=5, num_classes=12, rgb_size=16, audio_size=4,
                               train_videos=128, validate_videos=24, test_videos=16, shards=2,
                               min_frames=4, max_frames=20))
    return root


@pytest.fixture(scope="module")
def two_seeds(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("fig-compress")
    logged = []
    results = reproduce(compression.NAME, "quick", out, seeds=2, epochs=1, data=str(tiny),
                        model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN,
                        log=logged.append)
    return out, results, logged


@pytest.mark.parametrize("scale", ["quick", "medium"])
def test_dense_runs_are_fig_embeddings_runs_and_epochs_follow_the_rule(scale, tmp_path):
    layout = resolve_data(samples.path("yt8m"))  # the scale's settings on the bundled data
    ours = {Path(c.run_dir).parent.name: c for c in experiment_configs(
        compression.NAME, scale, tmp_path / "a", seed=2, layout=layout)}
    theirs = {Path(c.run_dir).parent.name: c for c in experiment_configs(
        "fig-embeddings", scale, tmp_path / "b", seed=2, layout=layout)}
    e = ours["dbof"].num_epochs
    n = compression.fine_tune_epochs(e)
    assert n == -(-e // 4) and n >= 1
    for p in compression.POOLINGS:
        assert config_differences(ours[p].to_dict(), theirs[p].to_dict()) == []
        for k in compression.KINDS:
            scratch, tuned = ours[f"{p}-scratch-{k}"], ours[f"{p}-fine-tuned-{k}"]
            assert scratch.num_epochs == e + n and tuned.num_epochs == n
            assert scratch.model == tuned.model == ours[f"{p}-projected-{k}"].model
            assert scratch.model.fc == k
            assert config_differences(scratch.model.to_dict(),
                                      ours[p].model.replace(fc=k).to_dict()) == []


def test_claims_and_phases():
    exp = get_experiment(compression.NAME)
    assert [(a, b) for a, b, _ in exp.claims] == [
        (f"{p}-scratch-{k}", f"{p}-fine-tuned-{k}")
        for p in compression.POOLINGS for k in compression.KINDS]
    tasks = [(s, v, None) for s in range(2) for v in exp.variants]
    first, later = _phases(tasks)
    assert {tasks[i][1].stage.kind for i in first} == {"dense", "scratch"}
    assert {tasks[i][1].stage.kind for i in later} == {"projected", "fine-tuned"}
    assert sorted(first + later) == list(range(len(tasks)))


def test_max_steps_is_refused(tmp_path):
    with pytest.raises(ValueError, match="max_steps"):
        experiment_configs(compression.NAME, "quick", tmp_path, train_overrides={"max_steps": 2})


def test_tiny_run(two_seeds):
    out, results, logged = two_seeds
    v = {x["name"]: x for x in results["variants"]}
    for p in compression.POOLINGS:
        for k in compression.KINDS:
            tuned, proj = v[f"{p}-fine-tuned-{k}"], v[f"{p}-projected-{k}"]
            scratch = v[f"{p}-scratch-{k}"]
            assert scratch["steps"] == v[p]["steps"] + tuned["steps"]  # equal steps
            assert proj["steps"] == 0 and proj["epochs"] == 0 and tuned["source"] == p
            for rt, rp, rd in zip(tuned["runs"], proj["runs"], v[p]["runs"]):
                assert rt["dense_gap"] == pytest.approx(rd["gap"], abs=1e-12)
                assert rt["projected_gap"] == pytest.approx(rp["gap"], abs=1e-12)
                assert rp["test_gap"] is not None and rt["test_gap"] is not None
            report = json.loads((out / "runs" / tuned["name"] / "seed1" / "compress.json")
                                .read_text())
            assert Path(report["source"]) == out / "runs" / p / "seed1"
            assert report["fc"] == k and report["fine_tune_epochs"] == 1
    for key in ("comparisons", "comparisons_test"):
        assert len(results[key]) == 4 and all("verdict_holm" in c for c in results[key])
    assert "N = ceil(1/4) = 1" in results["protocol"]
    table = (out / "table.md").read_text()
    assert "epochs trained" in table and (out / "figure.png").stat().st_size > 0


def test_rerun_reuses_every_run(two_seeds, tiny):
    out, results, _ = two_seeds
    again = reproduce(compression.NAME, "quick", out, seeds=2, epochs=1, data=str(tiny),
                      model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN,
                      log=lambda m: None)
    assert len(again["provenance"]["reused"]) == 2 * len(results["variants"])
    for ours, theirs in zip(again["variants"], results["variants"]):
        assert [r["gap"] for r in ours["runs"]] == [r["gap"] for r in theirs["runs"]]


@pytest.mark.slow  # worker processes start slowly (about 30 s on two shared cores)
def test_worker_processes_run_the_phases_in_order(two_seeds, tiny, tmp_path):
    _, results, _ = two_seeds
    par = reproduce(compression.NAME, "quick", tmp_path, seeds=1, epochs=1, data=str(tiny),
                    model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, baselines=False,
                    jobs=2, log=lambda m: None)
    for ours, theirs in zip(par["variants"], results["variants"]):
        assert ours["runs"][0]["curve"] == theirs["runs"][0]["curve"]
        assert ours["runs"][0]["test_gap"] == theirs["runs"][0]["test_gap"]
