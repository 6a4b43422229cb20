r"""``circlearn export``: a trained run's model → a verified deployable file.

Examples::

    circlearn export --train-dir runs/dbof        # → runs/dbof/export/model.torchscript.pt
    circlearn export --train-dir runs/dbof --format onnx --precision int8   # → model.int8.onnx

What the command writes and checks is :func:`circlearn.deploy.export.export_run`. The run's
options (``--train-dir``, ``--checkpoint``, ``--eval-data-pattern``) have the names they have
in ``circlearn eval`` (:mod:`circlearn.training.options`). ``configure_parser(parser)`` and
``run(args)`` are called by the dispatcher (:mod:`circlearn.cli`); nothing in the library
imports this module.
"""

from __future__ import annotations

import argparse

from circlearn.training.options import add_train_options, add_trained_model_options

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    add_trained_model_options(p)
    _add_export_options(p.add_argument_group("export"))


def _add_export_options(g) -> None:
    """The export-only options (artifact path and form); new export options go here."""
    from circlearn.deploy.export import FORMATS, PRECISIONS
    from circlearn.deploy.lowering import LAYOUTS, LOWERINGS

    g.add_argument("--format", dest="format", choices=FORMATS, default="torchscript",
                   help="torchscript (default) or onnx (needs the 'deploy' extra)")
    g.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="onnx: fp32 (default), fp16 (float16 weights and activations) or int8 "
                        "(dynamic quantization of the dense weights)")
    g.add_argument("--lowering", choices=LOWERINGS, default="auto",
                   help="onnx: how circulant layers are written: auto (default: per layer size, "
                        "from the measured crossover), matmul (three MatMuls, fastest, largest "
                        "file), matmul-fft (the four-step FFT as MatMuls) or dft (ONNX DFT "
                        "nodes: smallest file, slow in ONNX Runtime)")
    g.add_argument("--layout", choices=LAYOUTS, default="auto",
                   help="onnx: the order DBoF pools frames in (default auto: per form and "
                        "precision, from the measured crossover)")
    g.add_argument("--output", default=None,
                   help="artifact path (default TRAIN_DIR/export/model.torchscript.pt, "
                        "model.onnx, model.fp16.onnx or model.int8.onnx)")
    add_train_options(g, ("eval_data",))  # records the export is verified on (default: the run's)
    g.add_argument("--verify-videos", type=int, default=1000,
                   help="evaluation videos the export is verified on (default 1000)")
    g.add_argument("--vocabulary", default=None,
                   help="onnx: vocabulary.csv whose SHA-256 goes into the metadata (default: "
                        "the one beside the evaluation data)")
    g.add_argument("--max-batch", type=int, default=512,
                   help="torchscript: largest batch the artifact accepts (stored evaluation "
                        "frame draws)")


def run(args: argparse.Namespace) -> int:
    from circlearn.deploy.export import export_run, format_report

    try:
        result = export_run(args.run_dir, fmt=args.format, precision=args.precision,
                            output=args.output, checkpoint=args.checkpoint,
                            eval_data=args.eval_data, verify_videos=args.verify_videos,
                            vocabulary=args.vocabulary, max_batch=args.max_batch,
                            lowering=args.lowering, layout=args.layout)
    except ModuleNotFoundError as exc:  # the optional deploy extra
        raise ValueError(str(exc)) from None
    print(format_report(result))
    return 0
