r"""Measuring one model: its files, the latency of every runtime, the peak memory of each file.

Every measurement runs in a fresh process, so a paper-size model's memory is returned before
the next one is built, and a peak memory is that of one runtime alone. The parent calls
:func:`measure_model`, :func:`peak_rss` and :func:`pair_latency`; each starts
``python -m circlearn.bench.deploy.measure JOB ARGS``, which calls one function of
:data:`JOBS` with the JSON list ``ARGS`` and prints its result as one JSON line:

- ``model``, :func:`export_and_time`: the TorchScript and ONNX files (fp32, fp16, int8, and
  ``onnx-fp32-dft``: the fp32 graph with every circulant layer as ``DFT`` nodes and DBoF
  pooled batch-major, the export before the three-``MatMul`` lowering of
  :mod:`circlearn.deploy.lowering`) and their sizes; latency, p50 and p95, of a batch of
  :data:`BATCHES` videos of :data:`FRAMES` frames on **one CPU thread** in torch eager,
  TorchScript and ONNX Runtime (each file), timed in interleaved rounds in one process so
  the ratios are measured side by side;
- ``rss``, :func:`run_file`: the peak resident memory (``VmHWM``) of a process that loads one
  file and runs it; ONNX Runtime's process imports numpy and onnxruntime only, no torch;
- ``pair``, :func:`time_pair`: ONNX Runtime fp32 of a dense and a compact file at one batch
  size, timed in interleaved rounds in one process.

All runtimes compute the graph's mode: every real frame (``eval_sampling="all"``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from circlearn.bench.deploy.specs import dense_rows

__all__ = ["FRAMES", "BATCHES", "RUNTIMES", "FILES", "JOBS", "batch_rounds", "export_and_time",
           "run_file", "time_pair", "measure_model", "peak_rss", "pair_latency", "measure_pairs",
           "main"]

FRAMES = 300
#: Videos per call: batch 1, then batch 32 (fewer rounds: :func:`batch_rounds`).
BATCHES = (1, 32)
RUNTIMES = ("eager", "torchscript", "onnx-fp32", "onnx-fp16", "onnx-int8", "onnx-fp32-dft")
#: Runtime → the file it runs, in a model's work folder (eager: the saved state dict).
FILES = {"eager": "eager.pt", "torchscript": "model.torchscript.pt", "onnx-fp32": "model.onnx",
         "onnx-fp16": "model.fp16.onnx", "onnx-int8": "model.int8.onnx",
         "onnx-fp32-dft": "model.dft.onnx"}


def batch_rounds(rounds: int, batch: int) -> int:
    """Rounds at ``batch`` videos: ``rounds`` at batch 1, a fifth (at least 3) above."""
    return rounds if batch == 1 else max(3, rounds // 5)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _session(path):
    """An ONNX Runtime session on one thread (intra- and inter-op), sequential, quiet."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _export(model, workdir: Path) -> float:
    """Write the TorchScript and the three ONNX files of ``model``; returns the seconds taken."""
    import onnx

    from circlearn.deploy.onnx import build_onnx, build_onnx_set
    from circlearn.deploy.torchscript import export_torchscript

    tick = time.perf_counter()
    export_torchscript(model, workdir / FILES["torchscript"], max_batch=2, max_frames=FRAMES)
    for precision, proto in build_onnx_set(model, ("fp32", "int8", "fp16")).items():
        onnx.save(proto, str(workdir / FILES[f"onnx-{precision}"]))  # each its layout rule
    onnx.save(build_onnx(model, "fp32", lowering="dft", layout="batch-major"),
              str(workdir / FILES["onnx-fp32-dft"]))
    return time.perf_counter() - tick


def _batch_fns(model, scripted, sessions: dict, batch: int) -> tuple[dict, dict]:
    """The runtimes' calls on ``batch`` random videos of :data:`FRAMES` frames, and each
    file's largest absolute difference to torch eager on them."""
    import numpy as np
    import torch

    from circlearn.data.yt8m import dequantize

    gen = torch.Generator().manual_seed(1)
    q = torch.randint(0, 256, (batch, FRAMES, model.config.input_size), generator=gen,
                      dtype=torch.uint8)
    x, n = dequantize(q, dtype=torch.float32), torch.full((batch,), FRAMES)
    feed = {"frames": x.numpy(), "num_frames": n.numpy()}
    with torch.no_grad():
        ref = model(x, n).numpy()

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
    return fns, diffs


def export_and_time(spec: dict, workdir: str, rounds: int) -> dict:
    """Export one model into ``workdir`` and time every runtime at every batch size of
    :data:`BATCHES` (job ``model``); batch 1's numbers keep their plain keys (``p50_ms``…),
    the others' get a suffix (``p50_ms_b32``…)."""
    import torch

    from circlearn.bench.timing import time_rounds
    from circlearn.deploy.graph import all_frames_model
    from circlearn.deploy.lowering import lowering_plan
    from circlearn.models import ModelConfig, VideoClassifier

    workdir = Path(workdir)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = all_frames_model(VideoClassifier(ModelConfig.from_dict(spec["config"])).eval())
    plan = lowering_plan(model)
    torch.save({"config": model.config.to_dict(), "state": model.state_dict()},
               workdir / FILES["eager"])
    out = {"parameters": sum(p.numel() for p in model.parameters()),
           "export_s": _export(model, workdir), "rounds": rounds,
           "bytes": {k: (workdir / FILES[k]).stat().st_size for k in RUNTIMES[1:]},
           "lowered": sorted(f"{k} ({v})" for k, v in plan["layers"].items() if v != "dft"),
           "feature_major": plan["feature_major"]}
    with torch.jit.optimized_execution(True):
        scripted = torch.jit.load(str(workdir / FILES["torchscript"]))
    sessions = {k: _session(workdir / FILES[k]) for k in RUNTIMES if k.startswith("onnx")}
    for batch in BATCHES:
        fns, diffs = _batch_fns(model, scripted, sessions, batch)
        times = time_rounds(fns, batch_rounds(rounds, batch), warmup=3 if batch == 1 else 1)
        tag = "" if batch == 1 else f"_b{batch}"
        out[f"p50_ms{tag}"] = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        out[f"p95_ms{tag}"] = {k: 1e3 * _percentile(v, 0.95) for k, v in times.items()}
        out[f"max_abs_diff{tag}"] = diffs
    return out


def _onnx_input(d: int, batch: int = 1) -> dict:
    import numpy as np

    frames = np.random.default_rng(0).random((batch, FRAMES, d), dtype=np.float32) * 4 - 2
    return {"frames": frames, "num_frames": np.full(batch, FRAMES)}


def _run_torch(runtime: str, path: str, d: int) -> None:
    import torch

    torch.set_num_threads(1)
    if runtime == "torchscript":
        m = torch.jit.load(path)
    else:
        from circlearn.models import ModelConfig, VideoClassifier

        saved = torch.load(path, weights_only=True)
        m = VideoClassifier(ModelConfig.from_dict(saved["config"]))
        m.load_state_dict(saved["state"])
        m.eval()
    x = torch.randint(0, 256, (1, FRAMES, d), dtype=torch.uint8)  # stored bytes
    with torch.no_grad():
        for _ in range(3):
            m(x, torch.tensor([FRAMES]))


def run_file(runtime: str, path: str, d: int) -> int:
    """Load ``path`` in ``runtime``, run 3 videos; this process's peak resident kB (job ``rss``).

    ``VmHWM``, not ``ru_maxrss``: Linux keeps the latter across ``execve``, so a child would
    report at least the forking parent's peak.
    """
    if runtime.startswith("onnx"):
        session, feed = _session(path), _onnx_input(d)
        for _ in range(3):
            session.run(None, feed)
        if "torch" in sys.modules:
            raise RuntimeError("ONNX Runtime's peak memory must be measured without torch")
    else:
        _run_torch(runtime, path, d)
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def time_pair(dense: str, compact: str, d: int, rounds: int, batch: int = 1) -> dict:
    """ONNX Runtime fp32 p50 (ms) of two files on ``batch`` videos in interleaved rounds (job
    ``pair``).

    Timed here, not with :mod:`circlearn.bench.timing`, which would load torch beside ONNX
    Runtime.
    """
    sessions = {"dense": _session(dense), "compact": _session(compact)}
    feed = _onnx_input(d, batch)
    times = {name: [] for name in sessions}
    for s in sessions.values():
        for _ in range(3):
            s.run(None, feed)
    for _ in range(rounds):
        for name, s in sessions.items():
            t0 = time.perf_counter()
            s.run(None, feed)
            times[name].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


#: Job name → the function a fresh process runs (``python -m circlearn.bench.deploy.measure``).
JOBS = {"model": export_and_time, "rss": run_file, "pair": time_pair}


def _in_fresh_process(job: str, args: list, *, timeout: float, error: str, tail: int = 500):
    done = subprocess.run([sys.executable, "-m", "circlearn.bench.deploy.measure", job,
                           json.dumps(args)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{error}: {done.stderr.strip()[-tail:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss(runtime: str, path: Path, d: int) -> float:
    """Peak resident MB of a fresh process that loads ``path`` and runs 3 videos."""
    kb = _in_fresh_process("rss", [runtime, str(path), d], timeout=900,
                           error=f"peak memory of {runtime} {path}")
    return kb / 1024


def pair_latency(dense: Path, compact: Path, d: int, rounds: int, batch: int = 1) -> dict:
    """ONNX Runtime fp32 p50 (ms) of a dense and a compact file on ``batch`` videos, timed in
    interleaved rounds in one fresh process (one thread): their ratio is measured side by
    side."""
    return _in_fresh_process("pair", [str(dense), str(compact), d, rounds, batch],
                             timeout=3600, error=f"pair timing {dense} / {compact}")


def measure_model(spec: dict, rounds: int, keep: Path | None = None) -> dict:
    """Measure ``spec`` in fresh processes; ``keep``: where to move its fp32 ONNX file."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        row = _in_fresh_process("model", [spec, str(work), rounds], timeout=3600,
                                error=f"measuring {spec['name']} failed", tail=2000)
        d = sum(spec["config"]["feature_sizes"])
        row["peak_rss_mb"] = {k: peak_rss(k, work / FILES[k], d) for k in RUNTIMES}
        if keep is not None:
            os.replace(work / FILES["onnx-fp32"], keep)
    return row


def measure_pairs(rows: list[dict], specs: list[dict], rounds: int | None) -> None:
    """Time each compact model beside its dense counterpart at every batch size
    (``row["pair_p50_ms"]``, ``row["pair_p50_ms_b32"]``; each row names its fp32 ONNX file
    in ``row["_file"]``)."""
    by = dense_rows(rows)
    for row, spec in zip(rows, specs):
        dense = by.get((row["scale"], row["dense"]))
        if dense is None:
            continue
        n = rounds or (30 if row["scale"] == "paper" else 100)
        for batch in BATCHES:
            tag = "" if batch == 1 else f"_b{batch}"
            row[f"pair_p50_ms{tag}"] = pair_latency(
                Path(dense["_file"]), Path(row["_file"]), sum(spec["config"]["feature_sizes"]),
                batch_rounds(n, batch), batch)


def main(argv: list[str] | None = None) -> int:
    """``python -m circlearn.bench.deploy.measure JOB ARGS``: print ``JOBS[JOB](*ARGS)``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in JOBS:
        raise SystemExit(f"usage: python -m circlearn.bench.deploy.measure "
                         f"{{{','.join(JOBS)}}} ARGS_JSON")
    print(json.dumps(JOBS[argv[0]](*json.loads(argv[1]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
