"""fig-structures: variants, budgets (thin hidden size, low-rank rank), table and figure.
(The full run is `circlearn experiment fig-structures`; here only its pieces, at tiny cost.)"""

from __future__ import annotations

import pytest

from circlearn.bench.models import batch1_latency_ms
from circlearn.experiments import BEYOND_PAPER, EXPERIMENTS, experiment_configs, structures
from circlearn.experiments.report import format_table
from circlearn.experiments.stats import NO_WORSE
from circlearn.models import VideoClassifier, preset_config
from circlearn.plotting.structures import plot_structures

QUICK = {"cluster_sizes": (256, 128), "hidden_size": 64, "feature_sizes": (128, 16),
         "num_classes": 50}


def _fc(preset, **over):
    model = VideoClassifier(preset_config(preset, **over), device="meta")
    return structures.fc_parameters(model), model


def test_variants_and_claims():
    exp = BEYOND_PAPER["fig-structures"]
    assert "fig-structures" not in EXPERIMENTS  # the paper's panels stay as they are
    names = [v.name for v in exp.variants]
    assert len(names) == len(set(names)) == 18
    assert {v.preset for v in exp.variants} == {"dbof", "netvlad"}
    assert len(exp.claims) == 16
    assert all(a.endswith("-dense") and claim == NO_WORSE for a, _, claim in exp.claims)


def test_budgets_at_paper_and_quick_shapes():
    # paper DBoF: circulant FCs 2·8192 + 2·4096 = 24,576; Σ(in + out) = 8704 + 4608
    assert structures.resolve_budget("dbof", {"rank_budget": 1}) == {"rank": 2}
    assert structures.resolve_budget("dbof", {"rank_budget": 16}) == {"rank": round(
        16 * 24576 / 13312)}
    assert structures.resolve_budget("dbof", {"thin_fc": 1}) == {"hidden_size": 2}
    circ, _ = _fc("dbof", **QUICK, fc="circulant")
    for m in (1, 4, 16):
        over = structures.resolve_budget("dbof", {**QUICK, "fc": "low-rank", "rank_budget": m})
        got, _ = _fc("dbof", **over)
        # one rank for both streams: within half a rank's worth of weights of the budget
        assert abs(got - m * circ) <= (256 + 64 + 128 + 64) / 2, (m, got, m * circ)
    thin = structures.resolve_budget("dbof", {**QUICK, "thin_fc": 1})
    assert _fc("dbof", **thin)[0] == circ == 768
    assert structures.resolve_budget("dbof", {"fc": "toeplitz"}) == {"fc": "toeplitz"}


def test_experiment_configs_apply_the_budgets(tmp_path):
    configs = experiment_configs("fig-structures", "quick", tmp_path)
    by_name = {c.run_dir.split("/runs/")[1].split("/")[0]: c.model for c in configs}
    assert by_name["dbof-low-rank-x1"].rank == 2 and by_name["dbof-low-rank-x16"].rank == 24
    assert by_name["dbof-thin"].hidden_size == 2 and by_name["dbof-thin"].fc == "dense"
    assert by_name["netvlad-circulant-k4"].n_factors == 4
    assert by_name["netvlad-toeplitz"].fc == "toeplitz"
    assert all(c.num_epochs == 10 for c in configs)
    fc = {n: _fc(m.pooling, **{k: v for k, v in m.to_dict().items()
                               if k not in ("pooling",)})[0] for n, m in by_name.items()}
    assert fc["dbof-toeplitz"] < fc["dbof-circulant-k1"] == fc["dbof-thin"] < fc["dbof-dense"]
    assert fc["netvlad-circulant-k4"] == 4 * fc["netvlad-circulant-k1"]


def test_variant_details_report_built_ranks_and_latency():
    cfg = preset_config("dbof", **{**QUICK, "hidden_size": 8}, fc="low-rank", rank=31)
    d = structures.variant_details("dbof-low-rank-x16", cfg)
    assert d["kind"] == "low-rank" and d["rank"] == "8"  # capped at min(in, out) = 8
    assert batch1_latency_ms(cfg, frames=5) > 0 and d["fc_params"] == 8 * (256 + 8) + 8 * (128 + 8)


def _fake_results():
    variants = []
    for i, (suffix, label, kind, _) in enumerate(structures.KINDS):
        for pool in structures.POOLINGS:
            variants.append({
                "name": f"{pool}-{suffix}", "label": f"{pool} {label}", "kind": kind,
                "fc": {"thin": "dense"}.get(kind, kind), "fc_params": 100 * (i + 1),
                "params": 1000 + i, "model_mb": 0.004, "latency_ms_batch1": 0.5,
                "hidden_size": 2 if kind == "thin" else 64, "n_factors": 1,
                "rank": "2" if kind == "low-rank" else None,
                "gap_mean": 0.5 + 0.01 * i, "gap_std": 0.01})
    comps = [{"a": f"{p}-dense", "b": f"{p}-{s}", "diff_mean": 0.01, "ci95": [-0.02, 0.04],
              "claim": NO_WORSE, "margin": 0.01, "verdict": "undecided at this sample size"}
             for p in structures.POOLINGS for s, *_ in structures.KINDS[1:]]
    return {"experiment": "fig-structures", "title": "t", "scale": "quick", "epochs": 10,
            "seeds": [0, 1, 2], "synthetic": True, "protocol": "p", "variants": variants,
            "comparisons": comps, "baselines": {"class_prior": 0.2, "linear_means": 0.6}}


def test_table_and_figure(tmp_path):
    results = _fake_results()
    table = format_table(results)
    assert "**synthetic**" in table and "not adjusted" in table
    assert "| dbof low rank, 4x | low-rank rank 2 | 800 |" in table
    assert "+0.010 [-0.020, +0.040]" in table and "linear on video-level means GAP 0.600" in table
    assert table.count("\n| ") == 1 + 18  # header + one row per variant
    # no runs to compute p-values from: the Holm column is a dash, the unadjusted verdict kept
    assert "| undecided at this sample size | – | – |" in table
    # with p-values, Holm runs over the figure's 16 comparisons: p_fails 0.001 <= 0.025/16
    # = 0.0015625 is rejected, then 0.02 > 0.025/15 = 0.00167 stops the procedure, so the
    # other 15 unadjusted "does not hold" (0.02 < 0.025) are undecided after Holm
    for i, c in enumerate(results["comparisons"]):
        c.update(p_holds=0.9, p_fails=0.001 if i == 0 else 0.02, verdict="does not hold")
    table = format_table(results)
    assert "| does not hold | does not hold | – |" in table  # 0.001 <= 0.0015625: rejected
    assert table.count("| does not hold | undecided at this sample size | – |") == 15
    assert "not adjusted** for the 16 comparisons, Holm's is" in table
    plot_structures(results, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_cli_lists_fig_structures(capsys):
    from circlearn.cli import main

    with pytest.raises(SystemExit):
        main(["experiment", "--help"])
    assert "fig-structures" in capsys.readouterr().out
