r"""``circlearn bench deploy``: file size, peak memory and batch-1 latency of deployed models.

For each model: TorchScript and ONNX files (fp32, fp16, int8) and their sizes; batch-1
latency, p50 and p95, of a 300-frame video on **one CPU thread** in torch eager, TorchScript
and ONNX Runtime (each precision), timed in interleaved rounds in one process so the ratios
are measured side by side; the peak resident memory (``VmHWM``) of a fresh process that
loads one artifact and runs it (ONNX Runtime's process imports numpy and onnxruntime only,
no torch); and each compact model's ONNX Runtime latency beside its dense counterpart's, in
one process. Every model is measured in its own processes, one after the other, so a
paper-size model's memory is returned before the next one is built. All runtimes compute
the graph's mode: every real frame (``eval_sampling="all"``).

Modules: :mod:`~circlearn.bench.deploy.specs` (which models: the paper's presets at full
size and the models of every stored experiment scale, each compact model with its dense
counterpart), :mod:`~circlearn.bench.deploy.measure` (the measurements, each in a fresh
process) and :mod:`~circlearn.bench.deploy.report` (tables, figure, refresh of the GAP
column).

The results go to ``benchmarks/results/deploy-<machine>.{json,md,png}``; ``--quick`` measures
two tiny models with few repeats and writes nothing. ``python -m circlearn.bench.deploy``
takes the suite's own options (:func:`main`): ``--rounds``, ``--experiment-results DIR``,
``--refresh-gaps JSON`` and ``--rewrite-markdown JSON`` (the ``.md`` again from the ``.json``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

__all__ = ["run", "main"]


def run(quick: bool = False, out_dir=None, *, rounds: int | None = None,
        experiment_results: Path | str | None = None) -> list[dict]:
    """Measure every model (see the module docstring); write the results under ``out_dir``
    (default ``benchmarks/results`` under the working directory) unless ``quick``."""
    # imported here: measure is also the fresh processes' entry point (python -m), which
    # must not find itself imported by its package first
    from circlearn.bench.deploy import measure, report, specs

    model_specs, notes = specs.model_specs(quick, experiment_results=experiment_results)
    rows = []
    kept = Path(tempfile.mkdtemp(prefix="circlearn-deploy-"))
    for i, spec in enumerate(model_specs):
        r = rounds or (5 if quick else (30 if spec["scale"] == "paper" else 100))
        tick = time.perf_counter()
        row = report.flatten(spec, measure.measure_model(spec, r, keep=kept / f"{i}.onnx"))
        row["_file"] = str(kept / f"{i}.onnx")
        rows.append(row)
        print(f"[deploy] {spec['name']}: fp32 {row['fp32_MB']:.2f} MB, int8 "
              f"{row['int8_MB']:.2f} MB; p50 eager {row['eager_p50_ms']:.2f} ms, onnx "
              f"{row['onnx-fp32_p50_ms']:.2f} ms ({time.perf_counter() - tick:.0f} s)",
              flush=True)
    measure.measure_pairs(rows, model_specs, rounds or (5 if quick else None))
    for row in rows:
        Path(row.pop("_file")).unlink(missing_ok=True)
    kept.rmdir()
    if not quick:
        report.write(rows, notes, out_dir)
    return rows


def main(argv: list[str] | None = None) -> int:
    """The suite's command line: ``python -m circlearn.bench.deploy [options]``."""
    from circlearn.bench.deploy.specs import EXPERIMENT_RESULTS

    p = argparse.ArgumentParser(prog="python -m circlearn.bench.deploy",
                                description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--experiment-results", metavar="DIR", default=None,
                   help=f"stored experiment results (default {EXPERIMENT_RESULTS})")
    p.add_argument("--refresh-gaps", metavar="JSON", default=None,
                   help="measure nothing: take the GAP column of this stored deploy table "
                        "(benchmarks/results/deploy-<machine>.json) from the stored experiment "
                        "results, after data_samples/results/ changed")
    p.add_argument("--drop-missing", action="store_true",
                   help="with --refresh-gaps: remove the rows no stored result has (an "
                        "experiment now leaves that variant out) instead of refusing")
    p.add_argument("--rewrite-markdown", metavar="JSON", default=None,
                   help="measure nothing: render the .md of this stored deploy table again "
                        "from its .json (after the tables' layout or labels changed)")
    args = p.parse_args(argv)
    if args.rewrite_markdown:
        from circlearn.bench.deploy.report import rewrite_markdown

        print(f"[deploy] wrote {rewrite_markdown(args.rewrite_markdown)}")
        return 0
    if args.refresh_gaps:
        from circlearn.bench.deploy.report import refresh_gaps

        changed = refresh_gaps(args.refresh_gaps, args.experiment_results,
                               drop_missing=args.drop_missing)
        print(f"[deploy] {changed} GAP value(s) changed in "
              f"{args.refresh_gaps} (and its .md, .png)")
        return 0
    run(args.quick, args.out, rounds=args.rounds, experiment_results=args.experiment_results)
    return 0
