"""``circlearn bench``: runs ``benchmarks/run.py`` of the source checkout circlearn lives in.

The benchmarks are not part of the installed package (they need the sources, the ``tfrecord``
comparison package and write into ``benchmarks/results/``), so this command works from an
editable install or a checkout and says so otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

__all__ = ["configure_parser", "run"]


def _harness():
    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "run.py").is_file():
        raise ValueError("circlearn bench needs a source checkout (benchmarks/ is not installed): "
                         "clone the repository and `pip install -e .` there")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # the checkout's top-level `benchmarks` package
    return importlib.import_module("benchmarks.run")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    _harness().configure_parser(parser)


def run(args: argparse.Namespace) -> int:
    return _harness().run(args)
