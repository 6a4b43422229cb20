"""Statistics of an experiment over seeds: spread, paired intervals and verdicts.

Each variant of an experiment is trained with seeds ``0 … n−1``; variants with the same seed
see the same data order, so the per-seed differences ``d_s = b_s − a_s`` are **paired**.

- spread: ``mean`` and sample standard deviation ``std`` (``ddof = 1``; ``None`` for one seed);
- :func:`paired_t_interval`: ``d̄ ± t_{0.975, n−1} · s_d / √n`` with ``s_d`` the sample
  standard deviation of the ``d_s`` (Student's t, two-sided 95 %); ``None`` for one seed;
- :func:`verdict` of a claim about ``b`` against ``a`` given that interval ``[lo, hi]``:

  ============================ ====================== ======================= ===============
  claim                        "holds"                "does not hold"         otherwise
  ============================ ====================== ======================= ===============
  ``"b no worse than a"``      ``lo ≥ −margin``       ``hi < −margin``        "undecided at
  (dense vs compact, margin                                                   this sample
  0.01 GAP)                                                                   size"
  ``"b better than a"``        ``lo > 0``             ``hi < 0``              (also: one seed)
  (learned vs fixed diagonal)
  ============================ ====================== ======================= ===============

A hand-computed case: differences ``0.01, 0.02, 0.03`` have mean 0.02 and ``s_d = 0.01``;
``t_{0.975, 2} = 4.302653``, so the half-width is ``4.302653 · 0.01 / √3 = 0.024841``:

>>> c = compare("dense", [0.80, 0.80, 0.80], "compact", [0.81, 0.82, 0.83], NO_WORSE)
>>> round(c["diff_mean"], 6), [round(x, 6) for x in c["ci95"]], c["verdict"]
(0.02, [-0.004841, 0.044841], 'holds')
>>> compare("fixed", [0.8, 0.8, 0.8], "learned", [0.81, 0.82, 0.83], BETTER)["verdict"]
'undecided at this sample size'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["NO_WORSE", "BETTER", "CLAIMS", "HOLDS", "DOES_NOT_HOLD", "UNDECIDED", "VERDICTS",
           "DEFAULT_MARGIN", "mean_std", "t_quantile", "paired_t_interval", "verdict",
           "compare"]

NO_WORSE = "b no worse than a"
BETTER = "b better than a"
CLAIMS = (NO_WORSE, BETTER)
HOLDS, DOES_NOT_HOLD, UNDECIDED = "holds", "does not hold", "undecided at this sample size"
VERDICTS = (HOLDS, DOES_NOT_HOLD, UNDECIDED)
#: GAP a compact model may lose and still count as "no worse".
DEFAULT_MARGIN = 0.01


def _values(values: Sequence[float], what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{what}: need a non-empty 1-D list of values, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: values must be finite, got {x.tolist()}")
    return x


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """``(mean, sample std with ddof 1)``; the std is ``None`` for a single value.

    >>> mean_std([0.80, 0.82, 0.84])[0], round(mean_std([0.80, 0.82, 0.84])[1], 6)
    (0.82, 0.02)
    >>> mean_std([0.7])
    (0.7, None)
    """
    x = _values(values, "mean_std")
    return float(x.mean()), (float(x.std(ddof=1)) if x.size > 1 else None)


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile (``scipy.stats.t.ppf``).

    >>> round(t_quantile(0.975, 2), 6), round(t_quantile(0.975, 4), 6)
    (4.302653, 2.776445)
    """
    from scipy.stats import t

    if df < 1:
        raise ValueError(f"t quantile needs df >= 1, got {df}")
    return float(t.ppf(p, df))


def paired_t_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
                      ) -> tuple[float, list[float] | None]:
    """``(mean of b − a, [lo, hi])``: the paired Student-t interval; ``None`` for one pair.

    >>> paired_t_interval([0.5], [0.6])[1] is None
    True
    """
    x, y = _values(a, "a"), _values(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"paired values need equal lengths, got {x.size} and {y.size}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = y - x  # (n,)
    mean = float(d.mean())
    if d.size < 2:
        return mean, None
    half = t_quantile(0.5 + confidence / 2, d.size - 1) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return mean, [mean - half, mean + half]


def verdict(claim: str, ci95: Sequence[float] | None, margin: float = DEFAULT_MARGIN) -> str:
    """The verdict on ``claim`` given the interval of ``b − a`` (see the module table).

    >>> verdict(NO_WORSE, [-0.005, 0.02]), verdict(NO_WORSE, [-0.05, -0.02])
    ('holds', 'does not hold')
    >>> verdict(NO_WORSE, [-0.02, 0.01]), verdict(NO_WORSE, None)
    ('undecided at this sample size', 'undecided at this sample size')
    >>> verdict(BETTER, [0.001, 0.05]), verdict(BETTER, [-0.04, -0.001]), verdict(BETTER, [-0.01, 0.02])
    ('holds', 'does not hold', 'undecided at this sample size')
    """
    if claim not in CLAIMS:
        raise ValueError(f"unknown claim {claim!r}; valid: {CLAIMS}")
    if ci95 is None:
        return UNDECIDED
    lo, hi = (float(v) for v in ci95)
    if lo > hi:
        raise ValueError(f"interval [{lo}, {hi}] has lo > hi")
    if claim == NO_WORSE:
        if lo >= -margin:
            return HOLDS
        return DOES_NOT_HOLD if hi < -margin else UNDECIDED
    if lo > 0:
        return HOLDS
    return DOES_NOT_HOLD if hi < 0 else UNDECIDED


def compare(a: str, a_values: Sequence[float], b: str, b_values: Sequence[float], claim: str,
            margin: float = DEFAULT_MARGIN) -> dict:
    """A ``results.json`` comparison: ``{a, b, claim, margin, diff_mean, ci95, verdict}``.

    ``a_values[i]`` and ``b_values[i]`` must come from the same seed (paired). ``margin`` is
    recorded only for the "no worse" claim (``None`` otherwise).
    """
    diff, ci = paired_t_interval(a_values, b_values)
    return {"a": a, "b": b, "claim": claim, "margin": margin if claim == NO_WORSE else None,
            "diff_mean": diff, "ci95": ci, "verdict": verdict(claim, ci, margin)}
