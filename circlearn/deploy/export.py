r"""A run directory's model → a verified TorchScript or ONNX file (``circlearn export``).

::

    circlearn export --train-dir RUN                                  # RUN/export/model.torchscript.pt
    circlearn export --train-dir RUN --format onnx                    # RUN/export/model.onnx
    circlearn export --train-dir RUN --format onnx --precision fp16   # RUN/export/model.fp16.onnx
    circlearn export --train-dir RUN --format onnx --precision int8   # RUN/export/model.int8.onnx

Every export is checked on records of the run's evaluation data (``config.json``'s
``eval_data``, or ``--eval-data-pattern``; the first ``--verify-videos`` videos) before the
command returns: the file is run (TorchScript: ``torch.jit.load``; ONNX: ONNX Runtime) beside
the model, and the maximum absolute difference of the probabilities, the GAP of both and the
file size are printed. TorchScript reproduces the model's own evaluation mode
(:mod:`circlearn.deploy.torchscript`); ONNX uses every frame (``eval_sampling="all"``,
:mod:`circlearn.deploy.onnx`), and its torch reference runs in that mode too.

ONNX metadata (``metadata_props``) holds the feature names and sizes, the class count, the
precision, the opset, the input/output description and ``vocabulary_sha256``, the SHA-256 of
the ``vocabulary.csv`` found beside the evaluation data (``DIR/`` or ``DIR/..`` of the
pattern; ``--vocabulary`` names it explicitly; empty when there is none). The command line
is :mod:`circlearn.deploy.cli`.
"""

from __future__ import annotations

import glob
import os
import warnings
from pathlib import Path

import torch

from circlearn.deploy.onnx import DEFAULT_FILES, PRECISIONS

__all__ = ["FORMATS", "PRECISIONS", "default_output", "find_vocabulary", "verification_batches",
           "export_run", "verify_torchscript", "format_report"]

FORMATS = ("torchscript", "onnx")


def default_output(train_dir: str | os.PathLike, fmt: str, precision: str) -> Path:
    """``RUN/export/model.torchscript.pt``, ``model.onnx``, ``model.fp16.onnx``, ``model.int8.onnx``."""
    name = "model.torchscript.pt" if fmt == "torchscript" else DEFAULT_FILES[precision]
    return Path(train_dir) / "export" / name


def find_vocabulary(pattern: str | None) -> Path | None:
    """``vocabulary.csv`` in the folder of the first file of ``pattern`` or its parent."""
    if not pattern:
        return None
    files = sorted(f for p in pattern.split(",") for f in glob.glob(p.strip()))
    if not files:
        return None
    folder = Path(files[0]).resolve().parent
    for candidate in (folder / "vocabulary.csv", folder.parent / "vocabulary.csv"):
        if candidate.is_file():
            return candidate
    return None


def verification_batches(pattern: str, config, videos: int, batch_size: int = 64) -> list:
    """The first ``videos`` videos of ``pattern`` (file order) as a list of batches."""
    from circlearn.training.evaluation import eval_loader

    if videos < 1:
        raise ValueError(f"--verify-videos must be >= 1, got {videos}")
    out, count = [], 0
    for batch in eval_loader(pattern, config, batch_size=min(batch_size, videos)):
        out.append(batch)
        count += len(batch)
        if count >= videos:
            break
    if not out:
        raise ValueError(f"no evaluation videos in {pattern!r} to verify the export on")
    return out


@torch.no_grad()
def verify_torchscript(path, model, batches, top_k: int = 20) -> dict:
    """The TorchScript file beside the model (its own evaluation mode) on ``batches``."""
    from circlearn.metrics import EvaluationMetrics
    from circlearn.training.evaluation import model_inputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.9+: TorchScript frozen
        loaded = torch.jit.load(str(path))
    v = model.config.num_classes
    m_file, m_model = EvaluationMetrics(v, top_k=top_k), EvaluationMetrics(v, top_k=top_k)
    diff, videos = 0.0, 0
    for batch in batches:
        inputs = model_inputs(batch, "cpu")
        ref, out = model(*inputs), loaded(*inputs)
        diff = max(diff, float((out - ref).abs().max()))
        m_file.accumulate(out.numpy(), batch.labels.numpy())
        m_model.accumulate(ref.numpy(), batch.labels.numpy())
        videos += len(batch)
    gap_file, gap_model = m_file.compute()["gap"], m_model.compute()["gap"]
    return {"videos": videos, "max_abs_diff": diff, "gap_file": gap_file, "gap_model": gap_model,
            "gap_change": gap_file - gap_model}


def export_run(train_dir: str | os.PathLike, *, fmt: str = "torchscript", precision: str = "fp32",
               output: str | os.PathLike | None = None, checkpoint: str | None = None,
               eval_data: str | None = None, verify_videos: int = 1000,
               vocabulary: str | os.PathLike | None = None, max_batch: int = 512,
               lowering: str = "auto", layout: str = "auto") -> dict:
    """Export the model of ``train_dir`` (see the module docstring); returns the report dict.
    ``lowering`` and ``layout``: how an ONNX file writes circulant layers and DBoF pooling
    (:func:`circlearn.deploy.onnx.build_onnx`); TorchScript takes only the defaults."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if fmt == "torchscript" and precision != "fp32":
        raise ValueError(f"--precision {precision} needs --format onnx (TorchScript exports "
                         f"fp32 only)")
    if fmt == "torchscript" and (lowering, layout) != ("auto", "auto"):
        raise ValueError("--lowering and --layout apply to --format onnx only")
    if fmt == "onnx":
        from circlearn.deploy.onnx import require_deploy

        require_deploy()  # before loading anything: a missing extra is the first error
    from circlearn.training.evaluation import load_model

    model, config, info = load_model(train_dir, checkpoint, "cpu")
    pattern = eval_data or config.eval_data
    if not pattern:
        raise ValueError(f"{train_dir}/config.json has no eval_data: pass --eval-data-pattern "
                         f"to verify the export on evaluation records")
    out = Path(output) if output is not None else default_output(train_dir, fmt, precision)
    if output is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    # a TorchScript artifact of a "random"-sampling model accepts at most max_batch videos
    batches = verification_batches(pattern, config, verify_videos,
                                   batch_size=min(64, max_batch) if fmt == "torchscript" else 64)
    if fmt == "torchscript":
        from circlearn.deploy.torchscript import export_torchscript

        result = export_torchscript(model, out, max_batch=max_batch, max_frames=config.max_frames)
        result.update(verify_torchscript(out, model, batches))
    else:
        from circlearn.deploy.onnx import export_onnx, file_sha256

        vocab = Path(vocabulary) if vocabulary is not None else find_vocabulary(pattern)
        if vocab is not None and not vocab.is_file():
            raise FileNotFoundError(f"vocabulary file {vocab} not found")
        meta = {"vocabulary_sha256": file_sha256(vocab), "checkpoint_step": info["step"],
                "preset": config.preset or ""}
        result = export_onnx(model, out, precision=precision, batches=batches, metadata=meta,
                             lowering=lowering, layout=layout)
        result["vocabulary"] = str(vocab) if vocab is not None else None
    result["checkpoint"] = info["path"]
    return result


def format_report(result: dict) -> str:
    """The lines ``circlearn export`` prints."""
    mb = result["bytes"] / 1e6
    if result["format"] == "torchscript":
        return (f"exported {result['checkpoint']} to {result['path']}: {mb:.3f} MB, TorchScript "
                f"({result['parameters']:,} parameters)\n"
                f"verified on {result['videos']} evaluation videos: max |difference| to the "
                f"model {result['max_abs_diff']:.2g}; GAP file {result['gap_file']:.4f}, "
                f"model {result['gap_model']:.4f}")
    ref = "fp32 torch model" if result["precision"] == "int8" else \
        f"{result['precision']} torch model"
    return (f"exported {result['checkpoint']} to {result['path']}: {mb:.3f} MB, ONNX opset "
            f"{result['opset']}, {result['precision']} ({result['parameters']:,} parameters)\n"
            f"verified with ONNX Runtime on {result['videos']} evaluation videos, every frame "
            f"(eval_sampling=all): max |difference| to the {ref} {result['max_abs_diff']:.2g}; "
            f"GAP ONNX {result['gap_onnx']:.4f}, torch fp32 {result['gap_torch_fp32']:.4f} "
            f"(change {result['gap_change']:+.4f})")
