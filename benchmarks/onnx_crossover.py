"""Where does each ONNX form of a circulant layer win? The crossover behind the lowering rule.

For every circulant layer size the paper's presets use (and a few smaller ones, to place the
crossover), one CPU thread, rows of a batch of 1 and of 32 videos (a per-frame layer sees
300 rows per video, a per-video layer one), timed side by side in interleaved rounds:

- torch eager: ``CirculantLinear`` (its fast path) and the dense ``nn.Linear`` it replaces;
- ONNX Runtime fp32: the ``DFT`` export (``fast_path(plain=True)``, what circlearn exported
  before), the two ``MatMul`` lowerings of :class:`circlearn.deploy.lowering.MatMulCirculant`
  (``ort-matmul``: three products with stored mixing blocks; ``ort-matmul-fft``: the
  four-step FFT as products; each only where it stores fewer floats than the dense weight)
  and the dense ``Gemm``.

Then whole models at paper size, batch 1, 300 frames (ONNX Runtime fp32, fp16, int8):
``dbof-video`` pooled batch-major and feature-major, ``dbof-video-embedding-circulant`` with
``DFT``, with the three ``MatMul`` s batch-major and feature-major: the layout choice.

Every row carries the 1-minute load average when it was measured; the machine is shared, so
absolute times are noisy and the side-by-side ratios are the result::

    python -m benchmarks.onnx_crossover            # → benchmarks/results/onnx_crossover-<machine>.{json,md}
    python -m benchmarks.onnx_crossover --quick    # two tiny sizes, nothing written

The table of :mod:`circlearn.deploy.crossover` is read from the stored file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from circlearn.bench.results import RESULTS_DIR, machine_info, machine_tag
from circlearn.bench.timing import time_rounds
from circlearn.data.files import atomic_write
from circlearn.deploy import fourstep
from circlearn.deploy.lowering import MatMulCirculant
from circlearn.deploy.onnx import OPSET, _quiet, build_onnx, quantize_int8
from circlearn.experiments.report import markdown_table
from circlearn.nn import CirculantLinear, fast_path

#: (in, out, diagonal, bias, place, used by). place "frame": 300 rows per video, "video": 1.
LAYERS = [
    (1024, 8192, "learned", False, "frame", "dbof-video-embedding-circulant (embedding)"),
    (128, 1024, "learned", False, "frame", "smaller per-frame size"),
    (8192, 512, "learned", False, "video", "dbof(-video)-fc-circulant video FC, netfv audio FC"),
    (4096, 512, "learned", False, "video", "dbof-fc-circulant, netvlad-fc-circulant audio FC"),
    (65536, 512, "learned", False, "video", "netvlad-fc-circulant video FC"),
    (131072, 512, "learned", False, "video", "netfv-fc-circulant video FC"),
    (512, 19310, None, False, "video", "dbof-video-moe-circulant gates"),
    (512, 15448, None, True, "video", "dbof-video-moe-circulant experts"),
    (32768, 64, "learned", False, "video", "medium-scale NetVLAD/NetFV FC"),
    (2048, 64, "learned", False, "video", "quick-scale NetVLAD FC"),
    (1024, 64, "learned", False, "video", "medium-scale DBoF FC"),
    (256, 64, "learned", False, "video", "quick-scale DBoF FC"),
]
QUICK_LAYERS = [(64, 128, "learned", False, "frame", "tiny"), (32, 8, None, True, "video", "tiny")]
FRAMES = 300
BATCHES = (1, 32)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _export(module: torch.nn.Module, width: int):
    """A one-input ONNX graph ``x (rows, width) → y`` with dynamic rows, as build_onnx does."""
    rows = torch.export.Dim("rows", min=1)
    x = torch.randn(3, width)
    with fast_path(plain=True), torch.no_grad(), _quiet():
        program = torch.onnx.export(module.eval(), (x,), dynamo=True, opset_version=OPSET,
                                    input_names=["x"], output_names=["y"], verbose=False,
                                    dynamic_shapes=({0: rows},), optimize=True)
    return program.model_proto


def _session(proto):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def layer_rows(spec: tuple, rounds: int) -> list[dict]:
    """Time every form of one layer size at the rows of batch 1 and 32 (see the docstring)."""
    n, out, diagonal, bias, place, used_by = spec
    torch.manual_seed(0)
    layer = CirculantLinear(n, out, bias=bias, diagonal=diagonal).eval()
    dense = torch.nn.Linear(n, out, bias=bias).eval()
    with torch.no_grad():
        dense.weight.copy_(layer.dense())
        if bias:
            dense.bias.copy_(layer.bias)
    split = fourstep.split(n)
    matmul_floats = fourstep.stored_floats(n, out, split[0]) if split else None
    fft_floats = fourstep.stored_floats_fft(n, out, fourstep.split_fft(n, out)[0]) \
        if split else None
    sessions = {"ort-dft": _session(_export(layer, n)), "ort-dense": _session(_export(dense, n))}
    if matmul_floats is not None and matmul_floats < n * out:
        sessions["ort-matmul"] = _session(_export(MatMulCirculant(layer, "mix"), n))
    if fft_floats is not None and fft_floats < n * out:
        sessions["ort-matmul-fft"] = _session(_export(MatMulCirculant(layer, "fft"), n))
    rows = []
    for batch in BATCHES:
        r = batch * (FRAMES if place == "frame" else 1)
        x = torch.randn(r, n, generator=torch.Generator().manual_seed(1))
        feed = {"x": x.numpy()}
        with torch.no_grad():
            ref = layer(x).numpy()
        fns = {"torch-circulant": lambda x=x: layer(x), "torch-dense": lambda x=x: dense(x),
               **{k: (lambda s=s, feed=feed: s.run(None, feed)) for k, s in sessions.items()}}
        diff = {k: float(np.abs(s.run(None, feed)[0] - ref).max()) for k, s in sessions.items()}
        with torch.no_grad():
            times = time_rounds(fns, rounds, warmup=2)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        rows.append({"in": n, "out": out, "diagonal": diagonal, "bias": bias, "place": place,
                     "batch": batch, "rows": r, "used_by": used_by, "split": split,
                     "matmul_floats": matmul_floats, "matmul_fft_floats": fft_floats,
                     "dense_floats": n * out,
                     "ms": ms, "max_abs_diff": diff, "rounds": rounds, "load_1min": _load()})
        print(f"[crossover] {n}→{out} rows {r}: " + ", ".join(
            f"{k} {v:.3f}" for k, v in ms.items()) + f" ms (load {rows[-1]['load_1min']})",
            flush=True)
    return rows


#: Model variants of the layout section: (label, preset, lowering, layout).
MODEL_FORMS = [
    ("dense, batch-major", "dbof-video", "dft", "batch-major"),
    ("dense, feature-major", "dbof-video", "dft", "feature-major"),
    ("circulant DFT, batch-major", "dbof-video-embedding-circulant", "dft", "batch-major"),
    ("circulant MatMul, batch-major", "dbof-video-embedding-circulant", "matmul", "batch-major"),
    ("circulant MatMul, feature-major", "dbof-video-embedding-circulant", "matmul",
     "feature-major"),
]


def model_rows(rounds: int, overrides: dict | None = None) -> list[dict]:
    """Whole models (``MODEL_FORMS``) in ONNX Runtime, batch 1, every precision."""
    from circlearn.data.yt8m import dequantize
    from circlearn.deploy.graph import all_frames_model
    from circlearn.models import from_preset

    models, rows = {}, []
    for preset in dict.fromkeys(p for _, p, _, _ in MODEL_FORMS):
        torch.manual_seed(0)
        models[preset] = all_frames_model(from_preset(preset, **(overrides or {})).eval())
    d = next(iter(models.values())).config.input_size
    q = torch.randint(0, 256, (1, FRAMES, d), generator=torch.Generator().manual_seed(1),
                      dtype=torch.uint8)
    feed = {"frames": dequantize(q, dtype=torch.float32).numpy(),
            "num_frames": np.array([FRAMES])}
    for precision in ("fp32", "fp16", "int8"):
        sessions = {}
        for label, preset, lowering, layout in MODEL_FORMS:
            proto = build_onnx(models[preset], "fp16" if precision == "fp16" else "fp32",
                               lowering=lowering, layout=layout)
            sessions[label] = _session(quantize_int8(proto) if precision == "int8" else proto)
            del proto
        times = time_rounds({k: (lambda s=s: s.run(None, feed)) for k, s in sessions.items()},
                            rounds, warmup=2)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        rows.append({"precision": precision, "batch": 1, "frames": FRAMES, "ms": ms,
                     "rounds": rounds, "load_1min": _load()})
        print(f"[crossover] models {precision}: " + ", ".join(
            f"{k} {v:.2f}" for k, v in ms.items()) + f" ms (load {rows[-1]['load_1min']})",
            flush=True)
        del sessions
    return rows


def markdown(payload: dict) -> str:
    """The stored ``.md``: machine and load, the layer table, the model table."""
    info, md = payload["machine"], []
    md += [f"# ONNX circulant lowering crossover on {info['cpu']}", "",
           f"torch {info['torch']}, onnxruntime {payload['onnxruntime']}, one thread everywhere, "
           f"{payload['date']}. 1-minute load average on {info['cpu_count']} cores: "
           f"{payload['load_start']} at the start, {payload['load_end']} at the end (a shared "
           f"machine: absolute times are noisy; forms were timed side by side, in "
           f"interleaved rounds, median ms).", ""]
    forms = ("torch-circulant", "torch-dense", "ort-dft", "ort-matmul", "ort-matmul-fft",
             "ort-dense")
    table = [{"in → out": f"{r['in']} → {r['out']}", "place": r["place"], "batch": r["batch"],
              "rows": r["rows"], **{k: (f"{r['ms'][k]:.3f}" if k in r["ms"] else "n/a")
                                    for k in forms},
              "floats MatMul / MatMul-FFT / dense": (
                  f"{r['matmul_floats']:,} / {r['matmul_fft_floats']:,} / {r['dense_floats']:,}"
                  if r["matmul_floats"] else "n/a"),
              "max abs diff MatMul / MatMul-FFT / DFT": " / ".join(
                  f"{r['max_abs_diff'].get(k, float('nan')):.1e}"
                  for k in ("ort-matmul", "ort-matmul-fft", "ort-dft")),
              "load": r["load_1min"]} for r in payload["layers"]]
    md += ["## Layers (ms)", "", "ort-matmul (three products, stored mixing blocks) and "
           "ort-matmul-fft (the four-step FFT as products) are n/a where they would store at "
           "least as many floats as the dense weight (never considered there).", "",
           markdown_table(table)]
    if payload.get("models"):
        labels = [label for label, *_ in MODEL_FORMS]
        table = [{"precision": r["precision"], **{k: f"{r['ms'][k]:.2f}" for k in labels},
                  "load": r["load_1min"]} for r in payload["models"]]
        md += ["## Whole models, paper size, batch 1, 300 frames (ONNX Runtime, ms)", "",
               "dense = dbof-video, circulant = dbof-video-embedding-circulant.", "",
               markdown_table(table)]
    return "\n".join(md)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two tiny sizes; write nothing")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--skip-models", action="store_true")
    p.add_argument("--out", default=None, help=f"results folder (default {RESULTS_DIR})")
    args = p.parse_args(argv)
    import onnxruntime

    torch.set_num_threads(1)
    rounds = args.rounds or (2 if args.quick else 9)
    payload = {"benchmark": "onnx_crossover", "machine": machine_info(),
               "onnxruntime": onnxruntime.__version__, "date": time.strftime("%Y-%m-%d"),
               "load_start": _load(), "layers": []}
    for spec in (QUICK_LAYERS if args.quick else LAYERS):
        payload["layers"] += layer_rows(spec, rounds)
    if not args.skip_models and not args.quick:
        payload["models"] = model_rows(max(rounds, 15))
    payload["load_end"] = _load()
    if args.quick:
        print(markdown(payload))
        return 0
    out = Path(args.out) if args.out else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"onnx_crossover-{machine_tag()}"
    with atomic_write(stem.with_suffix(".json"), "w") as f:
        f.write(json.dumps(payload, indent=2) + "\n")
    with atomic_write(stem.with_suffix(".md"), "w") as f:
        f.write(markdown(payload) + "\n")
    print(f"[crossover] wrote {stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
