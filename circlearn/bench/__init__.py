r"""Benchmarks: speed, memory and throughput, measured side by side (``circlearn bench``).

Suites (:data:`SUITES`; each module has ``run(quick=False, out_dir=None, ...)``, and a
``main`` for suite-specific options: ``python -m circlearn.bench.models --batch 8``):

- ``layers``  CirculantLinear vs nn.Linear vs the paper's complex-FFT formulation
  (:class:`circlearn.nn.PaperCirculant`); ``--sweep`` adds n ∈ {1024 … 16384} × batch
  ∈ {1 … 1024}, forward and forward+backward, achieved GB/s beside the copy bandwidth;
- ``models``  training videos/s and parameter memory per preset;
- ``data``    TFRecord frame-level reading speed vs the ``tfrecord`` package (a test extra);
- ``metrics`` EvaluationMetrics vs the literal reference algorithm, speed and memory;
- ``deploy``  TorchScript/ONNX file size per precision, peak memory and batch-1 one-thread
  latency in torch eager, TorchScript and ONNX Runtime (needs the ``deploy`` extra).

Protocol: :mod:`circlearn.bench.timing`, the one timer (pinned threads, warm-up, medians of
interleaved rounds, CUDA events on GPU); :mod:`circlearn.bench.results` stores machine facts
with every result in ``benchmarks/results/<suite>-<machine>.{json,md}`` under the working
directory (or ``--out DIR``). ``--quick`` runs tiny sizes and writes nothing. The command
line is :mod:`circlearn.bench.cli`.
"""

__all__ = ["SUITES", "CUDA_SUITES"]

#: Suite name → the module that runs it. One line adds a suite.
SUITES: dict[str, str] = {
    "layers": "circlearn.bench.layers",
    "models": "circlearn.bench.models",
    "data": "circlearn.bench.data",
    "metrics": "circlearn.bench.metrics",
    "deploy": "circlearn.bench.deploy",
}

#: Suites run by default on ``--device cuda`` (the others measure CPU-only code).
CUDA_SUITES = ("layers", "models")
