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

Each comparison also carries one-sided paired t-test p-values (:func:`p_values`), which agree
with the interval: "holds" exactly when ``p_holds < 0.025``, "does not hold" exactly when
``p_fails < 0.025`` (up to ties at the boundary). :func:`holm_verdicts` adjusts them for a
family of comparisons (Holm's step-down, :data:`ALPHA` per direction). A training curve's
flatness, the stopping rule's bookkeeping, is :func:`plateau_gain` and :func:`is_plateau`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["NO_WORSE", "BETTER", "CLAIMS", "HOLDS", "DOES_NOT_HOLD", "UNDECIDED", "VERDICTS",
           "DEFAULT_MARGIN", "ALPHA", "PLATEAU_THRESHOLD", "STOPPING_RULE", "mean_std",
           "t_quantile", "paired_t_interval", "verdict", "p_values", "holm", "holm_verdicts",
           "compare", "plateau_window", "plateau_gain", "is_plateau"]

NO_WORSE = "b no worse than a"
BETTER = "b better than a"
CLAIMS = (NO_WORSE, BETTER)
HOLDS, DOES_NOT_HOLD, UNDECIDED = "holds", "does not hold", "undecided at this sample size"
VERDICTS = (HOLDS, DOES_NOT_HOLD, UNDECIDED)
#: GAP a compact model may lose and still count as "no worse".
DEFAULT_MARGIN = 0.01
#: One-sided level of each direction ("holds", "does not hold"): the two together are the
#: two-sided 95 % of the interval.
ALPHA = 0.025
#: A variant's mean validate curve is flat when its plateau gain is below this GAP.
PLATEAU_THRESHOLD = 0.003
STOPPING_RULE = "plateau gain < 0.003 over the last 20 % of evaluations"


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


def _threshold(claim: str, margin: float) -> float:
    """``θ``, the value of ``b − a`` that separates "holds" from "does not hold"."""
    if claim not in CLAIMS:
        raise ValueError(f"unknown claim {claim!r}; valid: {CLAIMS}")
    return -margin if claim == NO_WORSE else 0.0


def p_values(claim: str, diffs: Sequence[float], margin: float = DEFAULT_MARGIN
             ) -> tuple[float | None, float | None]:
    """``(p_holds, p_fails)``: one-sided paired t-tests of the differences ``d_s = b_s − a_s``.

    With ``θ = −margin`` ("no worse") or ``0`` ("better"), ``t = (d̄ − θ) / (s_d / √n)`` and
    ``T`` Student's t with ``n − 1`` degrees of freedom: ``p_holds = P(T ≥ t)`` (alternative:
    mean difference ``> θ``) and ``p_fails = P(T ≤ t)`` (alternative: ``< θ``). Since
    ``lo ≥ θ ⟺ t ≥ t_{0.975, n−1}``, the unadjusted :func:`verdict` is "holds" exactly when
    ``p_holds ≤ 0.025`` (and for "better", whose ``lo > 0`` is strict, ``< 0.025``).

    - one pair: ``(None, None)`` (no spread, no test; the verdict is "undecided");
    - zero spread (``s_d = 0``, every seed the same difference): ``t`` is ±∞, so a p-value is
      0 when ``d̄`` lies strictly on its hypothesis' side of ``θ`` and 1 otherwise (both 1
      when ``d̄ = θ``).

    >>> [round(p, 6) for p in p_values(NO_WORSE, [-0.05, -0.04, -0.03])]  # t = −3√3
    [0.982451, 0.017549]
    >>> p_values(BETTER, [0.01]), p_values(BETTER, [0.01, 0.01]), p_values(BETTER, [-0.01] * 3)
    ((None, None), (0.0, 1.0), (1.0, 0.0))
    """
    from scipy.stats import t as student

    theta = _threshold(claim, margin)
    d = _values(diffs, "p_values")  # (n,)
    if d.size < 2:
        return None, None
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:
        return (0.0 if mean > theta else 1.0), (0.0 if mean < theta else 1.0)
    stat = (mean - theta) / (sd / math.sqrt(d.size))
    return float(student.sf(stat, d.size - 1)), float(student.cdf(stat, d.size - 1))


def holm(p: Sequence[float | None], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down: which of the ``m`` hypotheses of a family are rejected at ``alpha``.

    Sort the p-values ascending, ``p_(1) ≤ … ≤ p_(m)``; reject ``H_(i)`` while
    ``p_(i) ≤ alpha / (m − i + 1)``, ``i = 1, 2, …``, and stop at the first that is not (the
    family-wise error rate stays ≤ ``alpha``). A ``None`` (one seed) counts in ``m`` and is
    never rejected.

    >>> holm([0.002, 0.009, 0.012, 0.024])  # 0.009 > 0.025/3 stops it: 0.012 ≤ 0.025/2 too late
    [True, False, False, False]
    >>> holm([0.02, 0.005, 0.01])  # 0.005 ≤ 0.025/3, 0.01 ≤ 0.025/2, 0.02 ≤ 0.025
    [True, True, True]
    """
    m = len(p)
    order = sorted(range(m), key=lambda i: math.inf if p[i] is None else p[i])
    rejected = [False] * m
    for rank, i in enumerate(order):  # rank = i − 1 in the formula
        if p[i] is None or p[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected


def holm_verdicts(family: Sequence[Mapping], alpha: float = ALPHA) -> list[str]:
    """The Holm-adjusted verdict of each comparison of one family (one figure, one split).

    Holm's step-down runs twice, over the family's ``p_holds`` and over its ``p_fails``
    (one per direction, each at ``alpha``): "holds" where the first rejects, "does not hold"
    where the second does, otherwise "undecided at this sample size".
    """
    holds = holm([c["p_holds"] for c in family], alpha)
    fails = holm([c["p_fails"] for c in family], alpha)
    return [HOLDS if h else DOES_NOT_HOLD if f else UNDECIDED for h, f in zip(holds, fails)]


def compare(a: str, a_values: Sequence[float], b: str, b_values: Sequence[float], claim: str,
            margin: float = DEFAULT_MARGIN) -> dict:
    """A ``results.json`` comparison: ``{a, b, claim, margin, diff_mean, ci95, verdict,
    p_holds, p_fails}`` (``verdict_holm`` needs the family: :func:`holm_verdicts`).

    ``a_values[i]`` and ``b_values[i]`` must come from the same seed (paired). ``margin`` is
    recorded only for the "no worse" claim (``None`` otherwise).
    """
    diff, ci = paired_t_interval(a_values, b_values)
    p_holds, p_fails = p_values(claim, _values(b_values, "b") - _values(a_values, "a"), margin)
    return {"a": a, "b": b, "claim": claim, "margin": margin if claim == NO_WORSE else None,
            "diff_mean": diff, "ci95": ci, "verdict": verdict(claim, ci, margin),
            "p_holds": p_holds, "p_fails": p_fails}


def plateau_window(evaluations: int) -> int | None:
    """``k``, the evaluations in each window of :func:`plateau_gain`: 20 % of them, rounded
    down, at least 2; ``None`` below 4 evaluations (two windows of 2 do not fit).

    >>> [plateau_window(n) for n in (3, 4, 5, 9, 10, 14, 15, 100)]
    [None, 2, 2, 2, 2, 2, 3, 20]
    """
    return max(2, evaluations // 5) if evaluations >= 4 else None


def plateau_gain(curve: Sequence[float]) -> float | None:
    """The mean of ``curve`` over its last ``k`` evaluations minus its mean over the ``k``
    before (``k``: :func:`plateau_window`); ``None`` for fewer than 4 evaluations.

    ``curve`` is a variant's mean validate GAP per evaluation (mean over seeds).

    >>> round(plateau_gain([0.62, 0.72, 0.77, 0.79, 0.80]), 6)  # (0.79+0.80)/2 − (0.72+0.77)/2
    0.05
    >>> plateau_gain([0.5, 0.6, 0.7]) is None
    True
    """
    x = _values(curve, "plateau_gain") if len(curve) else np.zeros(0)
    k = plateau_window(x.size)
    if k is None:
        return None
    return float(x[-k:].mean() - x[-2 * k:-k].mean())


def is_plateau(gain: float | None) -> bool:
    """Flat: a plateau gain below :data:`PLATEAU_THRESHOLD`; ``False`` without a gain.

    >>> is_plateau(0.0029), is_plateau(0.003), is_plateau(-0.01), is_plateau(None)
    (True, False, True, False)
    """
    return gain is not None and gain < PLATEAU_THRESHOLD
