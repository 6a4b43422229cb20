"""The experiment statistics against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from circlearn.experiments.stats import (
    BETTER,
    DOES_NOT_HOLD,
    HOLDS,
    NO_WORSE,
    UNDECIDED,
    compare,
    mean_std,
    paired_t_interval,
    verdict,
)

T_975_2 = 4.302652729749464  # Student t, 97.5 % quantile, 2 degrees of freedom (tables)


def test_mean_std_by_hand():
    mean, std = mean_std([0.70, 0.74, 0.72, 0.76])
    assert mean == pytest.approx(0.73)
    # deviations -0.03, 0.01, -0.01, 0.03: squares sum 0.002, / (4 - 1)
    assert std == pytest.approx(math.sqrt(0.002 / 3))
    assert mean_std([0.5]) == (0.5, None)
    with pytest.raises(ValueError, match="finite"):
        mean_std([0.5, float("nan")])


def test_paired_interval_by_hand():
    # differences 0.02, -0.01, 0.05: mean 0.02, deviations 0, -0.03, 0.03, s_d = 0.03
    a, b = [0.60, 0.70, 0.65], [0.62, 0.69, 0.70]
    diff, (lo, hi) = paired_t_interval(a, b)
    half = T_975_2 * 0.03 / math.sqrt(3)
    assert diff == pytest.approx(0.02)
    assert (lo, hi) == (pytest.approx(0.02 - half), pytest.approx(0.02 + half))
    # pairing matters: shuffling b changes the interval, not the mean difference
    diff2, ci2 = paired_t_interval(a, [0.69, 0.70, 0.62])
    assert diff2 == pytest.approx(diff) and ci2 != pytest.approx([lo, hi])
    with pytest.raises(ValueError, match="equal lengths"):
        paired_t_interval([0.1, 0.2], [0.1])


@pytest.mark.parametrize("claim, ci, expected", [
    (NO_WORSE, [-0.01, 0.03], HOLDS),            # lo = -margin counts as no worse
    (NO_WORSE, [-0.0101, 0.03], UNDECIDED),
    (NO_WORSE, [-0.05, -0.0101], DOES_NOT_HOLD),
    (NO_WORSE, [-0.05, -0.01], UNDECIDED),       # hi = -margin is not below it
    (BETTER, [0.001, 0.03], HOLDS),
    (BETTER, [0.0, 0.03], UNDECIDED),            # lo must be > 0
    (BETTER, [-0.03, -0.001], DOES_NOT_HOLD),
    (BETTER, [-0.03, 0.0], UNDECIDED),
    (NO_WORSE, None, UNDECIDED),
    (BETTER, None, UNDECIDED),
])
def test_verdicts(claim, ci, expected):
    assert verdict(claim, ci, margin=0.01) == expected


def test_compare_all_verdicts_from_seeds():
    dense = [0.80, 0.81, 0.82]
    # compact loses 0.001-0.003: no worse within 0.01 (CI [-0.00448, 0.00048])
    c = compare("dense", dense, "compact", [0.799, 0.808, 0.817], NO_WORSE)
    assert c["verdict"] == HOLDS and c["margin"] == 0.01 and c["a"] == "dense"
    assert c["diff_mean"] == pytest.approx(-0.002)
    # compact loses 0.05 +- 0.01: worse beyond the margin
    assert compare("dense", dense, "compact", [0.74, 0.76, 0.77], NO_WORSE)["verdict"] \
        == DOES_NOT_HOLD
    # noisy: undecided
    assert compare("dense", dense, "compact", [0.70, 0.85, 0.80], NO_WORSE)["verdict"] == UNDECIDED
    fixed = [0.70, 0.72, 0.71]
    assert compare("fixed", fixed, "learned", [0.73, 0.74, 0.74], BETTER)["verdict"] == HOLDS
    assert compare("fixed", fixed, "learned", [0.60, 0.61, 0.62], BETTER)["verdict"] \
        == DOES_NOT_HOLD
    better = compare("fixed", fixed, "learned", [0.75, 0.70, 0.72], BETTER)
    assert better["verdict"] == UNDECIDED and better["margin"] is None


def test_single_seed_is_undecided():
    for claim in (NO_WORSE, BETTER):
        c = compare("a", [0.5], "b", [0.9], claim)
        assert c["ci95"] is None and c["verdict"] == UNDECIDED
        assert c["diff_mean"] == pytest.approx(0.4)
