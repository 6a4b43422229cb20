r"""UEA/UCR ``.ts`` time-series classification files → circlearn datasets.

The format (the UEA & UCR archives; ``sktime`` and ``aeon`` ship examples)::

    # comment lines (also '%')
    @problemName JapaneseVowels
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 12
    @equalLength false
    @seriesLength 100                     (with @equalLength true)
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,1.93:-0.20,-0.19,-0.23:…:3  one case per line: channels separated by ':',
                                          values by ',', '?' (or NaN) missing, label last

Each case becomes one sequence ``(T, C)``: ``T`` steps ("frames") of ``C`` channels. Cases
may have different lengths; a case whose channels have different lengths is padded with
missing values to its longest channel (counted in the summary). Header tags are
case-insensitive. Not supported, with an error saying so: ``@timeStamps true`` (``(t, v)``
pairs), ``@targetLabel true`` (regression) and ``@classLabel false`` (no labels).

:func:`read_ts` parses one file; :func:`convert_ts` writes a train file (and optionally a test
file, which becomes the ``validate`` split) as a circlearn dataset through
:func:`circlearn.data.sequences.write_sequence_dataset`: one stream (default name
``series``) of ``C`` features, each channel standardized with the train file's statistics,
missing values filled with the train mean, quantized like the real features. Class ids
follow the train file's ``@classLabel`` list. Any malformed line is a ``ValueError`` naming
the file and the line number. The CLI is ``circlearn data from-ts TRAIN.ts [TEST.ts] --out
DIR``.

:func:`packaged_ts` finds the example files an installed package ships (``sktime`` or
``aeon``: ``<package>/datasets/data/<Problem>/<Problem>_TRAIN.ts``) without importing it;
``pip install "circlearn[ts-data]"`` installs sktime.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .sequences import write_sequence_dataset

__all__ = ["TsFile", "read_ts", "convert_ts", "packaged_ts"]

_FLAG_TAGS = ("timestamps", "missing", "univariate", "equallength")
_KNOWN_TAGS = ("problemname", "dimension", "dimensions", "serieslength", "classlabel",
               "targetlabel", "data", *_FLAG_TAGS)
_MISSING = ("?", "nan")


@dataclass
class TsFile:
    """A parsed ``.ts`` file: one ``(T, C)`` float64 array per case (NaN = missing)."""

    path: str
    problem_name: str | None
    class_labels: list[str]          # from the @classLabel header, in order
    series: list[np.ndarray] = field(default_factory=list)   # each (T, C)
    labels: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)           # 1-based line of each case
    padded_values: int = 0           # missing values added to even out a case's channels

    @property
    def channels(self) -> int:
        return self.series[0].shape[1] if self.series else 0


def _error(path, line: int, message: str) -> ValueError:
    return ValueError(f"{path}, line {line}: {message}")


def _flag(path, line: int, tag: str, value: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise _error(path, line, f"@{tag} must be true or false, got {value.strip()!r}")
    return v == "true"


def _parse_header(path, line_no: int, text: str, header: dict) -> None:
    parts = text[1:].split(maxsplit=1)
    tag = parts[0].lower() if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    if tag not in _KNOWN_TAGS:
        raise _error(path, line_no, f"unknown header tag {text.split()[0]!r}; known: "
                     + ", ".join(f"@{t}" for t in _KNOWN_TAGS))
    if tag in _FLAG_TAGS:
        header[tag] = _flag(path, line_no, tag, rest)
    elif tag == "problemname":
        header[tag] = rest.strip()
    elif tag in ("dimension", "dimensions", "serieslength"):
        try:
            value = int(rest)
        except ValueError:
            raise _error(path, line_no, f"@{parts[0]} must be an integer, got {rest!r}") from None
        if value < 1:
            raise _error(path, line_no, f"@{parts[0]} must be >= 1, got {value}")
        header["dimensions" if tag.startswith("dim") else tag] = value
    elif tag == "targetlabel":
        if _flag(path, line_no, tag, rest.split()[0] if rest.split() else ""):
            raise _error(path, line_no, "@targetLabel true is a regression problem; circlearn "
                                        "needs class labels (@classLabel true …)")
    elif tag == "classlabel":
        words = rest.split()
        if not words or not _flag(path, line_no, tag, words[0]):
            raise _error(path, line_no, "@classLabel false: the file has no class labels; "
                                        "circlearn needs them")
        if len(words) < 2:
            raise _error(path, line_no, "@classLabel true must list the class labels")
        if len(set(words[1:])) != len(words) - 1:
            raise _error(path, line_no, f"@classLabel lists a label twice: {words[1:]}")
        header[tag] = words[1:]
    elif tag == "data":
        if "classlabel" not in header:
            raise _error(path, line_no, "@data before @classLabel: circlearn needs the class "
                                        "labels declared in the header")
        if header.get("timestamps"):
            raise _error(path, line_no, "@timeStamps true ((time, value) pairs) is not "
                                        "supported; write plain values")
        header["data"] = True


def _parse_case(path, line_no: int, text: str, header: dict, ts: TsFile) -> None:
    fields = text.split(":")
    if len(fields) < 2:
        raise _error(path, line_no, "expected channels separated by ':' and a class label "
                                    "last, found no ':'")
    label = fields[-1].strip()
    if label not in header["classlabel"]:
        raise _error(path, line_no, f"class label {label!r} is not declared in @classLabel "
                                    f"{header['classlabel']}")
    channels = []
    for c, chunk in enumerate(fields[:-1]):
        values = []
        for k, token in enumerate(chunk.split(",")):
            token = token.strip()
            if token.lower() in _MISSING:
                values.append(np.nan)
                continue
            try:
                values.append(float(token))
            except ValueError:
                raise _error(path, line_no, f"channel {c + 1}, value {k + 1}: {token!r} is not "
                                            f"a number or '?'") from None
            if not np.isfinite(values[-1]):
                raise _error(path, line_no, f"channel {c + 1}, value {k + 1}: {token!r} is not "
                                            f"finite")
        channels.append(values)
    expected = header.get("dimensions", 1 if header.get("univariate") else None)
    if expected is None and ts.series:
        expected = ts.channels
    if expected is not None and len(channels) != expected:
        raise _error(path, line_no, f"{len(channels)} channels, expected {expected} "
                                    f"(@dimensions or the first case)")
    lengths = [len(v) for v in channels]
    if header.get("equallength") and "serieslength" in header and \
            any(n != header["serieslength"] for n in lengths):
        raise _error(path, line_no, f"channel lengths {sorted(set(lengths))} differ from "
                                    f"@seriesLength {header['serieslength']}")
    t = max(lengths)
    x = np.full((t, len(channels)), np.nan)
    for c, values in enumerate(channels):
        x[:len(values), c] = values
    ts.padded_values += t * len(channels) - sum(lengths)
    ts.series.append(x)
    ts.labels.append(label)
    ts.lines.append(line_no)


def read_ts(path: str | os.PathLike) -> TsFile:
    """Parse a ``.ts`` classification file (see the module docstring).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and the
    line for anything malformed (unknown tag, bad number, wrong channel count, undeclared
    label, no @data, no cases).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    header: dict = {}
    ts = None
    with open(path, encoding="utf-8", errors="strict") as f:
        for line_no, raw in enumerate(f, start=1):
            text = raw.strip()
            if not text or text[0] in "#%":
                continue
            if ts is None:
                if text[0] != "@":
                    raise _error(path, line_no, f"expected a header tag (@…) or a comment "
                                                f"before @data, got {text[:40]!r}")
                _parse_header(path, line_no, text, header)
                if header.get("data"):
                    ts = TsFile(str(path), header.get("problemname"), header["classlabel"])
                continue
            if text[0] == "@":
                raise _error(path, line_no, f"header tag {text.split()[0]!r} after @data")
            _parse_case(path, line_no, text, header, ts)
    if ts is None:
        raise ValueError(f"{path}: no @data line: not a .ts file?")
    if not ts.series:
        raise ValueError(f"{path}: no cases after @data")
    return ts


def convert_ts(train: str | os.PathLike, test: str | os.PathLike | None = None, *,
               out: str | os.PathLike, stream: str = "series", shards: int = 1) -> dict:
    """Write ``train`` (and ``test`` as the ``validate`` split) as a circlearn dataset.

    Returns the ``dataset.json`` summary (with ``source`` naming the files and the problem,
    and ``padded_values`` per file).
    """
    tr = read_ts(train)
    files = {"train": tr}
    if test is not None:
        te = read_ts(test)
        if set(te.class_labels) != set(tr.class_labels):
            raise ValueError(f"{test}: @classLabel {te.class_labels} differs from {train}'s "
                             f"{tr.class_labels}")
        if te.channels != tr.channels:
            raise ValueError(f"{test}: {te.channels} channels, {train} has {tr.channels}")
        files["validate"] = te
    index = {label: k for k, label in enumerate(tr.class_labels)}
    splits = {split: [(f"{split}-{i:05d}", [index[label]], {stream: x})
                      for i, (x, label) in enumerate(zip(ts.series, ts.labels))]
              for split, ts in files.items()}
    source = {"format": "ts", "problem": tr.problem_name,
              "files": {split: str(ts.path) for split, ts in files.items()},
              "padded_values": {split: ts.padded_values for split, ts in files.items()}}
    return write_sequence_dataset(out, splits, class_names=tr.class_labels, shards=shards,
                                  source=source)


def packaged_ts(problem: str, packages: tuple[str, ...] = ("sktime", "aeon")) -> tuple[Path, Path]:
    """``(TRAIN.ts, TEST.ts)`` of ``problem`` from the first installed package that ships it.

    Looks in ``<package>/datasets/data/<problem>/`` of each package's installed folder (found
    with ``importlib.util.find_spec``, which does not import the package). Raises
    ``FileNotFoundError`` saying where it looked and what to install.
    """
    looked = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            looked.append(f"{name} (not installed)")
            continue
        folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / problem
        train, test = folder / f"{problem}_TRAIN.ts", folder / f"{problem}_TEST.ts"
        if train.is_file() and test.is_file():
            return train, test
        looked.append(str(folder))
    raise FileNotFoundError(f"no {problem}_TRAIN.ts / {problem}_TEST.ts in {', '.join(looked)}; "
                            f'install one with pip install "circlearn[ts-data]" (sktime)')
