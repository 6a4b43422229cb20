"""The experiment statistics against hand-computed cases (intervals, verdicts, p-values,
Holm's correction, the plateau rule) and against scipy's t-test."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from circlearn.experiments.stats import (
    BETTER,
    DOES_NOT_HOLD,
    HOLDS,
    NO_WORSE,
    UNDECIDED,
    compare,
    holm,
    holm_verdicts,
    is_plateau,
    mean_std,
    p_values,
    paired_t_interval,
    plateau_gain,
    plateau_window,
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


def t2_sf(t: float) -> float:
    """P(T >= t) for Student's t with 2 degrees of freedom, in closed form:
    F(t) = 1/2 + t / (2 sqrt(t^2 + 2))."""
    return 0.5 - t / (2 * math.sqrt(t * t + 2))


@pytest.mark.parametrize("claim, theta", [(NO_WORSE, -0.01), (BETTER, 0.0)])
def test_p_values_match_scipy_one_sided_t_tests(claim, theta):
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 10):
        d = rng.normal(-0.01, 0.02, size=n)
        p_holds, p_fails = p_values(claim, d, margin=0.01)
        assert p_holds == pytest.approx(
            scipy.stats.ttest_1samp(d, theta, alternative="greater").pvalue, rel=1e-10)
        assert p_fails == pytest.approx(
            scipy.stats.ttest_1samp(d, theta, alternative="less").pvalue, rel=1e-10)
        assert p_holds + p_fails == pytest.approx(1.0)


def test_p_values_without_a_spread():
    assert p_values(NO_WORSE, [0.02]) == (None, None)  # one seed: no test
    c = compare("a", [0.5], "b", [0.9], BETTER)
    assert c["p_holds"] is None and c["p_fails"] is None
    # every seed the same difference: t is +-inf, the p-value 0 or 1 by the side of theta
    assert p_values(NO_WORSE, [-0.005] * 3) == (0.0, 1.0)   # above -0.01
    assert p_values(NO_WORSE, [-0.02] * 3) == (1.0, 0.0)    # below -0.01
    assert p_values(BETTER, [0.0, 0.0]) == (1.0, 1.0)       # on theta: neither side
    with pytest.raises(ValueError, match="unknown claim"):
        p_values("b equals a", [0.1, 0.2])


@pytest.mark.parametrize("claim", [NO_WORSE, BETTER])
def test_unadjusted_verdict_agrees_with_the_p_values(claim):
    """verdict == "holds" <=> p_holds < 0.025 and "does not hold" <=> p_fails < 0.025, on
    random seeds, spreads and sizes (cases within 1e-9 of the boundary are skipped)."""
    rng = np.random.default_rng(2024)
    seen, checked = set(), 0
    for _ in range(2000):
        n = int(rng.integers(2, 9))
        a = rng.uniform(0.5, 0.8, size=n)
        b = a + rng.normal(rng.uniform(-0.06, 0.04), rng.uniform(0.001, 0.03), size=n)
        c = compare("a", a, "b", b, claim, margin=0.01)
        if min(abs(c["p_holds"] - 0.025), abs(c["p_fails"] - 0.025)) < 1e-9:
            continue
        assert (c["verdict"] == HOLDS) == (c["p_holds"] < 0.025), c
        assert (c["verdict"] == DOES_NOT_HOLD) == (c["p_fails"] < 0.025), c
        seen.add(c["verdict"])
        checked += 1
    assert seen == {HOLDS, DOES_NOT_HOLD, UNDECIDED} and checked > 1900


def test_holm_step_down_by_hand():
    # sorted 0.002 <= 0.025/4 = 0.00625 rejected; 0.009 > 0.025/3 = 0.00833 stops the
    # procedure, so 0.012 (<= 0.025/2) and 0.024 (<= 0.025) are kept although each is below
    # its own threshold
    assert holm([0.024, 0.012, 0.009, 0.002]) == [False, False, False, True]
    # 0.005 <= 0.00625, 0.008 <= 0.00833, 0.012 <= 0.0125, 0.024 <= 0.025: all rejected
    assert holm([0.024, 0.008, 0.012, 0.005]) == [True, True, True, True]
    # unadjusted, 0.02 < 0.025 would be rejected; in a family of 3 its threshold is 0.00833
    assert holm([0.02, 0.5, 0.6]) == [False, False, False]
    assert holm([None, 0.001]) == [False, True] and holm([]) == []


def test_holm_family_of_three_by_hand():
    """Three "no worse within 0.01" comparisons over 3 seeds, one per unadjusted verdict; the
    p-values from the closed-form t distribution with 2 degrees of freedom. Holm turns the
    "does not hold" into "undecided"."""
    dense = [0.70, 0.75, 0.80]
    # 1) differences -0.001, 0, 0.001: mean 0, s_d = 0.001, t = (0 + 0.01) / (0.001 / sqrt 3)
    #    = 10 sqrt 3 = 17.3205; p_holds = 1/2 - 17.3205 / (2 sqrt 302) = 0.001658
    # 2) differences -0.05, -0.04, -0.03: mean -0.04, s_d = 0.01, t = -0.03 / (0.01 / sqrt 3)
    #    = -3 sqrt 3 = -5.1962; p_fails = 1/2 - 5.1962 / (2 sqrt 29) = 0.017549
    # 3) differences -0.03, -0.01, 0.01: mean -0.01 = -margin, t = 0: both p = 1/2
    family = [compare("dense", dense, "c1", [0.699, 0.75, 0.801], NO_WORSE),
              compare("dense", dense, "c2", [0.65, 0.71, 0.77], NO_WORSE),
              compare("dense", dense, "c3", [0.67, 0.74, 0.81], NO_WORSE)]
    t1, t2 = 10 * math.sqrt(3), -3 * math.sqrt(3)
    assert t2_sf(t1) == pytest.approx(0.001658, abs=1e-6)
    assert (t2_sf(t2), 1 - t2_sf(t2)) == (pytest.approx(0.982451, abs=1e-6),
                                          pytest.approx(0.017549, abs=1e-6))
    expected = [(t2_sf(t1), 1 - t2_sf(t1)), (t2_sf(t2), 1 - t2_sf(t2)), (0.5, 0.5)]
    for c, (p_holds, p_fails) in zip(family, expected):
        assert (c["p_holds"], c["p_fails"]) == (pytest.approx(p_holds, rel=1e-6),
                                                pytest.approx(p_fails, rel=1e-6))
    assert [c["verdict"] for c in family] == [HOLDS, DOES_NOT_HOLD, UNDECIDED]
    # Holm, p_holds sorted: 0.001658 <= 0.025/3 = 0.008333 rejected (c1 holds); next
    # 0.5 > 0.025/2 = 0.0125 stops. p_fails sorted: 0.017549 > 0.008333 stops at once, so
    # c2's "does not hold" (0.017549 < 0.025 unadjusted) becomes undecided.
    assert holm_verdicts(family) == [HOLDS, UNDECIDED, UNDECIDED]
    # alone, c2 is its own family of one: threshold 0.025, Holm agrees with the interval
    assert holm_verdicts(family[1:2]) == [DOES_NOT_HOLD]


def test_plateau_window_and_too_short_curves():
    # 20 % rounded down, at least 2: 14 evaluations give 2 (not 3), 19 give 3
    assert [plateau_window(n) for n in (0, 3, 4, 9, 10, 14, 15, 19, 50)] == \
        [None, None, 2, 2, 2, 2, 3, 3, 10]
    assert plateau_gain([0.1] * 10 + [0.2, 0.2, 0.3, 0.3]) == pytest.approx(0.1)  # k = 2
    assert is_plateau(0.0029) and not is_plateau(0.003)  # the bound itself is not flat
    assert plateau_gain([0.5, 0.6, 0.7]) is None and plateau_gain([]) is None
    assert not is_plateau(plateau_gain([0.7, 0.7, 0.7]))  # < 4 evaluations: not flat


def test_plateau_of_a_flat_curve():
    curve = [0.30, 0.55, 0.70, 0.78, 0.800, 0.801, 0.800, 0.801, 0.800, 0.801]
    # n = 10, k = 2: (0.800 + 0.801) / 2 - (0.801 + 0.800) / 2 = 0
    assert plateau_gain(curve) == pytest.approx(0.0, abs=1e-12) and is_plateau(0.0)


def test_plateau_of_a_rising_curve():
    curve = [0.62, 0.72, 0.765, 0.79, 0.80]  # the medium DBoF curve, still rising
    # n = 5, k = 2: (0.79 + 0.80) / 2 - (0.72 + 0.765) / 2 = 0.795 - 0.7425 = 0.0525
    assert plateau_gain(curve) == pytest.approx(0.0525) and not is_plateau(0.0525)
    # rising slowly: 0.001 per evaluation over 10 evaluations, k = 2: gain 0.002 < 0.003
    assert plateau_gain([0.7 + 0.001 * i for i in range(10)]) == pytest.approx(0.002)
    assert is_plateau(plateau_gain([0.7 + 0.001 * i for i in range(10)]))
    # 0.002 per evaluation: gain 0.004, not flat
    assert not is_plateau(plateau_gain([0.7 + 0.002 * i for i in range(10)]))


def test_plateau_of_noisy_curves():
    # noise of +-0.01 around a level: the windows average it out; 15 evaluations, k = 3
    level = [0.60, 0.70, 0.75, 0.78, 0.79, 0.80, 0.81, 0.79, 0.80, 0.81, 0.79, 0.80, 0.81,
             0.79, 0.80]
    # last 3: 0.81, 0.79, 0.80 -> 0.800; the 3 before: 0.81, 0.79, 0.80 -> 0.800
    assert plateau_gain(level) == pytest.approx(0.0, abs=1e-12) and is_plateau(0.0)
    # the same noise on a rise of 0.005 per evaluation: gain 3 * 0.005 = 0.015, not flat
    rising = [g + 0.005 * i for i, g in enumerate(level)]
    assert plateau_gain(rising) == pytest.approx(0.015) and not is_plateau(0.015)
    # a noisy decline is flat by the rule (the gain is negative)
    assert is_plateau(plateau_gain([0.8, 0.81, 0.79, 0.80, 0.78, 0.77]))
