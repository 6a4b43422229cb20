r"""Configuration dataclasses as values: built from dicts, and command-line options from their fields.

circlearn's configurations (``ModelConfig``, ``TrainConfig``, ``SynthConfig``) are dataclasses
whose class docstring documents each field in an ``Attributes:`` section. Everything that reads
them from outside Python lives here (the neutral layer below every ``circlearn`` sub-command;
none of it imports the dispatcher :mod:`circlearn.cli`, which imports the commands)::

    dataclass_from_dict(TrainConfig, data)  config.json back to a config, naming unknown keys
    field_docs(TrainConfig)                 the Attributes text per field (one line each)
    add_alias_option(parser, "train-dir")   --train-dir, plus the starter code's --train_dir
    add_config_options(parser, TrainConfig, fields, names=..., choices=...)
                                            one option per field: type from the annotation,
                                            help from the class docstring's Attributes section,
                                            default from the field (or None: "keep")
    config_values(args, dests)              the values given, as {field: value}
    parse_field(TrainConfig, "seed", "3")   one field's value from text, as its option parses it

Types follow the annotations: ``int``/``float``/``str``; ``tuple[int, ...]``/``tuple[str, ...]``
as comma-separated lists (``--feature-sizes 128,16``); ``bool`` as ``--name [true|false]`` and
``--no-name``; ``X | None`` as ``X``.

>>> import argparse
>>> from dataclasses import dataclass
>>> @dataclass
... class Opt:
...     '''Options.
...
...     Attributes:
...         batch_size: videos per step.
...         sizes: feature sizes.
...         shuffle: shuffle the files.
...     '''
...     batch_size: int = 80
...     sizes: tuple[int, ...] = (1024, 128)
...     shuffle: bool = True
>>> p = argparse.ArgumentParser()
>>> dests = add_config_options(p, Opt)
>>> config_values(p.parse_args(["--batch_size", "8", "--sizes", "128,16", "--no-shuffle"]), dests)
{'batch_size': 8, 'sizes': (128, 16), 'shuffle': False}
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["dataclass_from_dict", "field_docs", "add_alias_option", "add_deprecated_option",
           "add_config_options", "config_values", "parse_bool", "parse_ints", "parse_floats",
           "parse_names", "parse_field", "KEEP"]


def dataclass_from_dict(cls, data: dict[str, Any]):
    """``cls(**data)`` for the config dataclass ``cls``; an unknown key raises ``ValueError``
    naming it and the valid fields.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Run:
    ...     steps: int = 1
    ...     lr: float = 0.1
    >>> dataclass_from_dict(Run, {"steps": 3})
    Run(steps=3, lr=0.1)
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; valid: {sorted(names)}")
    return cls(**data)


_ENTRY = re.compile(r"^(?P<names>[A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)\s*:\s*(?P<text>.*)$")


def field_docs(cls) -> dict[str, str]:
    """Field name → its text in ``cls``'s ``Attributes:`` docstring section (one line).

    An entry ``a, b: text`` documents both ``a`` and ``b``; indented continuation lines are
    joined. Fields without an entry are absent.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Run:
    ...     '''A run.
    ...
    ...     Attributes:
    ...         steps: optimiser steps.
    ...         lr, decay: the schedule
    ...             (staircase).
    ...     '''
    ...     steps: int = 1
    ...     lr: float = 0.1
    ...     decay: float = 0.5
    >>> field_docs(Run)
    {'steps': 'optimiser steps.', 'lr': 'the schedule (staircase).', 'decay': 'the schedule (staircase).'}
    """
    doc = inspect.getdoc(cls) or ""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    fields = {f.name for f in dataclasses.fields(cls)}
    docs: dict[str, str] = {}
    names: list[str] = []
    indent = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:  # the section ended
            break
        match = _ENTRY.match(line.strip()) if width == indent else None
        if match:
            names = [n.strip() for n in match["names"].split(",")]
            for name in names:
                docs[name] = match["text"].strip()
        else:
            for name in names:
                docs[name] = f"{docs[name]} {line.strip()}".strip()
    return {name: text for name, text in docs.items() if name in fields}


#: The ``defaults=`` value that makes an option default to ``None`` ("keep the base config").
KEEP = object()


def add_alias_option(parser, name: str, *aliases: str, **kwargs) -> argparse.Action:
    """Add ``--kebab-name`` with the starter code's ``--snake_name`` (and ``aliases``) too.

    >>> p = argparse.ArgumentParser()
    >>> _ = add_alias_option(p, "train-dir", default=None)
    >>> p.parse_args(["--train_dir", "runs/x"]).train_dir
    'runs/x'
    """
    flags = [f"--{name}"]
    for alias in (name, *aliases):
        for spelling in (alias, alias.replace("-", "_")):
            if f"--{spelling}" not in flags:
                flags.append(f"--{spelling}")
    return parser.add_argument(*flags, **kwargs)


def add_deprecated_option(parser, old: str, new: str, dest: str, **kwargs) -> None:
    """``--old`` (and ``--old_snake``) still work as ``--new`` but print a deprecation note."""

    class Deprecated(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            print(f"{parser.prog}: warning: {option_string} is deprecated; use --{new}",
                  file=sys.stderr)
            setattr(namespace, self.dest, values)

    add_alias_option(parser, old, dest=dest, action=Deprecated, help=argparse.SUPPRESS, **kwargs)


def parse_bool(text: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case)."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _list_parser(kind, what: str):
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {what}, got {text!r}") from None
    parse.__name__ = f"parse_{what}"
    return parse


parse_ints = _list_parser(int, "integers")
parse_floats = _list_parser(float, "numbers")


def parse_names(text: str) -> tuple[str, ...]:
    """Comma-separated names, blanks dropped: ``"rgb, audio"`` → ``("rgb", "audio")``."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _plain(text: str) -> str:
    """Docstring markup to terminal text: ``x`` → x, :func:`a.b` → a.b."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "").replace("%", "%%")


def _parser_for(annotation) -> tuple[object, str]:
    """``(type callable or bool, metavar)`` for a field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _parser_for(args[0])
    if origin is tuple:
        inner = typing.get_args(annotation)[0]
        parse = {int: parse_ints, float: parse_floats, str: parse_names}.get(inner)
        if parse is not None:
            return parse, f"{inner.__name__.upper()},..."
    if annotation in (int, float, str, bool):
        return annotation, annotation.__name__.upper()
    raise TypeError(f"no command-line type for a field annotated {annotation!r}")


def parse_field(cls, name: str, text: str, choices: Sequence | None = None):
    """The value of field ``name`` of the dataclass ``cls`` from ``text``, parsed as its
    option in :func:`add_config_options` parses it (same type parser, same ``choices``).

    Raises ``ValueError`` naming the field for an unknown field, a value that does not
    parse, or one outside ``choices``.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Run:
    ...     steps: int = 1
    ...     sizes: tuple[int, ...] = (1,)
    ...     shuffle: bool = True
    >>> parse_field(Run, "sizes", "4,8"), parse_field(Run, "shuffle", "no")
    ((4, 8), False)
    >>> parse_field(Run, "steps", "two")
    Traceback (most recent call last):
    ...
    ValueError: Run field steps: bad value 'two' (expected INT)
    """
    hints = typing.get_type_hints(cls)
    if name not in {f.name for f in dataclasses.fields(cls)}:
        raise ValueError(f"unknown {cls.__name__} field {name!r}")
    parse, metavar = _parser_for(hints[name])
    parse = parse_bool if parse is bool else parse
    try:
        value = parse(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise ValueError(f"{cls.__name__} field {name}: bad value {text!r} (expected "
                         f"{'BOOL' if parse is parse_bool else metavar})") from None
    if choices is not None and value not in choices:
        raise ValueError(f"{cls.__name__} field {name}: {value!r} is not one of "
                         f"{', '.join(str(c) for c in choices if c is not None)}")
    return value


def add_config_options(parser, cls, fields: Iterable[str] | None = None, *,
                       names: Mapping[str, Sequence[str]] | None = None,
                       choices: Mapping[str, Sequence] | None = None,
                       defaults: Mapping[str, object] | None = None,
                       required: Iterable[str] = (), keep: str | None = None,
                       dest_prefix: str = "") -> dict[str, str]:
    """One option per field of the dataclass ``cls``; returns ``{field: dest}``.

    Args:
        fields: the fields to expose (default: all, in declaration order).
        names: field → option names (kebab-case first, then aliases) where they are not the
            field's own name; every name also gets its snake_case spelling.
        choices: field → allowed values.
        defaults: field → default replacing the dataclass's (``KEEP``: None).
        required: fields that must be given (no default).
        keep: every default is None, and help shows this phrase as the default (e.g.
            ``"the preset's"``): the value is taken from a base config unless given.
        dest_prefix: prefix of the ``argparse`` destinations (keeps two configs apart).
    """
    names, choices, defaults = names or {}, choices or {}, defaults or {}
    required = set(required)
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    dests = {}
    for name in (list(by_name) if fields is None else fields):
        f = by_name[name]
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        default = defaults.get(name, None if keep else default)
        default = None if default is KEEP else default
        parse, metavar = _parser_for(hints[name])
        shown = keep if default is None and keep else \
            ",".join(map(str, default)) if isinstance(default, tuple) else default
        text = _plain(docs.get(name, name.replace("_", " ")))
        option, *aliases = names.get(name, (name.replace("_", "-"),))
        dest = dest_prefix + name
        if parse is bool:
            add_alias_option(parser, option, *aliases, dest=dest, type=parse_bool, nargs="?",
                             const=True, default=default, metavar="BOOL",
                             help=f"{text} (default: {shown}; --no-{option}: false)")
            add_alias_option(parser, f"no-{option}", dest=dest, action="store_false",
                             help=argparse.SUPPRESS)
        else:
            help_text = f"{text} (required)" if name in required else f"{text} (default: {shown})"
            # None (e.g. "no pooling") is a config value, not something typed on a command line
            extra = {"choices": [c for c in choices[name] if c is not None]} \
                if name in choices else {}
            if name in required:
                extra["required"] = True
            add_alias_option(parser, option, *aliases, dest=dest, type=parse, default=default,
                             metavar=None if "choices" in extra else metavar, help=help_text,
                             **extra)
        dests[name] = dest
    return dests


def config_values(args: argparse.Namespace, dests: Mapping[str, str]) -> dict:
    """``{field: value}`` for the options of :func:`add_config_options` that are not None."""
    return {name: getattr(args, dest) for name, dest in dests.items()
            if getattr(args, dest, None) is not None}
