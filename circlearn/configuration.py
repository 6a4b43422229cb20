r"""Configuration dataclasses as values: built from dicts, documented field by field.

circlearn's configurations (:class:`~circlearn.models.ModelConfig`,
:class:`~circlearn.training.TrainConfig`, :class:`~circlearn.data.synth.SynthConfig`) are
dataclasses whose class docstring documents each field in an ``Attributes:`` section. Two
things read them from outside Python, and both live here:

- :func:`dataclass_from_dict`: ``config.json`` back to a config, naming unknown keys;
- :func:`field_docs`: the ``Attributes:`` text per field, which the command line shows as
  each generated option's help (:mod:`circlearn.arguments`).

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
>>> dataclass_from_dict(Run, {"steps": 3})
Run(steps=3, lr=0.1, decay=0.5)
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

__all__ = ["dataclass_from_dict", "field_docs"]


def dataclass_from_dict(cls, data: dict[str, Any]):
    """``cls(**data)`` for the config dataclass ``cls``; an unknown key raises ``ValueError``
    naming it and the valid fields."""
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
