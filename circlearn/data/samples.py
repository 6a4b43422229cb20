"""Locate the bundled ``data_samples/`` directory (generated YouTube-8M-format data).

``path()`` returns ``$CIRCLEARN_DATA`` when that variable is set, else the ``data_samples/``
folder of the source checkout (works from an editable install, ``pip install -e .``).
``path("yt8m")`` is the learnable synthetic dataset, ``path("yt8m_2017")`` the small
real-schema set with 2017-style ``video_id`` keys; ``info(name)`` reads its ``dataset.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["path", "info", "ENV_VAR", "DEFAULT"]

ENV_VAR = "CIRCLEARN_DATA"
DEFAULT = "yt8m"


def path(name: str | None = None) -> Path:
    """The samples directory, or its sub-directory ``name``; raises if it does not exist.

    >>> path().name == "data_samples" or "CIRCLEARN_DATA" in os.environ
    True
    """
    env = os.environ.get(ENV_VAR)
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "data_samples"
    if not root.is_dir():
        how = f"${ENV_VAR}={env}" if env else f"{root} (not a source checkout?)"
        raise FileNotFoundError(f"data samples not found at {how}; set {ENV_VAR} to the folder "
                                f"made by `circlearn data synth`")
    target = root / name if name else root
    if not target.exists():
        raise FileNotFoundError(f"no data sample {name!r} in {root}; available: "
                                f"{sorted(p.name for p in root.iterdir() if p.is_dir())}")
    return target


def info(name: str | None = DEFAULT) -> dict:
    """The ``dataset.json`` summary of a generated dataset (feature sizes, classes, counts)."""
    target = path(name)
    meta = target / "dataset.json"
    if not meta.exists():
        raise FileNotFoundError(f"{meta} not found (not made by `circlearn data synth`?)")
    return json.loads(meta.read_text())
