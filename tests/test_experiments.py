"""The paper experiments at tiny size: seeds, statistics, baselines, --data (the full quick
run is ``make demo``)."""

from __future__ import annotations

import json
import shutil

import pytest

from circlearn.cli import main
from circlearn.data import samples
from circlearn.data.layout import resolve_data
from circlearn.experiments import EXPERIMENTS, SCALES, experiment_configs, reproduce
from circlearn.experiments.baselines import LINEAR_PROTOCOL
from circlearn.experiments.evidence import complete
from circlearn.experiments.report import format_table
from circlearn.experiments.stats import STOPPING_RULE, VERDICTS, holm_verdicts
from circlearn.plotting.paper import PAPER_CURVES

TINY_MODEL = {"hidden_size": 8, "n_bagging": 1, "iterations": 4}
TINY_TRAIN = {"max_steps": 2, "eval_every_steps": 2, "batch_size": 50, "tensorboard": False}


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """fig-dc-cd, 2 seeds, 2 steps each, with baselines (shared by several tests); the
    output folder, the results and the lines logged."""
    out = tmp_path_factory.mktemp("dc-cd")
    logged = []
    results = reproduce("fig-dc-cd", "quick", out, seeds=2, epochs=1, model_overrides=TINY_MODEL,
                        train_overrides=TINY_TRAIN, log=logged.append)
    return out, results, logged


def test_results_format(two_seeds):
    out, results, _ = two_seeds
    saved = json.loads((out / "results.json").read_text())
    assert saved["seeds"] == [0, 1] and saved["synthetic"] is True
    assert saved["protocol"].endswith("this run: 1 epochs instead of 10 (--epochs)")
    assert set(saved["baselines"]) == {"class_prior", "linear_means"}
    assert 0 < saved["baselines"]["class_prior"] < saved["baselines"]["linear_means"] < 1
    assert set(saved["baselines_test"]) == {"class_prior", "linear_means"}
    prov = saved["provenance"]
    assert prov["generator_version"] == 1 and len(prov["data_sha256"]) == 64
    for v in saved["variants"]:
        assert {"name", "preset", "overrides", "runs", "gap_mean", "gap_std", "gap", "curve",
                "params", "model_mb", "videos_per_s", "test_gap_mean"} <= set(v)
        assert [r["seed"] for r in v["runs"]] == [0, 1]
        gaps = [r["gap"] for r in v["runs"]]
        assert v["gap"] == v["gap_mean"] == pytest.approx(sum(gaps) / 2)
        assert v["gap_std"] == pytest.approx(abs(gaps[0] - gaps[1]) / 2 ** 0.5)
        assert (out / "runs" / v["name"] / "seed1" / "metrics.jsonl").is_file()
        assert v["vs_linear_means"]["verdict"] in VERDICTS
    c, c_output = saved["comparisons"]  # learned D vs ±1 on the input, vs ±1 after C
    assert (c["a"], c["b"], c["claim"]) == ("dbof-fc-circulant-sign", "dbof-fc-circulant",
                                            "b better than a")
    assert (c_output["a"], c_output["b"]) == ("dbof-fc-circulant-sign-output",
                                              "dbof-fc-circulant")
    assert c["verdict"] in VERDICTS and len(c["ci95"]) == 2 and c["margin"] is None
    runs = {v["name"]: v["runs"] for v in saved["variants"]}
    diffs = [b["gap"] - a["gap"] for a, b in zip(runs[c["a"]], runs[c["b"]])]
    assert c["diff_mean"] == pytest.approx(sum(diffs) / 2)
    assert len(saved["comparisons_test"]) == 2
    table = (out / "table.md").read_text()
    assert table == format_table(saved) and "±" in table and c["verdict"] in table
    assert "synthetic" in table and "Baselines (validate)" in table
    assert (out / "figure.png").stat().st_size > 10_000


def test_results_carry_p_values_holm_and_the_stopping_rule(two_seeds):
    out, _, logged = two_seeds
    saved = json.loads((out / "results.json").read_text())
    assert saved["primary_split"] == "validate"
    stop = saved["stopping"]
    assert stop["rule"] == STOPPING_RULE and stop["threshold"] == 0.003
    assert stop["budget"]["epochs"] == 1 and stop["budget"]["steps"] == 2
    assert stop["budget"]["base_learning_rate"] == SCALES["quick"]["train"]["base_learning_rate"]
    for key in ("comparisons", "comparisons_test"):
        family = saved[key]
        assert [c["verdict_holm"] for c in family] == holm_verdicts(family)
        for c in family:
            assert 0 <= c["p_holds"] <= 1 and c["p_holds"] + c["p_fails"] == pytest.approx(1)
    for v in saved["variants"]:
        # one evaluation per run (2 steps, evaluated at step 2): no gain, not flat, warned
        assert len(v["curve"]) == 1 and v["plateau_gain"] is None and v["plateau"] is False
        assert v["vs_linear_means"]["verdict_holm"] in VERDICTS
        assert any(line.startswith(f"[fig-dc-cd] warning: {v['name']} has not flattened")
                   for line in logged)
    assert stop["converged"] is False and stop["not_flat"] == [v["name"] for v in
                                                               saved["variants"]]
    table = (out / "table.md").read_text()
    assert "**Not converged**: 3 of 3 variants have not flattened (✗)" in table
    assert "| – ✗ |" in table and "Holm verdict" in table and "test is the check" in table
    assert "Comparisons on validate, the primary split" in table


def test_results_without_the_derived_fields_are_completed_from_their_runs(two_seeds):
    """An older results.json (no p-values, Holm verdicts, plateau or stopping fields) gets
    the same values from its stored runs, and renders the same table."""
    out, _, _ = two_seeds
    saved = json.loads((out / "results.json").read_text())
    old = {k: v for k, v in saved.items() if k not in ("primary_split", "stopping")}
    derived = ("p_holds", "p_fails", "verdict_holm")
    for key in ("comparisons", "comparisons_test"):
        old[key] = [{k: v for k, v in c.items() if k not in derived} for c in saved[key]]
    old["variants"] = [{**{k: x for k, x in v.items() if k not in ("plateau_gain", "plateau")},
                        "vs_linear_means": {k: x for k, x in v["vs_linear_means"].items()
                                            if k not in derived}} for v in saved["variants"]]
    assert "p_holds" not in old["comparisons"][0] and "stopping" not in old
    assert complete(old) == saved and list(complete(old)) == list(saved)
    assert format_table(old) == (out / "table.md").read_text()


def test_seed_changes_run_and_same_seed_repeats(two_seeds, tmp_path):
    out, results, _ = two_seeds
    v = results["variants"][0]
    assert v["runs"][0]["curve"] != v["runs"][1]["curve"]
    again = reproduce("fig-dc-cd", "quick", tmp_path, seeds=1, epochs=1,
                      model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, baselines=False,
                      log=lambda m: None)
    assert again["variants"][0]["runs"][0]["curve"] == v["runs"][0]["curve"]
    assert again["comparisons"][0]["ci95"] is None
    assert again["comparisons"][0]["verdict"] == "undecided at this sample size"


def test_seed_sets_data_order_and_signs_not_eval_sampler(tmp_path):
    c0 = experiment_configs("fig-dc-cd", "quick", tmp_path, seed=0)
    c1 = experiment_configs("fig-dc-cd", "quick", tmp_path, seed=1)
    assert [c.seed for c in c0] == [0, 0, 0] and [c.seed for c in c1] == [1, 1, 1]
    assert c1[2].model.sign_seed != c0[2].model.sign_seed  # the sign-output variant too
    assert c0[2].model.fc == "circulant-sign-output"
    assert c1[1].model.sign_seed != c0[1].model.sign_seed
    assert c1[1].model.eval_seed == c0[1].model.eval_seed
    assert c1[0].run_dir.endswith("runs/dbof-fc-circulant/seed1")


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_matches_the_paper_panels(tmp_path, name):
    names = [v.name for v in EXPERIMENTS[name].variants]
    # every paper curve has its variant; fig-dc-cd adds a curve beyond the paper's two: the
    # fixed signs on the input (Cheng et al.), beside the authors' placement after C
    assert len(set(names)) == len(names)
    if name == "fig-dc-cd":
        assert list(PAPER_CURVES[name]) == ["dbof-fc-circulant", "dbof-fc-circulant-sign-output"]
        assert names == ["dbof-fc-circulant", "dbof-fc-circulant-sign",
                         "dbof-fc-circulant-sign-output"]
    else:
        assert names == list(PAPER_CURVES[name])
    for a, b, _ in EXPERIMENTS[name].claims:
        assert a in names and b in names
    assert len(experiment_configs(name, "quick", tmp_path)) == len(names)


def test_compact_variants_have_fewer_parameters(tmp_path):
    from circlearn.models import VideoClassifier, count_parameters

    cfgs = experiment_configs("fig-embeddings", "quick", tmp_path)
    params = {c.preset: count_parameters(VideoClassifier(c.model, device="meta")) for c in cfgs}
    for pooling in ("dbof", "netvlad", "netfv"):
        assert params[f"{pooling}-fc-circulant"] < params[pooling]


def _copy_sample(tmp_path, keep_json=True, keep_vocab=True):
    root = tmp_path / "set"
    shutil.copytree(samples.path("yt8m"), root)
    if not keep_json:
        (root / "dataset.json").unlink()
    if not keep_vocab:
        (root / "vocabulary.csv").unlink()
    return root


def test_data_sizes_from_dataset_json_in_dir_or_parent(tmp_path):
    root = _copy_sample(tmp_path)
    for given in (root, root / "frame"):
        layout = resolve_data(given)
        assert layout.feature_sizes == (128, 16) and layout.num_classes == 50
        assert layout.frame_dir == root / "frame" and layout.test_labels == root / "test_labels.csv"
    cfg = experiment_configs("fig-layers", "paper", tmp_path / "out", data=str(root / "frame"))[0]
    assert cfg.model.feature_sizes == (128, 16) and cfg.model.num_classes == 50
    assert cfg.model.cluster_sizes == (8192,) and cfg.num_epochs == 7


def test_data_sizes_from_first_record_and_vocabulary(tmp_path):
    root = _copy_sample(tmp_path, keep_json=False)
    layout = resolve_data(root / "frame")
    assert (layout.feature_names, layout.feature_sizes, layout.num_classes) == \
        (("rgb", "audio"), (128, 16), 50)
    assert "vocabulary.csv" in layout.source and layout.generator_version is None


def test_data_without_sizes_is_a_clear_error(tmp_path):
    root = _copy_sample(tmp_path, keep_json=False, keep_vocab=False)
    with pytest.raises(FileNotFoundError, match="no dataset.json or vocabulary.csv"):
        resolve_data(root / "frame")
    with pytest.raises(FileNotFoundError, match="no train\\*.tfrecord"):
        resolve_data(tmp_path)
    assert main(["experiment", "fig-dc-cd", "--data", str(root), "--out",
                 str(tmp_path / "o")]) == 2


def test_paper_scale_needs_data(tmp_path):
    with pytest.raises(ValueError, match="--scale paper needs --data"):
        experiment_configs("fig-layers", "paper", tmp_path)
    assert SCALES["quick"]["seeds"] == 3


def test_cli_seeds(tmp_path, capsys, monkeypatch):
    import circlearn.experiments as ex

    seen = {}

    def fake(name, scale, out, **kw):
        seen.update(kw, name=name, scale=scale)
        raise ValueError("stop here")

    monkeypatch.setattr(ex, "reproduce", fake)
    assert main(["experiment", "fig-embeddings", "--seeds", "5", "--out", str(tmp_path)]) == 2
    assert seen["seeds"] == 5 and seen["name"] == "fig-embeddings"


def test_worker_processes_give_the_same_runs(two_seeds, tmp_path):
    _, results, _ = two_seeds
    par = reproduce("fig-dc-cd", "quick", tmp_path, seeds=1, epochs=1, model_overrides=TINY_MODEL,
                    train_overrides=TINY_TRAIN, baselines=False, jobs=2, log=lambda m: None)
    for ours, theirs in zip(par["variants"], results["variants"]):
        assert ours["runs"][0]["curve"] == theirs["runs"][0]["curve"]
        assert ours["runs"][0]["test_gap"] == theirs["runs"][0]["test_gap"]


def test_baselines_recorded_in_dataset_json_are_reused(tmp_path):
    root = _copy_sample(tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    meta["baselines"] = {"validate": {"class_prior": 0.25, "linear_means": 0.5},
                         "test": {"class_prior": 0.2, "linear_means": 0.4},
                         "protocol": LINEAR_PROTOCOL}
    (root / "dataset.json").write_text(json.dumps(meta))
    r = reproduce("fig-dc-cd", "quick", tmp_path / "out", seeds=1, epochs=1, data=str(root),
                  model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, log=lambda m: None)
    assert r["baselines"] == meta["baselines"]["validate"]
    assert r["baselines_test"] == meta["baselines"]["test"]
    assert r["baselines_source"].endswith("dataset.json")


def test_baselines_recorded_under_another_protocol_are_recomputed(tmp_path):
    root = _copy_sample(tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    meta["baselines"] = {"validate": {"class_prior": 0.25, "linear_means": 0.5},
                         "test": {"class_prior": 0.2, "linear_means": 0.4},
                         "protocol": {**LINEAR_PROTOCOL, "optimizer": "an older one"}}
    (root / "dataset.json").write_text(json.dumps(meta))
    r = reproduce("fig-dc-cd", "quick", tmp_path / "out", seeds=1, epochs=1, data=str(root),
                  model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, log=lambda m: None)
    assert r["baselines"] != meta["baselines"]["validate"]
    assert not r["baselines_source"].endswith("dataset.json")
    assert 0 < r["baselines"]["class_prior"] < r["baselines"]["linear_means"] < 1


def test_medium_fig_layers_embedding_is_rectangular_with_several_blocks(tmp_path):
    """The circulant DBoF embedding of medium fig-layers maps 1024 rgb features to a multiple
    of 1024 clusters (at least 2 square blocks); the other figures keep 1024 clusters."""
    from circlearn.data.layout import DataLayout

    layout = DataLayout(root=tmp_path, frame_dir=tmp_path, feature_names=("rgb", "audio"),
                        feature_sizes=(1024, 128), num_classes=400, source="test")
    layers = {c.preset: c.model for c in experiment_configs("fig-layers", "medium", tmp_path,
                                                             layout=layout)}
    clusters = {m.cluster_sizes for m in layers.values()}
    assert len(clusters) == 1  # every variant of the figure has the same shape
    (k,) = clusters.pop()
    assert k % 1024 == 0 and k // 1024 >= 2
    assert layers["dbof-video-embedding-circulant"].embedding == "circulant"
    embeddings = experiment_configs("fig-embeddings", "medium", tmp_path, layout=layout)
    assert {c.model.cluster_sizes for c in embeddings if c.model.pooling == "dbof"} == {
        (1024, 512)}


def test_table_names_a_figures_own_widths():
    """A figure whose models use other widths than the scale's (medium fig-layers' 2048 DBoF
    clusters) says so under the sizes line; the stored table says it too."""
    import json

    from circlearn.data import samples
    from circlearn.experiments.report import format_table

    stored = samples.path("results") / "medium" / "fig-layers"
    results = json.loads((stored / "results.json").read_text())
    assert results["sizes"]["clusters"]["dbof"] == [1024, 512]
    line = next(x for x in format_table(results).splitlines() if x.startswith("This figure's own"))
    assert "dbof 2048 (dbof-video, dbof-video-fc-circulant" in line
    assert line in (stored / "table.md").read_text()
    for v in results["variants"]:
        v["model"]["cluster_sizes"] = [1024, 512]
    assert "This figure's own" not in format_table(results)
