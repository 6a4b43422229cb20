"""Writing figures to PNG files small enough to store in the repository.

The stored results under ``data_samples/`` keep their figures beside ``results.json``, and the
whole folder has a size budget (``tests/test_data_samples.py``). A line plot needs few colours,
so :func:`save_png` renders the figure with Agg and stores it as an 8-bit palette PNG (Pillow's
median-cut quantization to at most 256 colours, ``optimize=True``): about 2.5× smaller than
matplotlib's RGBA file, with the anti-aliased edges mapped to the nearest palette colour.
:func:`shrink_png` applies the same to a PNG already written.
"""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["save_png", "shrink_png"]

#: Palette size of the stored PNGs (the PNG palette's maximum).
COLOURS = 256


def _palette_png(image, path: Path) -> None:
    image.convert("RGB").quantize(COLOURS).save(path, format="PNG", optimize=True)


def save_png(fig, path, *, dpi: int = 100) -> Path:
    """Write ``fig`` (a matplotlib figure) to ``path`` as a palette PNG at ``dpi``; returns the
    path. The pixels are those of ``fig.savefig(path, dpi=dpi)``, quantized to at most
    :data:`COLOURS` colours."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    path = Path(path)
    with Image.open(buffer) as image:
        _palette_png(image, path)
    return path


def shrink_png(path) -> tuple[int, int]:
    """Rewrite the PNG at ``path`` as a palette PNG; returns its sizes in bytes before and
    after. A file that is already a palette image is left as it is."""
    from PIL import Image

    path = Path(path)
    before = path.stat().st_size
    with Image.open(path) as image:
        if image.mode == "P":
            return before, before
        image.load()
        _palette_png(image, path)
    return before, path.stat().st_size
