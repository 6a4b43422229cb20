"""Helpers of the book's Sphinx configuration (``docs/conf.py``).

Kept in a module, not in ``conf.py``, so that Sphinx can pickle the configuration values that
refer to them.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["heading_slug", "outside_folders"]


def heading_slug(title: str) -> str:
    """The anchor of a heading as Jupyter writes it: the title, case kept, spaces as hyphens.

    The notebooks link to ``00_setup_and_map.ipynb#Contents``; the same link must work in
    Jupyter, on a code host and in the book.

    >>> heading_slug("Contents")
    'Contents'
    >>> heading_slug("Exercise 2: the FFT")
    'Exercise-2-the-FFT'
    """
    return re.sub(r"[^\w\- ]", "", title.strip()).replace(" ", "-")


def outside_folders(root: Path, inside: tuple[str, ...]) -> list[str]:
    """The top-level folders of ``root`` other than ``inside``, as exclude patterns.

    Sphinx walks every folder below its source directory (the repository root here) unless
    an exclude pattern names it; ``include_patterns`` alone does not stop the walk into
    ``.venv`` or ``runs``.
    """
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in inside)
