"""``circlearn bench deploy``: which models it measures, the ratios and the figure (the
measurement itself is a benchmark, run by ``circlearn bench deploy [--quick]``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from circlearn.bench import SUITES
from circlearn.bench.deploy import main, measure, report
from circlearn.bench.deploy import specs as deploy_specs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _in_the_checkout(monkeypatch):
    """The stored experiment results are read under the working directory, as `make bench`
    reads them: run from the checkout whatever directory pytest started in."""
    monkeypatch.chdir(ROOT)


def test_registered_as_a_suite():
    assert SUITES["deploy"] == "circlearn.bench.deploy"


@pytest.mark.parametrize("preset,dense", [
    ("dbof-fc-circulant", "dbof"), ("dbof-fc-circulant-sign", "dbof"),
    ("netvlad-fc-circulant", "netvlad"), ("dbof-video-moe-circulant", "dbof-video"),
    ("dbof-video-embedding-circulant", "dbof-video"), ("dbof", None), ("netfv", None)])
def test_dense_counterpart(preset, dense):
    assert deploy_specs.dense_counterpart(preset) == dense


def test_models_paper_presets_and_every_stored_scale():
    specs, notes = deploy_specs.model_specs()
    paper = {s["preset"]: s for s in specs if s["scale"] == "paper"}
    assert {"dbof", "dbof-fc-circulant", "dbof-video-moe-circulant",
            "netvlad-fc-circulant"} <= set(paper)
    assert all(paper[s["dense"]] for s in paper.values() if s["dense"])  # counterparts too
    assert {"dbof-video-embedding-circulant", "dbof-video-fc-circulant"} <= set(paper)
    assert paper["dbof-video-embedding-circulant"]["dense"] == "dbof-video"
    variant = next(s for s in specs if s["name"] == "dbof-video-all-circulant")
    cfg = variant["config"]
    assert (cfg["embedding"], cfg["fc"], cfg["classifier_layer"]) == (
        "circulant", "circulant", "circulant-plain")
    assert variant["dense"] == "dbof-video" and variant["gap"] is None
    assert any("not a paper preset" in n for n in notes)
    assert paper["dbof"]["gap"] == pytest.approx(0.861)  # the digitized final epoch
    assert paper["dbof"]["config"]["num_classes"] == 3862
    quick = [s for s in specs if s["scale"] == "quick"]
    assert {s["preset"] for s in quick} >= {"dbof", "netvlad-fc-circulant",
                                            "dbof-video-moe-circulant"}
    assert all(0 < s["gap"] < 1 and s["gap_source"].startswith("circlearn") for s in quick)
    configs = [tuple(sorted(map(str, s["config"].items()))) for s in quick]
    assert len(configs) == len(set(configs))  # a model shared by two figures is measured once
    from circlearn.models import ModelConfig

    normalised = [json.dumps(ModelConfig.from_dict(s["config"]).to_dict(), sort_keys=True)
                  for s in quick]  # also when one stored file predates a field (``rank``)
    assert len(normalised) == len(set(normalised))
    from circlearn.experiments import SCALES

    stored = {s["scale"] for s in specs}
    assert all(scale in stored or any(scale in n for n in notes) for scale in SCALES)


def _row(scale, preset, dense, mb, gap, ms):
    row = {"model": f"{preset} ({scale})", "scale": scale, "preset": preset, "dense": dense,
           "gap": gap, "gap_source": "x", "parameters": int(mb * 250_000),
           "fp32_MB": mb, "int8_MB": mb / 4, "fp16_MB": mb / 2, "torchscript_MB": mb}
    for rt in measure.RUNTIMES:
        row.update({f"{rt}_p50_ms": ms, f"{rt}_p95_ms": 1.2 * ms, f"{rt}_rss_MB": 100 + mb,
                    f"{rt}_max_abs_diff": 1e-6})
    return row


def test_ratios_and_figure(tmp_path):
    rows = [_row("paper", "dbof", None, 263.0, 0.861, 80.0),
            _row("paper", "dbof-fc-circulant", "dbof", 238.0, 0.860, 76.0),
            _row("quick", "dbof", None, 0.48, 0.74, 1.0),
            _row("quick", "dbof-fc-circulant", "dbof", 0.39, 0.71, 0.9)]
    rows[1]["pair_p50_ms"] = {"dense": 80.0, "compact": 60.0}
    ratios = report.ratios(rows)
    assert ratios[0]["onnx-fp32_p50_side_by_side_ratio"] == pytest.approx(0.75)
    assert [r["compact"] for r in ratios] == ["dbof-fc-circulant (paper)",
                                              "dbof-fc-circulant (quick)"]
    assert ratios[0]["fp32_MB_ratio"] == pytest.approx(238 / 263)
    assert ratios[1]["onnx-fp32_p50_ms_ratio"] == pytest.approx(0.9)
    text = report.markdown_tables(rows, ratios)
    assert "80.00 / 96.00" in text and "Compact / dense" in text
    from circlearn.plotting.deploy import plot_deploy

    plot_deploy(rows, tmp_path / "deploy.png")
    assert (tmp_path / "deploy.png").stat().st_size > 10_000


def test_ratios_pair_with_the_plain_preset_not_a_variant_sharing_it():
    low_rank = _row("quick", "dbof", None, 0.44, 0.69, 1.0)  # fig-structures: dbof + overrides
    low_rank["model"] = "dbof-low-rank-x16 (quick)"
    rows = [_row("quick", "dbof", None, 0.48, 0.74, 1.0), low_rank,
            _row("quick", "dbof-fc-circulant", "dbof", 0.39, 0.71, 0.9)]
    ratios = report.ratios(rows)
    assert [(r["compact"], r["dense"]) for r in ratios] == [("dbof-fc-circulant (quick)",
                                                             "dbof (quick)")]
    assert ratios[0]["fp32_MB_ratio"] == pytest.approx(0.39 / 0.48)
    assert report.ratios([low_rank, rows[2]]) == []  # no plain dbof: no pairing at all


def test_refresh_gaps_takes_the_stored_results_and_refuses_unknown_rows(tmp_path):
    import torch

    from circlearn.models import ModelConfig, VideoClassifier, count_parameters

    spec = next(s for s in deploy_specs.model_specs()[0] if s["name"] == "dbof (quick)")
    with torch.device("meta"):
        n = count_parameters(VideoClassifier(ModelConfig.from_dict(spec["config"])))
    quick = _row("quick", "dbof", None, 0.48, 0.123, 1.0)
    quick["parameters"] = n
    rows = [_row("paper", "dbof", None, 263.0, 0.861, 80.0), quick]
    payload = {"benchmark": "deploy", "notes": "Measured.", "rows": rows, "date": "2026-01-01",
               "ratios": [], "machine": {"cpu": "x", "torch": "t", "torch_threads": 1}}
    path = tmp_path / "deploy-x.json"
    path.write_text(json.dumps(payload))
    assert main(["--refresh-gaps", str(path)]) == 0
    new = json.loads(path.read_text())
    assert new["rows"][1]["gap"] == pytest.approx(spec["gap"]) != 0.123
    assert new["rows"][1]["gap_source"] == spec["gap_source"]
    assert new["rows"][0]["gap"] == 0.861  # the paper's row keeps the paper's GAP
    assert new["notes"].startswith("Measured. GAP column refreshed on ")
    md = path.with_suffix(".md").read_text()
    assert f"{spec['gap']:.3f}" in md and "2026-01-01" in md and "Compact / dense" in md
    assert path.with_suffix(".png").stat().st_size > 10_000
    assert report.refresh_gaps(path) == 0  # nothing left to change

    # a model stored by two figures is measured once, but a table measured before that
    # deduplication has a row under its second name too: it is found among every variant
    every = deploy_specs.model_specs(dedupe=False)[0]
    assert len(every) > len(deploy_specs.model_specs()[0])
    second = next(s for s in every if s["name"] == "dbof-dense (quick)")
    twin = dict(quick, model="dbof-dense (quick)", gap=0.5)
    path.write_text(json.dumps({**payload, "rows": [twin]}))
    assert report.refresh_gaps(path) == 1
    assert json.loads(path.read_text())["rows"][0]["gap"] == pytest.approx(second["gap"])

    quick["parameters"] = n + 1
    unknown = _row("quick", "dbof-nonexistent", None, 0.4, 0.5, 1.0)
    path.write_text(json.dumps({**payload, "rows": [quick, unknown]}))
    before = path.read_text()
    with pytest.raises(ValueError, match=r"dbof \(quick\): the stored result's model has "
                                         r"[\d,]+ parameters, the measured one [\d,]+; "
                                         r"dbof-nonexistent \(quick\): no stored"):
        report.refresh_gaps(path)
    assert path.read_text() == before

    # a variant an experiment now leaves out: removed on request, with its ratio, and named
    quick["parameters"] = n
    ratio = {"compact": "dbof-nonexistent (quick)", "dense": "dbof (quick)"}
    path.write_text(json.dumps({**payload, "rows": [quick, unknown], "ratios": [ratio]}))
    assert main(["--refresh-gaps", str(path), "--drop-missing"]) == 0
    new = json.loads(path.read_text())
    assert [r["model"] for r in new["rows"]] == ["dbof (quick)"] and new["ratios"] == []
    assert new["notes"].endswith("Rows without a stored result removed: "
                                 "dbof-nonexistent (quick).")
    assert "| dbof-nonexistent" not in path.with_suffix(".md").read_text()  # no table row


def test_stored_results_follow_the_argument_or_the_working_directory(tmp_path, monkeypatch):
    from circlearn.models import preset_config

    stored = tmp_path / "data_samples" / "results"
    (stored / "quick" / "fig-x").mkdir(parents=True)
    variant = {"name": "dbof-video", "preset": "dbof-video", "params": 1, "gap_mean": 0.5,
               "model": preset_config("dbof-video").to_dict()}
    (stored / "quick" / "fig-x" / "results.json").write_text(
        json.dumps({"experiment": "fig-x", "variants": [variant]}))
    (tmp_path / "elsewhere").mkdir()
    for cwd, argument in ((tmp_path, None), (tmp_path / "elsewhere", stored)):
        monkeypatch.chdir(cwd)
        specs, notes = deploy_specs.model_specs(experiment_results=argument)
        assert [s["name"] for s in specs if s["scale"] != "paper"] == ["dbof-video (quick)"]
        assert any("data_samples/results/medium/" in n for n in notes)


TINY = {"feature_sizes": (32, 8), "num_classes": 10, "hidden_size": 8, "cluster_sizes": (64,)}


def _tiny_spec(preset: str) -> dict:
    from circlearn.models import preset_config

    return {"name": preset, "scale": "tiny", "preset": preset,
            "dense": deploy_specs.dense_counterpart(preset),
            "config": preset_config(preset, **TINY).to_dict(), "gap": None, "gap_source": None}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """The ``model`` job, in a fresh process, on a tiny compact model: its measurements and
    the folder of the files it exported and timed."""
    pytest.importorskip("onnxruntime")
    work = tmp_path_factory.mktemp("deploy-job")
    spec = _tiny_spec("dbof-video-embedding-circulant")
    return spec, measure._in_fresh_process("model", [spec, str(work), 2], timeout=900,
                                           error="x"), work


def test_measurements_run_in_fresh_processes(measured):
    """``python -m circlearn.bench.deploy.measure JOB``: the peak memory of ONNX Runtime
    alone (its process refuses to have torch loaded) and two files timed side by side (the
    files of the ``model`` job)."""
    spec, _, work = measured
    d = sum(spec["config"]["feature_sizes"])
    assert measure.peak_rss("onnx-fp32", work / "model.onnx", d) > 0
    p50 = measure.pair_latency(work / "model.onnx", work / "model.fp16.onnx", d, 2, 3)
    assert set(p50) == {"dense", "compact"} and min(p50.values()) > 0  # batch 3
    with pytest.raises(RuntimeError, match="peak memory of onnx-fp32"):
        measure.peak_rss("onnx-fp32", work / "missing.onnx", d)


def test_gap_is_shown_under_the_column_of_its_source():
    # the paper's YouTube-8M GAP and circlearn's synthetic-data GAP never share a column
    paper, quick = _row("paper", "dbof", None, 263.0, 0.861, 80.0), _row("quick", "dbof", None,
                                                                         0.48, 0.74, 1.0)
    assert report.gap_cells(paper) == {report.GAP_COLUMNS[0]: "0.861", report.GAP_COLUMNS[1]: "",
                                       report.GAP_COLUMNS[2]: ""}
    assert report.gap_cells(quick)[report.GAP_COLUMNS[1]] == "0.740"
    assert not any(report.gap_cells(_row("tiny", "dbof", None, 0.1, None, 1.0)).values())
    header = next(line for line in report.markdown_tables([paper, quick], []).splitlines()
                  if line.startswith("| model | params"))
    assert report.GAP_COLUMNS[0] in header and report.GAP_COLUMNS[1] in header
    assert report.GAP_COLUMNS[2] not in header and "| GAP |" not in header


def test_rewrite_markdown_measures_nothing(tmp_path):
    rows = [_row("paper", "dbof", None, 263.0, 0.861, 80.0), _row("quick", "dbof", None, 0.48,
                                                                  0.74, 1.0)]
    payload = {"benchmark": "deploy", "notes": "Measured.", "rows": rows, "date": "2026-01-01",
               "ratios": [], "machine": {"cpu": "x", "torch": "t", "torch_threads": 1}}
    path = tmp_path / "deploy-x.json"
    path.write_text(json.dumps(payload))
    before = path.read_text()
    assert main(["--rewrite-markdown", str(path)]) == 0
    assert path.read_text() == before
    md = path.with_suffix(".md").read_text()
    assert "Measured." in md and report.GAP_NOTE in md and "| 0.861 |  |" in md


def test_one_model_measured_at_batch_1_and_32_beside_the_dft_export(measured):
    """The ``model`` job on a tiny compact model: every runtime at both batch sizes, the
    files (the DFT export among them: it holds DFT nodes, the lowered file none), the lowered
    layers; then its row and the ratios to a dense row (its measurement scaled: the pairing
    and the batch-32 ratios are arithmetic on the rows)."""
    onnx = pytest.importorskip("onnx")
    from circlearn.deploy.lowering import lowering_plan
    from circlearn.models import VideoClassifier, preset_config

    spec, m, work = measured
    specs = [_tiny_spec("dbof-video"), spec]
    assert set(m["p50_ms"]) == set(m["p50_ms_b32"]) == set(measure.RUNTIMES)
    assert max(m["max_abs_diff_b32"].values()) < 1e-2
    ops = {k: {n.op_type for n in onnx.load(str(work / measure.FILES[k])).graph.node}
           for k in ("onnx-fp32", "onnx-fp32-dft")}
    assert "DFT" in ops["onnx-fp32-dft"] and "DFT" not in ops["onnx-fp32"]
    dense_model = VideoClassifier(preset_config("dbof-video", **TINY), device="meta")
    assert lowering_plan(dense_model) == {"layers": {}, "feature_major": []}
    dense_m = {**m, "lowered": [], "feature_major": [],
               "p50_ms_b32": {k: 2 * v for k, v in m["p50_ms_b32"].items()}}
    rows = [report.flatten(s, {**mm, "peak_rss_mb": dict.fromkeys(measure.RUNTIMES, 100.0)})
            for s, mm in zip(specs, (dense_m, m))]
    assert rows[1]["lowered"] == "pooling.rgb.projection (matmul)"
    assert rows[0]["lowered"] == "none"
    assert rows[1]["feature_major"] == "pooling.rgb"
    assert rows[1]["onnx-fp32-dft_MB"] < rows[1]["fp32_MB"]  # the DFT export stores spectra
    rows[1]["pair_p50_ms_b32"] = {"dense": 2.0, "compact": 1.0}
    ratio = report.ratios(rows)[0]
    assert ratio["onnx-fp32_b32_p50_side_by_side_ratio"] == 0.5
    assert ratio["eager_b32_p50_ms_ratio"] == pytest.approx(0.5)
    text = report.markdown_tables(rows, [ratio])
    assert "## Batch-32 latency" in text and "onnx-fp32-dft p50/p95 ms" in text


def test_paper_table_shows_the_paper_rows_and_the_side_by_side_ratios():
    def row(model, scale, dense, ms):
        r = {"model": model, "scale": scale, "dense": dense, "parameters": 1234567,
             "fp32_MB": 4.94, "int8_MB": 1.25, "onnx-fp32_b32_p50_ms": 10 * ms}
        r.update({f"{rt}_p50_ms": ms for rt in ("eager", "torchscript", "onnx-fp32",
                                                "onnx-fp16", "onnx-int8")})
        return r

    payload = {"rows": [row("dbof", "paper", "dbof", 60.0),
                        row("dbof-fc-circulant", "paper", "dbof", 30.04),
                        row("dbof (quick)", "quick", "dbof", 1.0)],
               "ratios": [{"compact": "dbof-fc-circulant", "dense": "dbof",
                           "onnx-fp32_p50_side_by_side_ratio": 0.4981}]}
    lines = report.paper_table(payload).splitlines()
    assert len(lines) == 4 and "quick" not in "\n".join(lines)  # header, rule, two paper rows
    dense, compact = ([c.strip() for c in x.strip("|").split("|")] for x in lines[2:])
    assert dense[:4] == ["`dbof`", "1,234,567", "4.9 / 1.2", "60.0"] and dense[-1] == "(dense)"
    assert compact[3] == "30.0" and compact[8] == "–"  # no DFT export measured
    assert compact[9] == "300.4" and compact[-1] == "0.50× / – (vs `dbof`)"
