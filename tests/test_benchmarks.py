"""The benchmark harness runs, and the paper's formulation (a slow twin) equals the layer;
the layer timer's rows."""

import re

import pytest
import torch

from circlearn.bench import layers as bench_layers
from circlearn.bench import timing
from circlearn.bench.results import write_results
from circlearn.cli import main as cli_main
from circlearn.experiments.report import markdown_table
from circlearn.nn import CirculantLinear


@pytest.mark.parametrize("shape", [(8, 8), (6, 16), (16, 5)], ids=str)
@pytest.mark.parametrize("diagonal", ["learned", "sign", None])
def test_paper_formulation_equals_circulant_linear(shape, diagonal):
    """The TF code's first-row complex-FFT + roll form computes the same map."""
    torch.manual_seed(0)
    layer = CirculantLinear(*shape, diagonal=diagonal)
    paper = bench_layers.PaperCirculant(layer)
    x = torch.randn(4, shape[0])
    torch.testing.assert_close(paper(x), layer(x), rtol=1e-5, atol=1e-5)


def test_layer_case_reports_ratios():
    row = bench_layers.layer_case(64, 128, 4, True, repeats=1)
    assert row["speedup_vs_dense"] > 0 and row["circulant_ms"] > 0
    assert row["speedup_vs_paper"] == pytest.approx(row["paper_ms"] / row["circulant_ms"])


def test_layer_case_times_the_compiled_layer(monkeypatch):
    """--compile adds a checked torch.compile variant (aot_eager here: no C++ build in tests)."""
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, mode=None: real(m, backend="aot_eager"))
    for backward in (False, True):
        row = bench_layers.layer_case(32, 32, 4, backward, repeats=1, compile=True)
        assert row["compiled_ms"] > 0
        assert row["compiled_vs_eager"] == pytest.approx(row["circulant_ms"] / row["compiled_ms"])


def test_time_layers_backward_rows():
    # a training step with a dense upstream gradient (not .sum().backward())
    rows = bench_layers.time_layers([8, 12], batch=3, repeats=1, backward=True,
                                    generator=torch.Generator().manual_seed(0))
    assert [r["n"] for r in rows] == [8, 12]
    assert all(r["dense_s"] > 0 and r["fft_s"] > 0 for r in rows)


def test_time_layers_rows():
    rows = bench_layers.time_layers([8, 16], batch=2, repeats=3,
                                    generator=torch.Generator().manual_seed(0))
    assert [r["n"] for r in rows] == [8, 16]
    for r in rows:
        assert r["dense_s"] > 0 and r["fft_s"] > 0
        assert r["ratio"] == pytest.approx(r["dense_s"] / r["fft_s"])
        assert len(r["dense_times"]) == len(r["fft_times"]) == 3  # every round, for spread bars
        assert r["dense_s"] == pytest.approx(sorted(r["dense_times"])[1])
    with pytest.raises(ValueError):
        bench_layers.time_layers([8], repeats=0)


def test_write_results(tmp_path):
    path = write_results("demo", [{"a": 1, "b": 0.123456}], out_dir=tmp_path, notes="n")
    text = path.read_text()
    assert "| a | b |" in text and "0.1235" in text
    assert path.with_suffix(".json").exists()
    assert markdown_table([]) == "(no rows)\n"


def test_write_results_defaults_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_results("cwd-demo", [{"a": 1}])
    assert path.resolve().parent == tmp_path.resolve() / "benchmarks" / "results"


def test_bench_cli_quick_and_errors(capsys):
    threads = torch.get_num_threads()
    try:
        assert cli_main(["bench", "layers", "--quick", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert "speedup_vs_dense" in capsys.readouterr().out
    assert cli_main(["bench", "nope"]) == 2
    assert "unknown benchmark suite" in capsys.readouterr().err


@pytest.mark.parametrize("backward", [False, True])
def test_layer_rounds_times_both_layers_every_round(backward):
    row = bench_layers.layer_rounds(16, 8, 3, backward, rounds=2)
    assert (row["n_in"], row["n_out"], row["batch"]) == (16, 8, 3)
    assert row["pass"] == ("fwd+bwd" if backward else "fwd")
    assert len(row["nn.Linear"]) == len(row["CirculantLinear"]) == 2
    assert all(t > 0 for t in row["nn.Linear"] + row["CirculantLinear"])


@pytest.mark.parametrize("times, line", [
    ([0.0021, 0.0020, 0.0024, 0.0022], "2.15 ms ± 0.0875 ms per loop"),
    ([3e-7, 3e-7, 3e-7, 9e-7], "300 ns ± 75 ns per loop"),
    ([0.9996e-3, 1e-3], "1 ms ± 0.0001 ms per loop"),
    ([2500.0, 2600.0], "2550 s ± 25 s per loop"),
])
def test_timeit_line_matches_the_notebook_sanitizer(times, line):
    # the notebooks print timings in this shape; notebooks/sanitize.cfg replaces them
    text = timing.timeit_line(times)
    assert text.startswith(line)
    pattern = re.compile(r"[\d.]+ (ns|µs|us|ms|s) ± [\d.]+ (ns|µs|us|ms|s) per loop.*")
    assert pattern.fullmatch(text)
    assert f"of {len(times)} rounds" in text
    with pytest.raises(ValueError):
        timing.timeit_line([])
