r"""``circlearn bench deploy``: file size, peak memory and batch-1 latency of deployed models.

For each model: TorchScript and ONNX files (fp32, fp16, int8) and their sizes; batch-1
latency, p50 and p95, of a 300-frame video on **one CPU thread** in torch eager, TorchScript
and ONNX Runtime (each precision), timed in interleaved rounds in one process so the ratios
are measured side by side; the peak resident memory (``VmHWM``) of a fresh process that
loads one artifact and runs it (ONNX Runtime's process imports numpy and onnxruntime only,
no torch). Every model is measured in its own subprocess, one after the other, so a
paper-size model's memory is returned before the next one is built.

Models (weights drawn at random with seed 0: size and latency do not depend on training):

- ``paper``: :data:`PAPER_PRESETS`, the paper's presets at full size (3,862 classes, rgb 1024
  + audio 128), with their dense counterparts, GAP from the paper's digitized figures;
- every other scale of :data:`circlearn.experiments.SCALES` whose experiment results are
  stored (``<stored>/<scale>/<experiment>/results.json``, or the older
  ``<stored>/<experiment>/`` with its ``scale`` field; ``stored``: ``experiment_results``,
  ``--experiment-results DIR``, by default :data:`EXPERIMENT_RESULTS`, ``data_samples/results``
  under the working directory): the models of those results, with circlearn's measured GAP.
  A scale without stored results is listed in the notes as not measured (the medium scale
  appears once its results are committed).

All runtimes compute the graph's mode: every real frame (``eval_sampling="all"``). The
results go to ``benchmarks/results/deploy-<machine>.{json,md,png}``; ``--quick`` measures two
tiny models with few repeats and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PAPER_PRESETS", "EXPERIMENT_RESULTS", "model_specs", "dense_counterpart", "measure",
           "peak_rss", "run", "refresh_gaps", "main"]

#: Paper presets of the table: each compact preset beside its dense counterpart.
PAPER_PRESETS = ("dbof", "dbof-fc-circulant", "netvlad", "netvlad-fc-circulant", "dbof-video",
                 "dbof-video-moe-circulant")
FRAMES = 300
RUNTIMES = ("eager", "torchscript", "onnx-fp32", "onnx-fp16", "onnx-int8")
#: Default folder of the stored experiment results, relative: under the working directory.
EXPERIMENT_RESULTS = Path("data_samples") / "results"
_COLUMNS = ["model", "parameters", "fp32_MB", "int8_MB", "onnx-fp32_p50_ms", "eager_p50_ms"]


def dense_counterpart(preset: str) -> str | None:
    """``dbof-fc-circulant`` → ``dbof``, ``dbof-video-moe-circulant`` → ``dbof-video``."""
    dense = re.sub(r"-(fc|embedding|moe)-circulant(-sign)?$", "", preset)
    return None if dense == preset else dense


def _paper_gap(preset: str) -> float | None:
    from circlearn.plotting.paper import PAPER_CURVES

    for curves in PAPER_CURVES.values():
        if preset in curves:
            values = [v for v in curves[preset][1] if v is not None]
            return values[-1]
    return None


def _stored_results(stored: Path, scale: str) -> list[dict]:
    found = sorted((stored / scale).glob("*/results.json"))
    if not found:  # the older layout: <stored>/<experiment>/results.json
        found = [p for p in sorted(stored.glob("*/results.json"))
                 if json.loads(p.read_text()).get("scale") == scale]
    return [json.loads(p.read_text()) for p in found]


def model_specs(quick: bool = False, *, dedupe: bool = True,
                experiment_results: Path | str | None = None) -> tuple[list[dict], list[str]]:
    """The models to measure and notes on scales left out. ``dedupe``: a model stored by two
    figures (the same normalised configuration) is listed once, under its first name;
    ``dedupe=False`` lists every stored variant (what :func:`refresh_gaps` looks names up in).
    ``experiment_results``: the stored results' folder (default :data:`EXPERIMENT_RESULTS`)."""
    from circlearn.experiments import SCALES
    from circlearn.models import ModelConfig, preset_config

    if quick:
        tiny = {"feature_sizes": (32, 8), "num_classes": 10, "hidden_size": 8}
        return [{"name": f"{p} (tiny)", "scale": "tiny", "preset": p, "dense": dense_counterpart(p),
                 "config": preset_config(p, cluster_sizes=(32, 16), **tiny).to_dict(),
                 "gap": None, "gap_source": None} for p in ("dbof", "dbof-fc-circulant")], []
    specs = [{"name": p, "scale": "paper", "preset": p, "dense": dense_counterpart(p),
              "config": preset_config(p).to_dict(), "gap": _paper_gap(p),
              "gap_source": "paper (digitized, final epoch)"} for p in PAPER_PRESETS]
    stored = Path(EXPERIMENT_RESULTS if experiment_results is None else experiment_results)
    notes, seen = [], set()
    for scale in SCALES:
        if scale == "paper":
            continue
        results = _stored_results(stored, scale)
        if not results:
            notes.append(f"scale {scale}: no stored experiment results in {stored / scale}/, "
                         f"not measured")
        for res in results:
            for v in res["variants"]:
                # normalised: a file written before a field existed still matches a newer one
                model = ModelConfig.from_dict(v["model"]).to_dict()
                key = (scale, json.dumps(model, sort_keys=True))
                if dedupe and key in seen:
                    continue
                seen.add(key)
                name = v.get("name") or v["preset"]
                specs.append({"name": f"{name} ({scale})", "scale": scale, "preset": v["preset"],
                              "dense": dense_counterpart(v["preset"]), "config": v["model"],
                              "gap": v.get("gap_mean", v.get("gap")), "params": v["params"],
                              "gap_source": f"circlearn {res['experiment']} ({scale})"})
    return specs, notes


# ----------------------------------------------------------------------------- one model
def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def measure(spec: dict, workdir: Path, rounds: int) -> dict:
    """Export one model into ``workdir`` and time every runtime (call in a fresh process)."""
    import numpy as np
    import onnx
    import torch

    from circlearn.bench.timing import time_rounds
    from circlearn.data.yt8m import dequantize
    from circlearn.deploy.graph import all_frames_model
    from circlearn.deploy.onnx import build_onnx, quantize_int8
    from circlearn.deploy.torchscript import export_torchscript
    from circlearn.models import ModelConfig, VideoClassifier

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = all_frames_model(VideoClassifier(ModelConfig.from_dict(spec["config"])).eval())
    params = sum(p.numel() for p in model.parameters())
    torch.save({"config": model.config.to_dict(), "state": model.state_dict()},
               workdir / "eager.pt")
    files = {"torchscript": workdir / "model.torchscript.pt", "onnx-fp32": workdir / "model.onnx",
             "onnx-fp16": workdir / "model.fp16.onnx", "onnx-int8": workdir / "model.int8.onnx"}
    tick = time.perf_counter()
    export_torchscript(model, files["torchscript"], max_batch=2, max_frames=FRAMES)
    fp32 = build_onnx(model, "fp32")
    onnx.save(fp32, str(files["onnx-fp32"]))
    onnx.save(quantize_int8(fp32), str(files["onnx-int8"]))
    del fp32
    onnx.save(build_onnx(model, "fp16"), str(files["onnx-fp16"]))
    export_s = time.perf_counter() - tick

    gen = torch.Generator().manual_seed(1)
    q = torch.randint(0, 256, (1, FRAMES, model.config.input_size), generator=gen,
                      dtype=torch.uint8)
    x, n = dequantize(q, dtype=torch.float32), torch.tensor([FRAMES])
    feed = {"frames": x.numpy(), "num_frames": n.numpy()}
    with torch.no_grad():
        ref = model(x, n).numpy()
    with torch.jit.optimized_execution(True):
        scripted = torch.jit.load(str(files["torchscript"]))
    sessions = {k: _session(files[k]) for k in ("onnx-fp32", "onnx-fp16", "onnx-int8")}

    def eager():
        with torch.no_grad():
            return model(x, n)

    def script():  # the TorchScript artifact takes the stored bytes (its trace fixes uint8)
        with torch.no_grad():
            return scripted(q, n)

    fns = {"eager": eager, "torchscript": script,
           **{k: (lambda s=s: s.run(["probabilities"], feed)) for k, s in sessions.items()}}
    diffs = {"torchscript": float(np.abs(script().numpy() - ref).max())}
    diffs.update({k: float(np.abs(s.run(["probabilities"], feed)[0] - ref).max())
                  for k, s in sessions.items()})
    times = time_rounds(fns, rounds, warmup=3)
    out = {"parameters": params, "export_s": export_s, "rounds": rounds,
           "bytes": {k: p.stat().st_size for k, p in files.items()},
           "p50_ms": {k: 1e3 * statistics.median(v) for k, v in times.items()},
           "p95_ms": {k: 1e3 * _percentile(v, 0.95) for k, v in times.items()},
           "max_abs_diff": diffs}
    return out


_ORT_RSS = """
import re, sys, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).random((1, {frames}, {d}), dtype=np.float32) * 4 - 2
for _ in range(3):
    s.run(None, {{"frames": x, "num_frames": np.array([{frames}])}})
assert "torch" not in sys.modules
print(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
"""

_TORCH_RSS = """
import re, sys, torch
torch.set_num_threads(1)
if sys.argv[2] == "torchscript":
    m = torch.jit.load(sys.argv[1])
else:
    from circlearn.models import ModelConfig, VideoClassifier
    saved = torch.load(sys.argv[1], weights_only=True)
    m = VideoClassifier(ModelConfig.from_dict(saved["config"]))
    m.load_state_dict(saved["state"]); m.eval()
x = torch.randint(0, 256, (1, {frames}, {d}), dtype=torch.uint8)  # stored bytes
with torch.no_grad():
    for _ in range(3):
        m(x, torch.tensor([{frames}]))
print(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
"""


def peak_rss(runtime: str, path: Path, d: int) -> float:
    """Peak resident MB (``VmHWM``) of a fresh process that loads ``path`` and runs 3 videos.

    Not ``ru_maxrss``: Linux keeps it across ``execve``, so a child would report at least the
    forking parent's peak.
    """
    template = _ORT_RSS if runtime.startswith("onnx") else _TORCH_RSS
    code = template.format(frames=FRAMES, d=d)
    done = subprocess.run([sys.executable, "-c", code, str(path), runtime], capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"peak memory of {runtime} {path}: {done.stderr.strip()[-500:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024  # VmHWM: kB


def _measure_in_subprocess(spec: dict, rounds: int, keep: Path | None = None) -> dict:
    """Measure ``spec`` in a fresh process; ``keep``: where to move its fp32 ONNX file."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "spec.json").write_text(json.dumps(spec))
        done = subprocess.run([sys.executable, "-m", "circlearn.bench.deploy", "--measure",
                               str(work), "--rounds", str(rounds)], capture_output=True,
                              text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"measuring {spec['name']} failed: {done.stderr.strip()[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        d = sum(spec["config"]["feature_sizes"])
        files = {"eager": work / "eager.pt", "torchscript": work / "model.torchscript.pt",
                 "onnx-fp32": work / "model.onnx", "onnx-fp16": work / "model.fp16.onnx",
                 "onnx-int8": work / "model.int8.onnx"}
        row["peak_rss_mb"] = {k: peak_rss(k, p, d) for k, p in files.items()}
        if keep is not None:
            os.replace(files["onnx-fp32"], keep)
    return row


_PAIR = """
import json, statistics, sys, time, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
dense, compact = (ort.InferenceSession(p, o, providers=["CPUExecutionProvider"])
                  for p in sys.argv[1:3])
d = int(sys.argv[3]); rounds = int(sys.argv[4])
feed = {{"frames": np.random.default_rng(0).random((1, {frames}, d), dtype=np.float32) * 4 - 2,
        "num_frames": np.array([{frames}])}}
times = {{"dense": [], "compact": []}}
for s in (dense, compact):
    for _ in range(3):
        s.run(None, feed)
for _ in range(rounds):
    for name, s in (("dense", dense), ("compact", compact)):
        t0 = time.perf_counter(); s.run(None, feed); times[name].append(time.perf_counter() - t0)
print(json.dumps({{k: 1e3 * statistics.median(v) for k, v in times.items()}}))
"""


def pair_latency(dense: Path, compact: Path, d: int, rounds: int) -> dict:
    """ONNX Runtime fp32 p50 (ms) of a dense and a compact file timed in interleaved rounds in
    one process (one thread): their ratio is measured side by side."""
    done = subprocess.run([sys.executable, "-c", _PAIR.format(frames=FRAMES), str(dense),
                           str(compact), str(d), str(rounds)], capture_output=True, text=True,
                          timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"pair timing {dense} / {compact}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _dense_rows(rows: list[dict]) -> dict:
    """``{(scale, preset): row}`` of the plain presets: the rows a compact model is paired with.

    A variant that only shares a preset (fig-structures' ``dbof-low-rank-x16`` is ``dbof``
    with overrides) is not its preset's dense model, so only rows named after their preset
    (``"dbof"``, ``"dbof (quick)"``) count.
    """
    return {(r["scale"], r["preset"]): r for r in rows
            if r["model"].split(" (")[0] == r["preset"]}


def _pair_step(rows: list[dict], specs: list[dict], rounds: int | None) -> None:
    """Time each compact model beside its dense counterpart (``row["pair_p50_ms"]``)."""
    by = _dense_rows(rows)
    for row, spec in zip(rows, specs):
        dense = by.get((row["scale"], row["dense"]))
        if dense is None:
            continue
        n = rounds or (30 if row["scale"] == "paper" else 100)
        row["pair_p50_ms"] = pair_latency(Path(dense["_file"]), Path(row["_file"]),
                                          sum(spec["config"]["feature_sizes"]), n)


def _flatten(spec: dict, m: dict) -> dict:
    row = {"model": spec["name"], "scale": spec["scale"], "preset": spec["preset"],
           "dense": spec["dense"], "gap": spec["gap"], "gap_source": spec["gap_source"],
           "parameters": m["parameters"]}
    mb = {k: v / 1e6 for k, v in m["bytes"].items()}
    row.update({"torchscript_MB": mb["torchscript"], "fp32_MB": mb["onnx-fp32"],
                "fp16_MB": mb["onnx-fp16"], "int8_MB": mb["onnx-int8"]})
    for r in RUNTIMES:
        row[f"{r}_p50_ms"] = m["p50_ms"][r]
        row[f"{r}_p95_ms"] = m["p95_ms"][r]
        row[f"{r}_rss_MB"] = m["peak_rss_mb"][r]
    row.update({f"{k}_max_abs_diff": v for k, v in m["max_abs_diff"].items()})
    row.update({"rounds": m["rounds"], "export_s": m["export_s"]})
    return row


def _ratios(rows: list[dict]) -> list[dict]:
    """Each compact model against its dense counterpart of the same scale."""
    by = _dense_rows(rows)
    out = []
    for r in rows:
        dense = by.get((r["scale"], r["dense"]))
        if dense is None:
            continue
        out.append({"compact": r["model"], "dense": dense["model"],
                    **{f"{k}_ratio": r[k] / dense[k] for k in (
                        "parameters", "fp32_MB", "int8_MB", "onnx-fp32_p50_ms",
                        "eager_p50_ms", "onnx-fp32_rss_MB")}})
        if "pair_p50_ms" in r:  # measured side by side with its dense model
            out[-1]["onnx-fp32_p50_side_by_side_ratio"] = (r["pair_p50_ms"]["compact"]
                                                           / r["pair_p50_ms"]["dense"])
    return out


def _markdown_tables(rows: list[dict], ratios: list[dict]) -> str:
    from circlearn.bench.results import markdown_table

    size = [{"model": r["model"], "params": f"{r['parameters']:,}",
             "GAP": "" if r["gap"] is None else f"{r['gap']:.3f}",
             **{k: round(r[k], 3) for k in ("torchscript_MB", "fp32_MB", "fp16_MB", "int8_MB")}}
            for r in rows]
    lat = [{"model": r["model"],
            **{f"{rt} p50/p95 ms": f"{r[f'{rt}_p50_ms']:.2f} / {r[f'{rt}_p95_ms']:.2f}"
               for rt in RUNTIMES}} for r in rows]
    mem = [{"model": r["model"], **{f"{rt} MB": round(r[f"{rt}_rss_MB"]) for rt in RUNTIMES},
            "max abs diff fp32/fp16/int8": "{:.1e} / {:.1e} / {:.1e}".format(
                r["onnx-fp32_max_abs_diff"], r["onnx-fp16_max_abs_diff"],
                r["onnx-int8_max_abs_diff"])} for r in rows]
    rat = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
           for r in ratios]
    return "\n".join(["## File size (MB) per precision", "", markdown_table(size),
                      "## Batch-1 latency, 300 frames, 1 CPU thread", "", markdown_table(lat),
                      "## Peak resident memory of a process running the file (MB), and "
                      "difference to torch eager", "", markdown_table(mem),
                      "## Compact / dense (same scale, measured side by side)", "",
                      markdown_table(rat)])


def run(quick: bool = False, out_dir=None, *, rounds: int | None = None,
        experiment_results: Path | str | None = None) -> list[dict]:
    """Measure every model (see the module docstring); write the results under ``out_dir``
    (default ``benchmarks/results`` under the working directory) unless ``quick``."""
    from circlearn.bench.results import machine_tag, write_results

    specs, notes = model_specs(quick, experiment_results=experiment_results)
    rows = []
    kept = Path(tempfile.mkdtemp(prefix="circlearn-deploy-"))
    for i, spec in enumerate(specs):
        r = rounds or (5 if quick else (30 if spec["scale"] == "paper" else 100))
        tick = time.perf_counter()
        row = _flatten(spec, _measure_in_subprocess(spec, r, keep=kept / f"{i}.onnx"))
        row["_file"] = str(kept / f"{i}.onnx")
        rows.append(row)
        print(f"[deploy] {spec['name']}: fp32 {row['fp32_MB']:.2f} MB, int8 "
              f"{row['int8_MB']:.2f} MB; p50 eager {row['eager_p50_ms']:.2f} ms, onnx "
              f"{row['onnx-fp32_p50_ms']:.2f} ms ({time.perf_counter() - tick:.0f} s)",
              flush=True)
    _pair_step(rows, specs, rounds or (5 if quick else None))
    for row in rows:
        Path(row.pop("_file")).unlink(missing_ok=True)
    kept.rmdir()
    ratios = _ratios(rows)
    if quick:
        return rows
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = (f"Batch 1, {FRAMES} frames, one CPU thread (torch.set_num_threads(1); ONNX Runtime "
            f"intra/inter-op 1, sequential), every frame (eval_sampling=all). Runtimes timed in "
            f"interleaved rounds in one process per model (p50/p95 over the rounds column); "
            f"peak memory: a fresh process per runtime and model (ONNX Runtime's without torch). "
            f"Random weights (seed 0). 1-minute load average at the end: {load:.1f} on "
            f"{os.cpu_count()} cores (a shared machine: absolute latencies are noisy, the "
            f"side-by-side ratios less so). " + " ".join(notes))
    md_path = write_results("deploy", rows, notes=text, out_dir=out_dir, columns=_COLUMNS)
    md_path.write_text(md_path.read_text() + "\n" + _markdown_tables(rows, ratios))
    payload = json.loads(md_path.with_suffix(".json").read_text())
    payload["ratios"] = ratios
    md_path.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    from circlearn.plotting.deploy import plot_deploy

    plot_deploy(rows, md_path.parent / f"deploy-{machine_tag()}.png")
    return rows


def refresh_gaps(json_path: Path | str, experiment_results: Path | str | None = None) -> int:
    """Take the GAP column of a stored deploy table from today's stored experiment results.

    The measurements (sizes, latencies, memory) use random weights and do not depend on
    training, so when ``data_samples/results/`` changes (a rerun on recalibrated data) only
    the ``gap`` of the rows of circlearn's scales is stale. Each such row is matched by its
    name (``"<variant> (<scale>)"``, as :func:`model_specs` names it; a table measured before
    the deduplication also has rows for the second name of a model stored twice) and its
    parameter count (the ``params`` the experiment stored); the paper rows keep the paper's
    GAP. A row without a stored result, or whose stored model has another parameter count,
    is an error (nothing is written): rerun the benchmark then.
    Rewrites the ``.json``, ``.md`` and ``.png`` beside ``json_path``, adds a sentence saying
    so to the notes, and returns the number of GAPs that changed. ``experiment_results``: as
    in :func:`model_specs`.
    """
    from circlearn.bench.results import results_markdown
    from circlearn.plotting.deploy import plot_deploy

    path = Path(json_path)
    payload = json.loads(path.read_text())
    specs: dict[str, dict] = {}  # every stored variant; a name stored twice: the first, as run()
    for spec in model_specs(dedupe=False, experiment_results=experiment_results)[0]:
        if spec["scale"] != "paper":
            specs.setdefault(spec["name"], spec)
    rows, changed, problems = payload["rows"], 0, []
    for row in rows:
        if row["scale"] == "paper":
            continue
        spec = specs.get(row["model"])
        if spec is None:
            problems.append(f"{row['model']}: no stored experiment result has this model")
            continue
        if spec["params"] != row["parameters"]:
            problems.append(f"{row['model']}: the stored result's model has "
                            f"{spec['params']:,} parameters, the measured one "
                            f"{row['parameters']:,}")
            continue
        changed += row["gap"] != spec["gap"]
        row["gap"], row["gap_source"] = spec["gap"], spec["gap_source"]
    if problems:
        raise ValueError(f"{path}: cannot refresh the GAP column, rerun `circlearn bench "
                         f"deploy`: " + "; ".join(problems))
    payload["notes"] = (payload["notes"].rstrip() + f" GAP column refreshed on "
                        f"{time.strftime('%Y-%m-%d')} from the stored experiment results "
                        f"(sizes, latencies and memory unchanged: random weights).")
    path.write_text(json.dumps(payload, indent=2) + "\n")
    path.with_suffix(".md").write_text(results_markdown(payload, _COLUMNS) + "\n"
                                       + _markdown_tables(rows, payload.get("ratios", [])))
    plot_deploy(rows, path.with_suffix(".png"))
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--experiment-results", metavar="DIR", default=None,
                   help=f"stored experiment results (default {EXPERIMENT_RESULTS})")
    p.add_argument("--refresh-gaps", metavar="JSON", default=None,
                   help="measure nothing: take the GAP column of this stored deploy table "
                        "(benchmarks/results/deploy-<machine>.json) from the stored experiment "
                        "results, after data_samples/results/ changed")
    p.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # the per-model process
    args = p.parse_args(argv)
    if args.refresh_gaps:
        changed = refresh_gaps(args.refresh_gaps, args.experiment_results)
        print(f"[deploy] {changed} GAP value(s) changed in "
              f"{args.refresh_gaps} (and its .md, .png)")
        return 0
    if args.measure:
        work = Path(args.measure)
        spec = json.loads((work / "spec.json").read_text())
        print(json.dumps(measure(spec, work, args.rounds)))
        return 0
    run(args.quick, args.out, rounds=args.rounds, experiment_results=args.experiment_results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
