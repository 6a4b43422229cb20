"""The ``circlearn`` command line: the dispatcher, a thin layer over the library.

This module is the top of the import graph: it imports the command modules, and no circlearn
module imports it back (only the ``circlearn`` entry point and ``python -m circlearn``;
``tests/test_layering.py`` checks). Each sub-command lives next to the code it drives and
exposes two functions (or ``configure_<command>_parser``/``run_<command>`` when one module
serves several commands)::

    configure_parser(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int

The options themselves are built with :mod:`circlearn.config` (shared by every command).
``COMMANDS`` maps the command name to ``(module, one-line help)``; modules are imported only
when their command runs, so ``circlearn --help`` stays fast.

User errors (bad paths, inconsistent sizes, corrupt files, unknown names) are raised by the
library as ``ValueError``/``FileNotFoundError``/``PermissionError``; here they become one line
on stderr and exit code 2, without a traceback. Set ``CIRCLEARN_DEBUG=1`` to see the traceback.
Any other exception (a ``KeyError`` or ``TypeError`` included) is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

__all__ = ["COMMANDS", "build_parser", "full_parser", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("circlearn.training.cli",
              "train a model (resumes when the run directory exists)"),
    "eval": ("circlearn.training.cli", "evaluate a checkpoint (or follow new ones)"),
    "predict": ("circlearn.training.cli", "write Kaggle-format top-20 predictions"),
    "compress": ("circlearn.training.cli",
                 "project a trained dense run onto a compact structure, then fine-tune"),
    "export": ("circlearn.deploy.cli", "export a trained model to a deployable artifact"),
    "experiment": ("circlearn.experiments.cli", "run one of the paper's experiments"),
    "bench": ("circlearn.bench.cli", "run the benchmark suites (circlearn.bench)"),
    "data": ("circlearn.data.cli", "synthesize or inspect YouTube-8M-format files"),
}

USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, IsADirectoryError)


def _command_module(name: str):
    module_name, _ = COMMANDS[name]
    return importlib.import_module(module_name)


def build_parser(argv: list[str] | None = None, *, every: bool = False) -> argparse.ArgumentParser:
    """The ``circlearn`` parser; only the command named in ``argv`` (or, with ``every``, each
    command) gets its options, so that parsing imports one command module."""
    parser = argparse.ArgumentParser(
        prog="circlearn",
        description="Compact video classification with circulant matrices.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # Only the chosen command's module is imported (keeps --help and start-up fast).
    wanted = None
    if argv:
        wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if every or name == wanted:
            module = _command_module(name)
            configure = getattr(module, f"configure_{name}_parser", None) or module.configure_parser
            configure(p)
    return parser


def full_parser() -> argparse.ArgumentParser:
    """The ``circlearn`` parser with every command and its options configured (it imports every
    command module): what the book's command-line reference renders.

    >>> sorted(full_parser()._subparsers._group_actions[0].choices) == sorted(COMMANDS)
    True
    """
    return build_parser(every=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "circlearn"
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        args.command_line = ["circlearn", *argv]  # recorded by commands that keep provenance
        command = args.command
        module = _command_module(command)
        runner = getattr(module, f"run_{command}", None) or module.run
        return int(runner(args) or 0)
    except USER_ERRORS as exc:
        if os.environ.get("CIRCLEARN_DEBUG"):
            raise
        print(f"circlearn {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"circlearn {command}: interrupted", file=sys.stderr)
        return 130
