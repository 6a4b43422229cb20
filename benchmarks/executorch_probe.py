"""Probe: do circlearn's circulant layers lower to ExecuTorch (on-device PyTorch)?

Not part of circlearn (ExecuTorch is no dependency). Run it where ``executorch`` is installed::

    python benchmarks/executorch_probe.py dbof-fc-circulant          # tiny sizes
    python benchmarks/executorch_probe.py dbof-video-moe-circulant --paper-size

It exports :class:`circlearn.deploy.graph.DeployGraph` (the ONNX export's graph: every frame,
masks, ``fast_path(plain=True)``) with ``torch.export`` and lowers it with ExecuTorch's
default (verified) edge dialect, then with ``EdgeCompileConfig(_check_ir_validity=False)``,
and for each prints whether it lowered, the ``.pte`` size, and the largest difference of
the ExecuTorch runtime's probabilities to the torch model on a random batch (2 videos, 13 and
4 frames). Results measured with ExecuTorch 1.5.1 and torch 2.13 are in the README
(section Deploy).
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("preset")
    p.add_argument("--paper-size", action="store_true", help="the preset at the paper's size")
    p.add_argument("--out", default=None, help="write the .pte of the last lowering here")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    from executorch.exir import EdgeCompileConfig, to_edge
    from executorch.runtime import Runtime

    from circlearn.deploy.graph import DeployGraph, all_frames_model
    from circlearn.models import from_preset, preset_config
    from circlearn.nn import fast_path

    torch.manual_seed(0)
    tiny = {} if args.paper_size else {
        "feature_sizes": (16, 8), "num_classes": 10, "hidden_size": 8,
        "cluster_sizes": (32,) if len(preset_config(args.preset).streams) == 1 else (32, 16)}
    model = all_frames_model(from_preset(args.preset, **tiny).eval())
    d = model.config.input_size
    batch, frames = torch.export.Dim("batch", min=1), torch.export.Dim("frames", min=1)
    example = (torch.rand(3, 13, d) * 4 - 2, torch.tensor([13, 5, 0]))
    with fast_path(plain=True), torch.no_grad():
        program = torch.export.export(DeployGraph(model).eval(), example, dynamic_shapes={
            "frames": {0: batch, 1: frames}, "num_frames": {0: batch}})
    x, n = torch.rand(2, 13, d) * 4 - 2, torch.tensor([13, 4])
    with torch.no_grad():
        ref = model(x, n)
    for label, config in (("verified edge dialect", EdgeCompileConfig()),
                          ("_check_ir_validity=False", EdgeCompileConfig(_check_ir_validity=False))):
        tick = time.perf_counter()
        try:
            buffer = to_edge(program, compile_config=config).to_executorch().buffer
        except Exception as exc:  # report and go on: the probe's point is which step fails
            first = str(exc).splitlines()[0] if str(exc) else ""
            print(f"{label}: does not lower ({type(exc).__name__}: {first[:300]})")
            continue
        method = Runtime.get().load_program(buffer).load_method("forward")
        out = method.execute([x, n])[0]
        print(f"{label}: lowered in {time.perf_counter() - tick:.1f} s, .pte {len(buffer):,} "
              f"bytes; max |ExecuTorch - torch| {float((out - ref).abs().max()):.2g}")
        if args.out:
            with open(args.out, "wb") as f:
                f.write(buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
