"""``--variants``: an experiment with some of its curves left out (a cheaper figure), and the
reuse of a run across experiments whose configurations differ only in the preset's name."""

from __future__ import annotations

import json

import pytest

from circlearn.cli import main
from circlearn.experiments import experiment_configs, reproduce
from circlearn.experiments.registry import get_experiment
from circlearn.experiments.reuse import config_differences

TINY_MODEL = {"hidden_size": 8, "n_bagging": 1, "iterations": 4}
TINY_TRAIN = {"max_steps": 2, "eval_every_steps": 2, "batch_size": 50, "tensorboard": False}
KEPT = [f"{p}-{s}" for p in ("dbof", "netvlad") for s in (
    "dense", "thin", "circulant-k1", "circulant-k4", "toeplitz", "low-rank-x1", "low-rank-x16")]


def test_selection_keeps_the_order_and_the_claims_between_kept_variants():
    full = get_experiment("fig-structures")
    exp = get_experiment("fig-structures", list(reversed(KEPT)))
    assert [v.name for v in exp.variants] == KEPT  # the experiment's order, not the given one
    assert len(full.claims) == 16 and len(exp.claims) == 12
    assert {b for _, b, _ in exp.claims} == set(KEPT) - {"dbof-dense", "netvlad-dense"}
    assert all(c in full.claims for c in exp.claims)
    assert get_experiment("fig-structures", ["dbof-thin", "dbof-toeplitz"]).claims == ()


def test_selection_errors_name_the_problem():
    with pytest.raises(ValueError, match="fig-structures has no variant 'dbof-k3'; valid: "
                                         "dbof-dense, dbof-thin"):
        get_experiment("fig-structures", ["dbof-dense", "dbof-k3"])
    with pytest.raises(ValueError, match="needs at least one variant"):
        get_experiment("fig-embeddings", [])
    tuned = [v for v in get_experiment("fig-compress").variants
             if v.stage is not None and v.stage.source][0]
    with pytest.raises(ValueError, match=f"{tuned.name} needs {tuned.stage.source}"):
        get_experiment("fig-compress", [tuned.name])
    with pytest.raises(ValueError, match="dbof-scratch-toeplitz needs dbof$"):
        get_experiment("fig-compress", ["dbof-scratch-toeplitz"])
    assert len(get_experiment("fig-compress", ["dbof", "dbof-scratch-toeplitz"]).variants) == 2


def test_fig_structures_dense_and_one_factor_runs_are_fig_embeddings_runs(tmp_path):
    """Only the preset's name differs, so a fig-embeddings run can be copied in and reused."""
    ours = {c.run_dir.split("/runs/")[1].split("/")[0]: c.to_dict()
            for c in experiment_configs("fig-structures", "quick", tmp_path / "s", seed=1)}
    theirs = {c.run_dir.split("/runs/")[1].split("/")[0]: c.to_dict()
              for c in experiment_configs("fig-embeddings", "quick", tmp_path / "e", seed=1)}
    for p in ("dbof", "netvlad"):
        assert ours[f"{p}-circulant-k1"]["preset"] != theirs[f"{p}-fc-circulant"]["preset"]
        assert config_differences(theirs[f"{p}-fc-circulant"], ours[f"{p}-circulant-k1"]) == []
        assert config_differences(theirs[p], ours[f"{p}-dense"]) == []
        assert config_differences(theirs[p], ours[f"{p}-circulant-k1"]) == ["model.fc"]


def test_a_fig_embeddings_run_copied_into_fig_structures_is_reused(tmp_path):
    """End to end: the copied runs are taken as they are (no step trained), not retrained."""
    import shutil

    kw = dict(seeds=1, epochs=1, model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN,
              baselines=False, log=lambda m: None)
    emb = reproduce("fig-embeddings", "quick", tmp_path / "e",
                    variants=["dbof", "dbof-fc-circulant"], **kw)
    for theirs, ours in (("dbof", "dbof-dense"), ("dbof-fc-circulant", "dbof-circulant-k1")):
        shutil.copytree(tmp_path / "e" / "runs" / theirs, tmp_path / "s" / "runs" / ours)
    r = reproduce("fig-structures", "quick", tmp_path / "s",
                  variants=["dbof-dense", "dbof-circulant-k1"], **kw)
    assert [(e["variant"], e["copied"], e["experiment"]) for e in r["provenance"]["reused"]] \
        == [("dbof-dense", True, "fig-embeddings"), ("dbof-circulant-k1", True, "fig-embeddings")]
    assert [v["runs"][0]["gap"] for v in r["variants"]] == \
        [v["runs"][0]["gap"] for v in emb["variants"]]


def test_a_selected_experiment_runs_end_to_end(tmp_path):
    names = ["dbof-dense", "dbof-thin", "dbof-toeplitz"]
    r = reproduce("fig-structures", "quick", tmp_path, seeds=2, epochs=1, variants=names,
                  model_overrides=TINY_MODEL, train_overrides=TINY_TRAIN, baselines=False,
                  log=lambda m: None)
    assert [v["name"] for v in r["variants"]] == names and r["epochs"] == 1
    assert [(c["a"], c["b"]) for c in r["comparisons"]] == [
        ("dbof-dense", "dbof-thin"), ("dbof-dense", "dbof-toeplitz")]
    assert len(r["variants_left_out"]) == 15 and "netvlad-dense" in r["variants_left_out"]
    assert "; variants left out (--variants): dbof-circulant-k1, " in r["protocol"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(names)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["variants_left_out"] == r["variants_left_out"]
    assert "not adjusted** for the 2 comparisons" in (tmp_path / "table.md").read_text()


def test_cli_passes_the_selection_and_refuses_unknown_names(tmp_path, capsys, monkeypatch):
    import circlearn.experiments as ex

    seen = {}

    def fake(name, scale, out, **kw):
        seen.update(kw)
        raise ValueError("stop here")

    monkeypatch.setattr(ex, "reproduce", fake)
    argv = ["experiment", "fig-structures", "--out", str(tmp_path), "--variants"]
    assert main([*argv, "dbof-dense", "dbof-thin"]) == 2
    assert seen["variants"] == ["dbof-dense", "dbof-thin"]
    capsys.readouterr()
    assert main([*argv, "dbof-dense", "dbof-wide"]) == 2
    assert "fig-structures has no variant 'dbof-wide'" in capsys.readouterr().err


def test_cost_estimate_scales_each_variant_from_its_measured_runs():
    """benchmarks/fig_structures_cost.py: a variant's run is its pooling's measured
    one-factor run times its ratio in the older run; reused runs are not counted."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fig_structures_cost.py"
    spec = importlib.util.spec_from_file_location("fig_structures_cost", path)
    cost_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cost_module)

    def runs(seconds):
        return [{"seconds": seconds}] * 3

    emb = {"seeds": [0, 1, 2], "variants": [
        {"name": n, "runs": runs(s)} for n, s in (("dbof", 600), ("dbof-fc-circulant", 600),
                                                  ("netvlad", 400),
                                                  ("netvlad-fc-circulant", 400))]}
    old = {"variants": [{"name": n, "runs": runs(0.1 if n.endswith("-dense") else
                                                 200 if n == "netvlad-circulant-k4" else 100)}
                        for n in KEPT + ["dbof-circulant-k2", "netvlad-circulant-k2",
                                         "dbof-low-rank-x4", "netvlad-low-rank-x4"]]}
    cost = cost_module.per_run(emb, old)
    assert cost["netvlad-circulant-k4"] == 800 and cost["dbof-toeplitz"] == 600
    assert cost["netvlad-dense"] == 400  # measured, the older run reused it (0.1 s)
    kept = [n.split("-", 1)[1] for n in KEPT[:7]]
    # trained: per seed 5 DBoF runs of 600 s and NetVLAD 400 + 800 + 3 × 400 s, on 2 workers
    assert cost_module.figure_hours(cost, 3, kept, 3) == pytest.approx(
        3 * (5 * 600 + 2400) / 2 / 3600)
    assert cost_module.figure_hours(cost, 4, kept, 3) == pytest.approx(
        (3 * 5400 + 7 * 600 + 6 * 400 + 800) / 2 / 3600)  # seed 3: every run trained
