r"""``fig-scaling``: does the compact − dense difference shrink as the training set grows?

The paper trained on about 3.9 million videos; a synthetic or user set has far fewer. This
experiment trains DBoF and NetVLAD, each with a dense and a circulant FC after pooling, on
**nested** subsets of the training split: the first quarter, half and all of its shards in
sorted order (16 shards: 4, 8 and 16), so every smaller set is contained in every larger
one. Validation and test stay the full splits.

**Steps are held fixed across sizes, not epochs.** Each size runs ``epochs / fraction``
epochs (a quarter of the data: four times the epochs), so every size takes the same number
of optimizer steps under the same learning-rate schedule (its decay counts examples seen).
With epochs fixed instead, the smallest set would get a quarter of the steps and a quarter
of the decay, and its curve would stop before it flattens: the difference would then measure
the budget, not the data. The plateau rule applies per variant as everywhere
(:func:`~circlearn.experiments.stats.plateau_gain`, on that size's per-epoch curve).

Its comparisons are "circulant is no worse than dense" per pooling and size (Holm over all
of them on a split); its table gives each size's difference, interval and both verdicts
(:func:`circlearn.plotting.scaling.scaling_rows`) and the trend (:func:`trend`), its figure
the difference against training videos on a log axis, with the paper's difference marked at
the paper's training-set size (:func:`circlearn.plotting.scaling.plot_scaling`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

__all__ = ["NAME", "POOLINGS", "FRACTIONS", "variant_name", "train_files", "scaled_epochs",
           "variants", "claims", "variant_details", "trend"]

#: The experiment's name in :data:`circlearn.experiments.BEYOND_PAPER`.
NAME = "fig-scaling"
POOLINGS = ("dbof", "netvlad")
#: Nested fractions of the training shards (first quarter, half, all).
FRACTIONS = (Fraction(1, 4), Fraction(1, 2), Fraction(1))


def variant_name(preset: str, fraction: Fraction) -> str:
    """``"<preset>-<percent>pct"``, e.g. ``variant_name("dbof", Fraction(1, 4)) == "dbof-25pct"``.

    >>> variant_name("netvlad-fc-circulant", Fraction(1, 2))
    'netvlad-fc-circulant-50pct'
    """
    return f"{preset}-{int(fraction * 100)}pct"


def train_files(files: Sequence, fraction: Fraction) -> list:
    """The first ``fraction`` of the sorted training ``files`` (nested: a smaller fraction's
    files are a prefix of a larger one's).

    Raises ``ValueError`` naming the counts when ``len(files) · fraction`` is not a whole
    number of at least 1 shard (the subsets would not be the stated fraction).

    >>> train_files([f"train{i:02d}.tfrecord" for i in range(8)], Fraction(1, 4))
    ['train00.tfrecord', 'train01.tfrecord']
    """
    fraction = Fraction(fraction)
    if not 0 < fraction <= 1:
        raise ValueError(f"a training fraction must be in (0, 1], got {fraction}")
    files = sorted(files, key=str)
    count = len(files) * fraction
    if count.denominator != 1 or count < 1:
        raise ValueError(f"{NAME} takes {fraction} of the training shards, but the split has "
                         f"{len(files)} train file(s): it needs a multiple of "
                         f"{fraction.denominator} files (e.g. 16)")
    return files[:int(count)]


def scaled_epochs(epochs: int, fraction: Fraction) -> int:
    """Epochs that give a ``fraction`` of the data the same optimizer steps as ``epochs`` over
    all of it: ``epochs / fraction`` (a whole number for the fractions used).

    >>> scaled_epochs(8, Fraction(1, 4))
    32
    """
    scaled = Fraction(epochs) / Fraction(fraction)
    if scaled.denominator != 1:
        raise ValueError(f"{epochs} epochs / {fraction} is not a whole number of epochs")
    return int(scaled)


def variants(variant_class) -> tuple:
    """The experiment's variants: per pooling, dense and circulant FC, at each fraction."""
    labels = {"": "dense FC", "-fc-circulant": "circulant FC"}
    return tuple(
        variant_class(variant_name(p + suffix, f), p + suffix,
                      f"{p} {label}, {'all' if f == 1 else f} of train", train_fraction=f)
        for p in POOLINGS for f in FRACTIONS for suffix, label in labels.items())


def claims(no_worse: str) -> tuple:
    """"Circulant FC no worse than dense FC", per pooling and fraction."""
    return tuple((variant_name(p, f), variant_name(p + "-fc-circulant", f), no_worse)
                 for p in POOLINGS for f in FRACTIONS)


def variant_details(fraction: Fraction, train_data: str) -> dict:
    """``train_fraction``, ``train_files`` and ``train_videos`` (records in the files) of a
    variant trained on ``train_data`` (comma-separated files)."""
    from circlearn.data.files import RecordIndex, resolve_files

    files = resolve_files(train_data)
    return {"train_fraction": float(fraction), "train_files": len(files),
            "train_videos": len(RecordIndex.build(files))}


def trend(results: dict, gap: str = "gap") -> dict[str, dict]:
    """Per pooling, how the difference moves per doubling of the training videos:
    ``{"slope": mean, "ci95": [lo, hi] | None, "seeds": n}``.

    For each seed, the least-squares slope of its paired difference ``d_s(n)`` (circulant −
    dense, ``gap`` = ``"gap"`` or ``"test_gap"``) against ``log2 n`` over the sizes; the slopes
    of the seeds are then averaged, with a Student-t 95 % interval over seeds (the seeds are
    independent; the sizes of one seed share its data order). A positive slope: the gap
    closes as data grows. It describes the sizes trained, not beyond them.

    >>> runs = lambda gaps: [{"seed": s, "gap": g} for s, g in enumerate(gaps)]
    >>> vs = [{"name": variant_name(p, f), "train_videos": int(1000 * f), "runs": runs(
    ...     [0.5 - (p != "dbof") * (0.04 - 0.01 * i + 0.002 * s) for s in range(3)])}
    ...       for i, f in enumerate(FRACTIONS) for p in ("dbof", "dbof-fc-circulant")]
    >>> t = trend({"variants": vs})["dbof"]
    >>> round(t["slope"], 6), t["ci95"] is not None and abs(t["ci95"][1] - t["ci95"][0]) < 1e-9
    (0.01, True)
    """
    import numpy as np

    from circlearn.experiments.stats import paired_t_interval

    by_name = {v["name"]: v for v in results["variants"]}
    out = {}
    for pool in POOLINGS:
        points: dict[int, list[tuple[float, float]]] = {}  # seed -> [(log2 n, d)]
        for f in FRACTIONS:
            dense = by_name.get(variant_name(pool, f))
            compact = by_name.get(variant_name(pool + "-fc-circulant", f))
            if dense is None or compact is None:
                continue
            a = {r["seed"]: r[gap] for r in dense["runs"] if r.get(gap) is not None}
            b = {r["seed"]: r[gap] for r in compact["runs"] if r.get(gap) is not None}
            for seed in sorted(a.keys() & b.keys()):
                points.setdefault(seed, []).append((math.log2(dense["train_videos"]),
                                                    b[seed] - a[seed]))
        slopes = [float(np.polyfit(*zip(*pts), 1)[0]) for pts in points.values()
                  if len({x for x, _ in pts}) >= 2]
        if slopes:
            mean, ci = paired_t_interval([0.0] * len(slopes), slopes)
            out[pool] = {"slope": mean, "ci95": ci, "seeds": len(slopes)}
    return out
