"""The tables and the figure of ``circlearn bench deploy``, and the refresh of their GAP column.

:func:`write` stores the rows (:func:`flatten`: one per model) in
``benchmarks/results/deploy-<machine>.{json,md,png}`` under ``out_dir``: the summary table of
:func:`circlearn.bench.results.write_results` (:data:`COLUMNS`), then
:func:`markdown_tables` (file size per precision, latency, peak memory and differences to
torch eager, and each compact model against its dense counterpart, :func:`ratios`), and the
figure :func:`circlearn.plotting.deploy.plot_deploy`. :func:`refresh_gaps` rewrites only the
GAP column of a stored table, from today's stored experiment results; :func:`rewrite_markdown`
renders a stored table's ``.md`` again from its ``.json``, measuring nothing.

The GAP of a row is never shown without its source: the paper's rows carry the paper's
digitized YouTube-8M 2018 validation GAP, circlearn's rows the GAP it measured on its
synthetic data (:func:`gap_cells`). The two are not comparable, so they get separate columns.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from circlearn.bench.deploy.measure import BATCHES, FRAMES, RUNTIMES
from circlearn.bench.deploy.specs import dense_rows, model_specs

__all__ = ["COLUMNS", "GAP_COLUMNS", "flatten", "ratios", "gap_cells", "markdown_tables",
           "paper_table", "write", "refresh_gaps", "rewrite_markdown"]

#: The columns of the summary table.
COLUMNS = ["model", "parameters", "fp32_MB", "int8_MB", "onnx-fp32_p50_ms", "eager_p50_ms"]
#: The size table's GAP columns, one per source: the paper's, circlearn's on synthetic data,
#: circlearn's on real data.
GAP_COLUMNS = ("GAP, paper (YouTube-8M, digitized)", "GAP, circlearn (synthetic data)",
               "GAP, circlearn (real data)")
GAP_NOTE = ("GAP columns: the paper rows show the paper's final-epoch validation GAP on "
            "YouTube-8M 2018, digitized from its figures; circlearn's rows show the validation "
            "GAP circlearn measured at that scale, on synthetic data for quick and medium. The "
            "sizes and latencies of every row are circlearn's own, measured with random weights. "
            "GAPs from different columns or scales are not comparable.")


LOWERING_NOTE = ("onnx-fp32, onnx-fp16 and onnx-int8 are exported with the per-layer lowering "
                 "of circlearn.deploy.crossover (the layers written as MatMuls are listed with "
                 "their form, the others are DFT nodes) and DBoF pooled in the listed layout; "
                 "onnx-fp32-dft is the same model with every circulant layer as DFT nodes and "
                 "batch-major pooling.")


def flatten(spec: dict, m: dict) -> dict:
    """One table row: the model ``spec`` and its measurements ``m``
    (:func:`circlearn.bench.deploy.measure.measure_model`)."""
    row = {"model": spec["name"], "scale": spec["scale"], "preset": spec["preset"],
           "dense": spec["dense"], "gap": spec["gap"], "gap_source": spec["gap_source"],
           "parameters": m["parameters"]}
    mb = {k: v / 1e6 for k, v in m["bytes"].items()}
    row.update({"torchscript_MB": mb["torchscript"], "fp32_MB": mb["onnx-fp32"],
                "fp16_MB": mb["onnx-fp16"], "int8_MB": mb["onnx-int8"]})
    row["onnx-fp32-dft_MB"] = mb["onnx-fp32-dft"]
    for r in RUNTIMES:
        row[f"{r}_rss_MB"] = m["peak_rss_mb"][r]
        for tag in ("", *(f"_b{b}" for b in BATCHES[1:])):
            row[f"{r}{tag}_p50_ms"] = m[f"p50_ms{tag}"][r]
            row[f"{r}{tag}_p95_ms"] = m[f"p95_ms{tag}"][r]
    for tag in ("", *(f"_b{b}" for b in BATCHES[1:])):
        row.update({f"{k}{tag}_max_abs_diff": v for k, v in m[f"max_abs_diff{tag}"].items()})
    row.update({"rounds": m["rounds"], "export_s": m["export_s"],
                "lowered": ", ".join(m["lowered"]) or "none",
                "feature_major": ", ".join(m["feature_major"]) or "none"})
    return row


def ratios(rows: list[dict]) -> list[dict]:
    """Each compact model against its dense counterpart of the same scale."""
    by = dense_rows(rows)
    out = []
    for r in rows:
        dense = by.get((r["scale"], r["dense"]))
        if dense is None:
            continue
        keys = ("parameters", "fp32_MB", "int8_MB", "onnx-fp32_p50_ms", "eager_p50_ms",
                "onnx-fp32_rss_MB", "onnx-fp32_b32_p50_ms", "eager_b32_p50_ms")
        out.append({"compact": r["model"], "dense": dense["model"],
                    **{f"{k}_ratio": r[k] / dense[k] for k in keys if k in r and k in dense}})
        for tag in ("", *(f"_b{b}" for b in BATCHES[1:])):
            if f"pair_p50_ms{tag}" in r:  # measured side by side with its dense model
                pair = r[f"pair_p50_ms{tag}"]
                out[-1][f"onnx-fp32{tag}_p50_side_by_side_ratio"] = (pair["compact"]
                                                                     / pair["dense"])
    return out


def gap_cells(row: dict) -> dict:
    """The row's GAP under the column of its source (:data:`GAP_COLUMNS`), others empty.

    A ``paper`` row's GAP is the paper's; any other scale's is circlearn's, on synthetic data
    when :data:`circlearn.experiments.SCALES` says so (``bundled`` or ``synth:…`` data).
    """
    from circlearn.experiments import SCALES

    cells = dict.fromkeys(GAP_COLUMNS, "")
    if row["gap"] is not None:
        data = str(SCALES.get(row["scale"], {}).get("data"))
        column = (0 if row["scale"] == "paper"
                  else 1 if data == "bundled" or data.startswith("synth") else 2)
        cells[GAP_COLUMNS[column]] = f"{row['gap']:.3f}"
    return cells


def _latency_tables(rows: list[dict]) -> str:
    """Batch-1 latency of every row and, for the rows measured at batch 32, batch 32's."""
    from circlearn.experiments.report import markdown_table

    def table(tag: str, digits: int) -> list[dict]:
        return [{"model": r["model"], **{
            f"{rt} p50/p95 ms": f"{r[f'{rt}{tag}_p50_ms']:.{digits}f} / "
                                f"{r[f'{rt}{tag}_p95_ms']:.{digits}f}"
            for rt in RUNTIMES if f"{rt}{tag}_p50_ms" in r}}
            for r in rows if f"eager{tag}_p50_ms" in r]

    text = ["## Batch-1 latency, 300 frames, 1 CPU thread", "", markdown_table(table("", 2))]
    for b in BATCHES[1:]:
        big = table(f"_b{b}", 1)
        if big:
            text += [f"## Batch-{b} latency, 300 frames per video, 1 CPU thread", "",
                     markdown_table(big)]
    return "\n".join(text)


def markdown_tables(rows: list[dict], ratio_rows: list[dict]) -> str:
    """The tables below the summary: size (with the GAP by source and the lowered layers),
    latency (batch 1, batch 32), memory, compact / dense."""
    from circlearn.experiments.report import markdown_table

    gaps = [gap_cells(r) for r in rows]
    used = [c for c in GAP_COLUMNS if any(g[c] for g in gaps)]
    files = ("torchscript_MB", "fp32_MB", "fp16_MB", "int8_MB", "onnx-fp32-dft_MB")
    size = [{"model": r["model"], "params": f"{r['parameters']:,}",
             **{c: g[c] for c in used},
             **{k: round(r[k], 3) for k in files if k in r},
             **({"MatMul layers": r["lowered"], "feature-major DBoF": r["feature_major"]}
                if "lowered" in r else {})}
            for r, g in zip(rows, gaps)]
    mem = [{"model": r["model"],
            **{f"{rt} MB": round(r[f"{rt}_rss_MB"]) for rt in RUNTIMES if f"{rt}_rss_MB" in r},
            "max abs diff fp32/fp16/int8": "{:.1e} / {:.1e} / {:.1e}".format(
                r["onnx-fp32_max_abs_diff"], r["onnx-fp16_max_abs_diff"],
                r["onnx-int8_max_abs_diff"])} for r in rows]
    rat = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
           for r in ratio_rows]
    lowering = [LOWERING_NOTE, ""] if any("lowered" in r for r in rows) else []
    return "\n".join(["## File size (MB) per precision", "", GAP_NOTE, "", *lowering,
                      markdown_table(size), _latency_tables(rows),
                      "## Peak resident memory of a process running the file (MB), and "
                      "difference to torch eager", "", markdown_table(mem),
                      "## Compact / dense (same scale, measured side by side)", "",
                      markdown_table(rat)])


def _p50(row: dict, runtime: str, tag: str = "") -> str:
    value = row.get(f"{runtime}{tag}_p50_ms")
    return "–" if value is None else f"{value:.1f}"


def paper_table(payload: dict) -> str:
    """The paper-size rows of a stored deploy table (its ``.json`` ``payload``) as the book's
    Deploy page shows them: parameters, fp32 / int8 file MB, batch-1 p50 (ms) per runtime
    and of the same model with every circulant layer as ``DFT`` nodes, batch-32 ONNX Runtime
    fp32 p50, and each compact model's ONNX Runtime fp32 p50 over its dense model's, timed
    side by side, at batch 1 and 32."""
    from circlearn.experiments.report import markdown_table

    pairs = {r["compact"]: r for r in payload.get("ratios", [])}
    cells = []
    for r in (r for r in payload["rows"] if r["scale"] == "paper"):
        q = pairs.get(r["model"])
        side = "(dense)" if q is None else " / ".join(
            f"{q[k]:.2f}×" if k in q else "–" for k in (
                "onnx-fp32_p50_side_by_side_ratio", "onnx-fp32_b32_p50_side_by_side_ratio"))
        cells.append([f"`{r['model']}`", f"{r['parameters']:,}",
                      f"{r['fp32_MB']:.1f} / {r['int8_MB']:.1f}",
                      *(_p50(r, rt) for rt in ("eager", "torchscript", "onnx-fp32", "onnx-fp16",
                                               "onnx-int8", "onnx-fp32-dft")),
                      _p50(r, "onnx-fp32", "_b32"),
                      side if q is None else f"{side} (vs `{q['dense']}`)"])
    return markdown_table(cells, [
        "preset (paper size)", "params", "MB fp32 / int8", "eager", "TorchScript", "ORT fp32",
        "ORT fp16", "ORT int8", "ORT fp32, `DFT` export", "batch 32: ORT fp32",
        "ORT fp32 compact / dense side by side, batch 1 / 32"], align="lrrrrrrrrrl")


def _notes(notes: list[str]) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    sizes = " and ".join(map(str, BATCHES))
    return (f"Batch {sizes}, {FRAMES} frames per video, one CPU thread (torch.set_num_threads(1); "
            f"ONNX Runtime intra/inter-op 1, sequential), every frame (eval_sampling=all). "
            f"Runtimes timed in interleaved rounds in one process per model and batch size "
            f"(p50/p95 over the rounds column at batch 1, a fifth of them, at least 3, above); "
            f"peak memory: a fresh process per runtime and model (ONNX Runtime's without torch). "
            f"Random weights (seed 0). 1-minute load average at the end: {load:.1f} on "
            f"{os.cpu_count()} cores (a shared machine: absolute latencies are noisy, the "
            f"side-by-side ratios less so). " + " ".join(notes))


def write(rows: list[dict], notes: list[str], out_dir=None) -> Path:
    """Write the ``.md``, ``.json`` (with the ratios) and ``.png`` of ``rows`` under ``out_dir``
    (default ``benchmarks/results`` under the working directory); returns the ``.md`` path.
    ``notes``: sentences on the scales left out."""
    from circlearn.bench.results import machine_tag, write_results
    from circlearn.plotting.deploy import plot_deploy

    ratio_rows = ratios(rows)
    md_path = write_results("deploy", rows, notes=_notes(notes), out_dir=out_dir, columns=COLUMNS)
    md_path.write_text(md_path.read_text() + "\n" + markdown_tables(rows, ratio_rows))
    payload = json.loads(md_path.with_suffix(".json").read_text())
    payload["ratios"] = ratio_rows
    md_path.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    plot_deploy(rows, md_path.parent / f"deploy-{machine_tag()}.png")
    return md_path


def _refreshed(rows: list[dict], experiment_results) -> tuple[int, list[str], list[str]]:
    """Set each circlearn row's GAP from the stored results; the count changed, the problems,
    and the rows whose model no stored result has."""
    specs: dict[str, dict] = {}  # every stored variant; a name stored twice: the first, as run()
    for spec in model_specs(dedupe=False, experiment_results=experiment_results)[0]:
        if spec["scale"] != "paper":
            specs.setdefault(spec["name"], spec)
    changed, problems, missing = 0, [], []
    for row in rows:
        if row["scale"] == "paper":
            continue
        spec = specs.get(row["model"])
        if spec is None:
            missing.append(row["model"])
            continue
        if spec["params"] != row["parameters"]:
            problems.append(f"{row['model']}: the stored result's model has "
                            f"{spec['params']:,} parameters, the measured one "
                            f"{row['parameters']:,}")
            continue
        changed += row["gap"] != spec["gap"]
        row["gap"], row["gap_source"] = spec["gap"], spec["gap_source"]
    return changed, problems, missing


def refresh_gaps(json_path: Path | str, experiment_results: Path | str | None = None, *,
                 drop_missing: bool = False) -> int:
    """Take the GAP column of a stored deploy table from today's stored experiment results.

    The measurements (sizes, latencies, memory) use random weights and do not depend on
    training, so when ``data_samples/results/`` changes (a rerun on recalibrated data) only
    the ``gap`` of the rows of circlearn's scales is stale. Each such row is matched by its
    name (``"<variant> (<scale>)"``, as :func:`circlearn.bench.deploy.specs.model_specs`
    names it; a table measured before the deduplication also has rows for the second name of
    a model stored twice) and its parameter count (the ``params`` the experiment stored); the
    paper rows keep the paper's GAP. A row whose stored model has another parameter count is
    an error (nothing is written): rerun the benchmark then. So is a row without a stored
    result, unless ``drop_missing`` (a stored experiment now leaves that variant out): the row
    and its side-by-side ratio are removed, and the notes name them.
    Rewrites the ``.json``, ``.md`` and ``.png`` beside ``json_path``, adds a sentence saying
    so to the notes, and returns the number of GAPs that changed. ``experiment_results``: as
    in :func:`~circlearn.bench.deploy.specs.model_specs`.
    """
    from circlearn.plotting.deploy import plot_deploy

    path = Path(json_path)
    payload = json.loads(path.read_text())
    rows = payload["rows"]
    changed, problems, missing = _refreshed(rows, experiment_results)
    if missing and not drop_missing:
        problems += [f"{m}: no stored experiment result has this model" for m in missing]
    if problems:
        raise ValueError(f"{path}: cannot refresh the GAP column, rerun `circlearn bench "
                         f"deploy`: " + "; ".join(problems))
    payload["notes"] = (payload["notes"].rstrip() + f" GAP column refreshed on "
                        f"{time.strftime('%Y-%m-%d')} from the stored experiment results "
                        f"(sizes, latencies and memory unchanged: random weights)." + (
                            f" Rows without a stored result removed: {', '.join(missing)}."
                            if missing else ""))
    payload["rows"] = rows = [r for r in rows if r["model"] not in missing]
    payload["ratios"] = [r for r in payload.get("ratios", []) if r["compact"] not in missing]
    path.write_text(json.dumps(payload, indent=2) + "\n")
    rewrite_markdown(path)
    plot_deploy(rows, path.with_suffix(".png"))
    return changed


def rewrite_markdown(json_path: Path | str) -> Path:
    """Render the ``.md`` beside a stored deploy table's ``.json`` again; returns its path.

    Nothing is measured and the ``.json`` is not touched: only the tables' layout and labels
    follow today's :func:`markdown_tables`.
    """
    from circlearn.bench.results import results_markdown

    path = Path(json_path)
    payload = json.loads(path.read_text())
    md = path.with_suffix(".md")
    md.write_text(results_markdown(payload, COLUMNS) + "\n"
                  + markdown_tables(payload["rows"], payload.get("ratios", [])))
    return md
