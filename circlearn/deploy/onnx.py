r"""ONNX export of a trained model in three precisions, checked with ONNX Runtime.

Needs the optional ``deploy`` extra (``pip install 'circlearn[deploy]'``: onnx, onnxscript,
onnxruntime); they are imported inside the functions, never when circlearn is imported.

The graph (:class:`circlearn.deploy.graph.DeployGraph`), opset :data:`OPSET` (20)::

    frame level   frames      float32 (batch, frames, features)  dequantized features in
                                                                  feature_names order
                  num_frames  int64   (batch,)                    real frames per video
    video level   features    float32 (batch, features)
    output        probabilities float32 (batch, classes)

``batch`` and ``frames`` are dynamic axes. The per-frame L2 normalization (and the zeroing
of padded frames) is inside the graph; dequantization is not (``q · 4/255 − 1.9921875`` for
YouTube-8M bytes, :func:`circlearn.data.yt8m.dequantize`). The graph uses every real frame:
the model's ``eval_sampling="all"`` mode, whatever mode it was trained and evaluated with (the
paper's evaluation samples 10 bags of 15 frames at random; a graph with a stored draw would
fit one batch size only). ``num_frames = 0`` pools one all-zero frame (finite, the same for
every empty video; :mod:`circlearn.deploy.graph`); values outside ``[0, frames]`` are clamped.

Circulant layers are exported in the form a measured crossover picks per layer
(:mod:`circlearn.deploy.crossover`): three ``MatMul`` s with constant DFT matrices
(:mod:`circlearn.deploy.lowering`), or ``DFT`` nodes traced under ``fast_path(plain=True)``
from ``torch.fft.rfft``/``irfft`` (not by the TorchScript-based exporter: no
``aten::fft_rfft`` at opset 20); no autograd function, numba kernel or ``scipy.fft`` call is
traced. DBoF pools batch- or feature-major, as measured faster for its projection and precision.

Precisions (:data:`PRECISIONS`, files :data:`DEFAULT_FILES`, details in :func:`build_onnx`,
:func:`quantize_int8`): ``fp32`` as trained; ``fp16`` a float16 copy (normalization, FFTs,
inputs and outputs stay float32); ``int8`` dynamic quantization of the dense weights.

Verification (:func:`verify_onnx`): before :func:`export_onnx` returns, ONNX Runtime runs the
file on evaluation records and is compared with the torch model in the same mode
(``eval_sampling="all"``, same precision for fp32 and fp16): the maximum absolute
difference of the probabilities must stay within ``atol`` (fp32 1e-4, fp16 1e-2 by default),
else the file is not written (it is written atomically). For every precision the GAP of the
file and of the fp32 torch model are reported (int8 has no torch twin: its difference to fp32
is the quantization error).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from circlearn.data.files import atomic_write
from circlearn.deploy.graph import DeployGraph, all_frames_model
from circlearn.models import VideoClassifier

__all__ = ["OPSET", "PRECISIONS", "DEFAULT_FILES", "ATOL", "require_deploy", "build_onnx",
           "build_onnx_set",
           "quantize_int8", "dft_matrix_nodes", "export_onnx", "verify_onnx", "onnx_inputs",
           "file_sha256"]

OPSET = 20
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_FILES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}
#: largest absolute difference between ONNX Runtime's and torch's probabilities accepted per
#: precision (int8: not checked).
ATOL = {"fp32": 1e-4, "fp16": 1e-2, "int8": None}


def require_deploy():
    """``(onnx, onnxruntime)``, or ``ModuleNotFoundError`` naming the ``deploy`` extra."""
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (torch's dynamo exporter needs it)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"ONNX export needs the optional 'deploy' dependencies (onnx, onnxscript, "
            f"onnxruntime); {exc.name} is missing: pip install 'circlearn[deploy]'") from None
    return onnx, onnxruntime


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")


class _ThisThreadQuiet(logging.Filter):
    """Drops the records below ``ERROR`` that one thread logs; other threads' pass."""

    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread or record.levelno >= logging.ERROR


#: Loggers the exporter and the quantizer log their progress and advice through: the root
#: logger (``onnxruntime.quantization`` calls ``logging.warning``) and the exporter's
#: operator registry (one warning per export for each missing optional library). A
#: logger's filters see only the records logged through that logger itself.
_NOISY_LOGGERS = ("", "torch.onnx._internal.exporter._registration")


@contextmanager
def _quiet():
    """The exporter's progress prints, warnings and log lines, silenced for this thread.

    Logger levels stay as they are (they are process-wide); a filter drops this thread's
    records below ``ERROR``, so other threads log as before.
    """
    quiet = _ThisThreadQuiet()
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.addFilter(quiet)
        try:
            yield
        finally:
            for lg in loggers:
                lg.removeFilter(quiet)


def _example(model: VideoClassifier) -> tuple[tuple, dict]:
    """Example inputs (batch 3, 13 frames, one empty video) and their dynamic axes."""
    cfg = model.config
    batch, frames = torch.export.Dim("batch", min=1), torch.export.Dim("frames", min=1)
    gen = torch.Generator().manual_seed(0)
    if not cfg.frame_level:
        return (torch.randn(3, cfg.input_size, generator=gen),), {"frames": {0: batch}}
    x = torch.rand(3, 13, cfg.input_size, generator=gen) * 4 - 2  # (3, 13, D)
    n = torch.tensor([13, 5, 0])
    return (x, n), {"frames": {0: batch, 1: frames}, "num_frames": {0: batch}}


def build_onnx(model: VideoClassifier, precision: str = "fp32", *, lowering: str = "auto",
               layout: str = "auto"):
    """The ``onnx.ModelProto`` of ``model`` in ``precision`` (not checked, no metadata).

    Circulant layers are exported as chosen by ``lowering`` and DBoF pooling in the order
    chosen by ``layout`` (:func:`circlearn.deploy.lowering.lower_model`: ``"auto"`` picks per
    layer from the measured crossover of :mod:`circlearn.deploy.crossover`; ``"dft"`` keeps
    every circulant layer as ``DFT`` nodes). ``fp16`` exports a float16 copy of the model:
    weights and activations in float16, inputs and outputs still float32. The input
    normalization runs in float32 (its ``eps = 1e-12`` underflows in float16) and so do the
    FFTs and their matrices (circlearn's precision rule: CPU torch has no half FFT), so
    circulant spectra and DFT matrices stay float32, computed from the float32 parameters.
    The file is about half the fp32 file. ONNX Runtime 1.32's CPU provider runs it, float16
    ``DFT`` included (checked on a one-node graph). ``int8``: :func:`quantize_int8` of the
    fp32 graph (lowered with the int8 layout rule).
    """
    check_precision(precision)
    onnx, _ = require_deploy()
    from circlearn.deploy.lowering import lower_model
    from circlearn.nn import fast_path

    model = model.cpu().eval()
    source = all_frames_model(model)
    target = copy.deepcopy(source).half() if precision == "fp16" else source
    graph = DeployGraph(lower_model(target, lowering, layout, source=source,
                                    precision=precision)).eval()
    args, dynamic = _example(model)
    names = ["frames", "num_frames"] if model.config.frame_level else ["features"]
    with fast_path(plain=True), torch.no_grad(), _quiet():
        program = torch.onnx.export(graph, args, dynamo=True, opset_version=OPSET,
                                    input_names=names, output_names=["probabilities"],
                                    dynamic_shapes=dynamic, optimize=True, verbose=False,
                                    external_data=False)
    proto = program.model_proto
    for node in proto.graph.node:  # the exporter's per-node stack traces: not part of the model
        del node.metadata_props[:]
        node.doc_string = ""
    return quantize_int8(proto) if precision == "int8" else proto


def build_onnx_set(model: VideoClassifier, precisions=PRECISIONS, *, lowering: str = "auto",
                   layout: str = "auto") -> dict:
    """``{precision: build_onnx(model, precision, lowering=lowering, layout=layout)}``,
    exporting once for fp32 and int8 when they lower alike: :func:`build_onnx`'s int8 graph
    is :func:`quantize_int8` of the fp32 graph lowered for int8, so when
    :func:`~circlearn.deploy.lowering.lowering_plan` is the same for both precisions it is
    that of the fp32 graph itself (the export is a function of the lowered model)."""
    from circlearn.deploy.lowering import lowering_plan

    source = all_frames_model(model.cpu().eval())
    built = {}
    for precision in sorted(precisions, key=lambda p: p != "fp32"):  # fp32 first
        if precision == "int8" and "fp32" in built and (
                lowering_plan(source, lowering, layout, "int8")
                == lowering_plan(source, lowering, layout, "fp32")):
            built[precision] = quantize_int8(built["fp32"])
        else:
            built[precision] = build_onnx(model, precision, lowering=lowering, layout=layout)
    return {p: built[p] for p in precisions}


def dft_matrix_nodes(proto) -> list[str]:
    """Names of the nodes that read a lowered circulant layer's DFT matrices (initializers
    named after :data:`circlearn.deploy.lowering.MATRIX_BUFFERS`)."""
    from circlearn.deploy.lowering import MATRIX_BUFFERS

    names = {i.name for i in proto.graph.initializer
             if i.name.rsplit(".", 1)[-1] in MATRIX_BUFFERS}
    return [node.name for node in proto.graph.node if names.intersection(node.input)]


def quantize_int8(proto):
    """ONNX Runtime's dynamic int8 quantization of an fp32 ``ModelProto`` (a new proto).

    ``quantize_dynamic``, int8 weights, per output channel: every dense ``MatMul``/``Gemm``
    weight becomes int8 with float scales and activations are quantized per call. Circulant
    parameters (spectra of ``c``, diagonals ``d``) and biases feed ``DFT``/``Mul``/``Add``
    nodes and stay float32: they are ``O(n)`` per layer (dbof-fc-circulant's FC: 2 × 8,192 +
    2 × 4,096 floats, 98 KB), so a compact model's int8 file is mostly its dense layers.
    The DFT matrices of a lowered circulant layer stay float32 too: their nodes
    (:func:`dft_matrix_nodes`) are excluded explicitly (``nodes_to_exclude``), whatever
    input of the ``MatMul`` they are; quantized, they would cost about 4 % relative error.
    """
    onnx, _ = require_deploy()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(proto, str(src))
        with _quiet():
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=dft_matrix_nodes(proto))
        return onnx.load(str(dst))


def file_sha256(path: str | os.PathLike | None) -> str:
    """SHA-256 of a file's bytes (``""`` for ``None``)."""
    if path is None:
        return ""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _metadata(model: VideoClassifier, precision: str, extra: dict | None) -> dict[str, str]:
    cfg = model.config
    meta = {
        "feature_names": ",".join(cfg.feature_names),
        "feature_sizes": ",".join(map(str, cfg.feature_sizes)),
        "num_classes": str(cfg.num_classes),
        "frame_level": str(cfg.frame_level).lower(),
        "eval_sampling": "all",
        "precision": precision,
        "opset": str(OPSET),
        "inputs": ("frames float32 (batch, frames, features) dequantized, num_frames int64 "
                   "(batch,)" if cfg.frame_level else "features float32 (batch, features)"),
        "outputs": "probabilities float32 (batch, classes)",
        "num_frames_zero": "pooled over one all-zero frame (finite, identical for every "
                           "empty video)",
        "model_config": json.dumps(cfg.to_dict()),
    }
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    return meta


def onnx_inputs(model_config, batch) -> dict[str, np.ndarray]:
    """A :class:`~circlearn.data.batch.Batch` as the graph's numpy inputs (frames dequantized)."""
    from circlearn.data.yt8m import dequantize

    if model_config.frame_level:
        return {"frames": dequantize(batch.frames, dtype=torch.float32).numpy(),
                "num_frames": batch.num_frames.to(torch.int64).numpy()}
    return {"features": batch.features.to(torch.float32).numpy()}


def _torch_inputs(feed: dict[str, np.ndarray]) -> tuple:
    return tuple(torch.from_numpy(v) for v in feed.values())


def verify_onnx(path_or_bytes, model: VideoClassifier, batches: Iterable, precision: str, *,
                atol: float | None = None, top_k: int = 20) -> dict:
    """Run the ONNX file with ONNX Runtime on ``batches`` beside the torch model.

    Returns ``{"videos", "max_abs_diff" (vs the same-precision torch graph; int8: vs fp32),
    "max_abs_diff_fp32", "gap_onnx", "gap_torch_fp32", "gap_change"}``; raises
    ``RuntimeError`` when the difference exceeds ``atol`` (default :data:`ATOL`) or an output
    is not finite.
    """
    check_precision(precision)
    _, ort = require_deploy()
    from circlearn.metrics import EvaluationMetrics

    atol = ATOL[precision] if atol is None else atol
    ref32 = all_frames_model(model.cpu())
    twin = None
    if precision == "fp16":
        twin = DeployGraph(copy.deepcopy(ref32).half()).eval()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    v = model.config.num_classes
    m_onnx, m_torch = EvaluationMetrics(v, top_k=top_k), EvaluationMetrics(v, top_k=top_k)
    diff = diff32 = 0.0
    videos = 0
    for batch in batches:
        feed = onnx_inputs(model.config, batch)
        out = session.run(["probabilities"], feed)[0]  # (B, V)
        if not np.isfinite(out).all():
            raise RuntimeError(f"ONNX Runtime gave non-finite probabilities for videos "
                               f"{batch.ids[:5]}")
        with torch.no_grad():  # the model as users run it (fast path), in the graph's mode
            ref = ref32(*_torch_inputs(feed)).numpy()
            same = twin(*_torch_inputs(feed)).numpy() if twin is not None else ref
        diff32 = max(diff32, float(np.abs(out - ref).max(initial=0.0)))
        diff = max(diff, float(np.abs(out - same).max(initial=0.0)))
        labels = batch.labels.numpy()
        m_onnx.accumulate(out, labels)
        m_torch.accumulate(ref, labels)
        videos += len(batch)
    if videos == 0:
        raise ValueError("no evaluation videos to verify the export on")
    if atol is not None and not diff <= atol:
        raise RuntimeError(f"ONNX Runtime differs from the torch model ({precision}) by "
                           f"{diff:.3g} > {atol} on {videos} videos: not written")
    gap_onnx, gap_torch = m_onnx.compute()["gap"], m_torch.compute()["gap"]
    return {"videos": videos, "max_abs_diff": diff if precision != "int8" else diff32,
            "max_abs_diff_fp32": diff32, "atol": atol, "gap_onnx": gap_onnx,
            "gap_torch_fp32": gap_torch, "gap_change": gap_onnx - gap_torch}


def export_onnx(model: VideoClassifier, path: str | os.PathLike, *, precision: str = "fp32",
                batches: Iterable | None = None, metadata: dict | None = None,
                atol: float | None = None, lowering: str = "auto", layout: str = "auto") -> dict:
    """Build (``lowering``, ``layout``: as :func:`build_onnx`), check (``onnx.checker``),
    verify on ``batches`` and write ``path`` atomically.

    ``batches``: evaluation :class:`~circlearn.data.batch.Batch` es (a re-iterable; ``None``
    skips the verification, for benchmarks of untrained models). ``metadata``: extra
    ``metadata_props`` (e.g. ``vocabulary_sha256``). Returns ``{"path", "format",
    "precision", "opset", "bytes", "parameters", ...verify_onnx's keys}``.
    """
    check_precision(precision)
    onnx, _ = require_deploy()
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"output directory {path.parent} does not exist")
    proto = build_onnx(model, precision, lowering=lowering, layout=layout)
    onnx.helper.set_model_props(proto, _metadata(model, precision, metadata))
    proto.doc_string = (f"circlearn {model.config.pooling or 'video-level'} model, {precision}, "
                        f"eval_sampling=all; see circlearn/deploy/onnx.py")
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    result = {"path": str(path), "format": "onnx", "precision": precision, "opset": OPSET,
              "bytes": len(data),
              "parameters": sum(p.numel() for p in model.parameters())}
    if batches is not None:
        result.update(verify_onnx(data, model, batches, precision, atol=atol))
    with atomic_write(path, "wb") as f:
        f.write(data)
    return result
