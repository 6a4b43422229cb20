"""Experiments on any data: one pooling branch per stream, widths from the data, ``--set``."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from circlearn.cli import main
from circlearn.data import samples
from circlearn.data.layout import resolve_data
from circlearn.data.sequences import write_sequence_dataset
from circlearn.experiments import BEYOND_PAPER, EXPERIMENTS, SCALES, experiment_configs
from circlearn.experiments.adapt import data_sizes, parse_settings, refused_fields
from circlearn.experiments.registry import get_experiment

#: Every run of the command-line tests: a tiny model, 1 epoch of 6 steps.
TINY = ["--epochs", "1", "--jobs", "1", "--threads", "1", "--set", "hidden_size=8",
        "--set", "cluster_sizes=8", "--set", "batch_size=10", "--set", "tensorboard=false",
        "--set", "n_bagging=1", "--set", "iterations=4"]


def _dataset(path, streams: dict[str, int], seed: int = 0):
    """Three classes, 60/30/30 sequences of 5-11 steps, 4 train shards (fig-scaling's
    quarters), one stream per entry of ``streams`` (name → size)."""
    rng = np.random.default_rng(seed)

    def item(split, i):
        steps = int(rng.integers(5, 12))
        return (f"{split}-{i}", [i % 3],
                {s: rng.normal(i % 3, 1.0, (steps, d)) for s, d in streams.items()})

    def items(split, n):
        return [item(split, i) for i in range(n)]

    write_sequence_dataset(path, {"train": items("train", 60), "validate": items("validate", 30),
                                  "test": items("test", 30)}, shards=4)
    return path


@pytest.fixture(scope="module")
def one_stream(tmp_path_factory):
    return _dataset(tmp_path_factory.mktemp("data") / "one", {"rows": 5})


@pytest.fixture(scope="module")
def three_streams(tmp_path_factory):
    return _dataset(tmp_path_factory.mktemp("data") / "three", {"a": 4, "b": 6, "c": 3})


@pytest.mark.parametrize("name", [*EXPERIMENTS, *BEYOND_PAPER])
@pytest.mark.parametrize("data", ["one_stream", "three_streams"])
def test_every_experiment_runs_on_one_and_three_streams(name, data, request, tmp_path):
    root = request.getfixturevalue(data)
    streams = resolve_data(root).feature_names
    cluster_sizes = "8" if len(streams) == 1 else "8,8,8"
    argv = ["experiment", name, "--data", str(root), "--seeds", "2", "--out", str(tmp_path),
            *TINY]
    argv[argv.index("cluster_sizes=8")] = f"cluster_sizes={cluster_sizes}"
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["synthetic"] is False and list(results["sizes"]["streams"]) == list(streams)
    for v in results["variants"]:
        used = v["model"]["use_features"] or v["model"]["feature_names"]
        assert len(v["model"]["cluster_sizes"]) == len(used)
        assert used == (list(streams[:1]) if name == "fig-layers" else list(streams))
        assert len(v["runs"]) == 2 and v["hit_at_one_mean"] is not None
    assert results["comparisons_hit_at_one"] and results["comparisons_hit_at_one_test"]
    assert set(results["baselines_hit_at_one_test"]) == {"class_prior", "linear_means"}
    assert results["sizes"]["hidden_size"] == 8 and "hidden_size" in results["sizes"]["rule"]
    assert results["overrides"]["model"]["hidden_size"] == 8
    assert all(c["verdict_holm"] for c in results["comparisons_hit_at_one"])
    assert "Sizes: streams" in (tmp_path / "table.md").read_text()


def _layout(sizes, classes, longest, names=None):
    names = names or tuple(f"s{i}" for i in range(len(sizes)))
    return SimpleNamespace(feature_names=names, feature_sizes=tuple(sizes), num_classes=classes,
                           max_frames=longest)


def test_width_rule_gives_each_scale_its_own_widths_on_its_own_data():
    quick = data_sizes(SCALES["quick"], resolve_data(samples.path("yt8m")))
    assert quick.hidden_size == SCALES["quick"]["model"]["hidden_size"] == 64
    assert quick.clusters == {"dbof": (256, 128), "netvlad": (16, 8), "netfv": (16, 8)}
    assert quick.max_frames == SCALES["quick"]["train"]["max_frames"] == 50
    medium = data_sizes(SCALES["medium"], _layout((1024, 128), 400, 300, ("rgb", "audio")))
    assert medium.hidden_size == SCALES["medium"]["model"]["hidden_size"]
    assert medium.clusters == {"dbof": (1024, 512), "netvlad": (32, 16), "netfv": (16, 8)}
    assert medium.max_frames == SCALES["medium"]["train"]["max_frames"]


def test_width_rule_on_small_streams_and_few_classes():
    sizes = data_sizes(SCALES["quick"], _layout((13,), 10, 92))
    assert sizes.hidden_size == 64                      # pow2(40) = 64
    assert sizes.clusters["dbof"] == (128,)             # max(2 * 64, pow2(52)) = 128
    assert sizes.clusters["netvlad"] == (16,) and sizes.max_frames == 92
    three = data_sizes(SCALES["quick"], _layout((4, 200, 3), 2, 700))
    assert three.hidden_size == 16 and three.clusters["dbof"] == (32, 256, 32)
    assert three.clusters["netfv"] == (16, 8, 8) and three.max_frames == 300
    paper = data_sizes(SCALES["paper"], _layout((13, 5, 5), 10, None))
    assert paper.hidden_size is None and paper.clusters["dbof"] == (8192, 4096, 4096)
    assert paper.max_frames is None


def test_configs_follow_the_data_and_the_settings(one_stream, tmp_path):
    model, train = parse_settings(["hidden-size=32", "base_learning_rate=3e-3",
                                   "eval_sampling=all", "max_frames=20"],
                                  get_experiment("fig-structures").variants)
    configs = experiment_configs("fig-structures", "quick", tmp_path, data=str(one_stream),
                                 model_overrides=model, train_overrides=train)
    dense, thin = configs[0], configs[1]
    assert dense.model.feature_names == ("rows",) and dense.model.cluster_sizes == (32,)
    assert dense.model.hidden_size == 32 and thin.model.hidden_size < 32
    assert dense.base_learning_rate == 3e-3 and dense.max_frames == 20
    assert dense.model.eval_sampling == "all"


def test_set_parses_values_as_the_train_command_does():
    model, train = parse_settings(["cluster_sizes=64,32", "context_gating=no",
                                   "learning_rate_decay=0.5"])
    assert model == {"cluster_sizes": (64, 32), "context_gating": False}
    assert train == {"learning_rate_decay": 0.5}


@pytest.mark.parametrize("item,message", [
    ("hiden_size=3", "unknown field 'hiden_size'"),
    ("hidden_size=wide", "field hidden_size: bad value 'wide' (expected INT)"),
    ("eval_sampling=some", "field eval_sampling: 'some' is not one of random, all"),
    ("context_gating=maybe", "field context_gating: bad value 'maybe'"),
    ("fc=toeplitz", "fc cannot be set here (the figure's variants set it)"),
    ("pooling=netfv", "pooling cannot be set here"),
    ("feature_sizes=3", "feature_sizes cannot be set here (the data fixes it)"),
    ("seed=3", "seed cannot be set here (each run sets it)"),
    ("num_epochs=3", "use --epochs"),
    ("hidden_size", "expected FIELD=VALUE"),
])
def test_set_errors_name_the_item(item, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_settings([item], get_experiment("fig-embeddings").variants)


def test_set_refuses_what_a_figures_variants_set():
    assert "n_factors" in refused_fields(get_experiment("fig-structures").variants)
    assert "rank" in refused_fields(get_experiment("fig-structures").variants)
    assert "context_gating" in refused_fields(get_experiment("fig-layers").variants)
    assert "n_factors" not in refused_fields(get_experiment("fig-embeddings").variants)
    with pytest.raises(ValueError, match="given twice"):
        parse_settings(["hidden_size=3", "hidden-size=4"])


def test_set_errors_are_one_line_on_the_command_line(one_stream, tmp_path, capsys):
    argv = ["experiment", "fig-structures", "--data", str(one_stream), "--out", str(tmp_path)]
    assert main([*argv, "--set", "n_factors=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "n_factors cannot be set here (variant" in err
    assert main([*argv, "--set", "batch_size=many"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "batch_size: bad value 'many'" in err
    assert not (tmp_path / "results.json").exists()


def test_your_data_walkthrough_from_arrays_to_a_verdict(tmp_path, monkeypatch, rng):
    """The commands of the book's "Bring your own data" page (docs/your_data.md), run as
    written (the experiment shortened to 2 seeds of 1 epoch) on 1,000 random sequences in
    mine.npz."""
    import re
    import shlex
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "your_data.md").read_text()
    section = page.split("## From arrays to a verdict", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["circlearn", "data"], ["circlearn", "experiment"],
                                         ["cat", "runs/mine/fig-embeddings/table.md"]]
    lengths = rng.integers(4, 20, size=1000)
    np.savez(tmp_path / "mine.npz", X=rng.normal(size=(int(lengths.sum()), 3)),
             y=np.arange(1000) % 4, lengths=lengths)
    monkeypatch.chdir(tmp_path)
    assert main(commands[0][1:]) == 0
    assert main([*commands[1][1:], "--seeds", "2", "--epochs", "1", *TINY[4:]]) == 0
    table = Path(commands[2][1]).read_text()
    assert "Hit@1" in table and "Holm verdict" in table and "Sizes: streams features 3" in table


@pytest.mark.parametrize("data", ["one_stream", "three_streams"])
def test_recorded_baselines_read_the_data_streams(data, request, tmp_path):
    """``record_baselines`` (what ``circlearn data synth --baselines`` and the cache call)
    reads the streams that dataset.json names, not rgb/audio."""
    import shutil

    from circlearn.experiments.baselines import record_baselines

    root = tmp_path / "copy"
    shutil.copytree(request.getfixturevalue(data), root)
    out = record_baselines(root)
    assert 0.0 < out["validate"]["class_prior"] <= out["validate"]["linear_means"] <= 1.0
    assert json.loads((root / "dataset.json").read_text())["baselines"]["l2"] == out["l2"]
