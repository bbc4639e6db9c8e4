from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from annotate.proportions import (
    answers_needed,
    binomial_p,
    clustered_rate_interval,
    design_effect,
    half_width_for,
    holm,
    one_sided_better_p,
    participants_needed,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("wins", "n"), [(7, 10), (0, 10), (10, 10), (1, 1), (37, 80), (12.5, 30), (501, 1000)]
)
def test_the_wilson_interval_is_statsmodels_own(wins, n):
    assert wilson_interval(wins, n) == pytest.approx(proportion_confint(wins, n, alpha=0.05, method="wilson"))


def test_seven_of_ten_gives_the_textbook_wilson_interval_and_no_answer_the_whole_range():
    low, high = wilson_interval(7, 10)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("wins", "n"), [(7, 10), (5, 10), (10, 10), (0, 10), (9, 12), (1, 1), (560, 1000)])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_the_binomial_p_value_is_scipys_binomtest(wins, n, alternative):
    assert binomial_p(wins, n, alternative) == binomtest(wins, n, 0.5, alternative=alternative).pvalue


@pytest.mark.parametrize(
    ("wins", "n", "expected"),
    [
        (7, 10, 2 * (1 + 10 + 45 + 120) / 1024),  # P(X <= 3) + P(X >= 7) for X ~ Bin(10, 1/2)
        (5, 10, 1.0),  # the most likely outcome: every outcome is as or less likely
        (10, 10, 2 / 1024),
        (9, 12, 2 * (1 + 12 + 66 + 220) / 4096),
    ],
)
def test_the_two_sided_binomial_p_matches_sums_worked_by_hand(wins, n, expected):
    assert binomial_p(wins, n) == pytest.approx(expected, abs=1e-12)


def test_no_answers_give_a_binomial_p_of_one():
    assert binomial_p(0, 0) == 1.0


def test_holm_equals_multipletests_on_a_family_of_eight():
    rng = np.random.default_rng(3)
    raw = list(rng.uniform(0, 0.2, size=8))
    assert holm(raw) == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert holm([]) == []


def test_the_clustered_interval_is_seeded_and_brackets_the_pooled_rate():
    wins, n = np.array([3, 8, 5.5, 9, 1]), np.array([10, 10, 10, 12, 4])
    first = clustered_rate_interval(wins, n, seed=7)
    assert first == clustered_rate_interval(wins, n, seed=7)
    assert first != clustered_rate_interval(wins, n, seed=8)
    assert first[0] < wins.sum() / n.sum() < first[1]


def test_a_cluster_without_answers_changes_nothing_and_no_answer_at_all_gives_the_whole_range():
    wins, n = np.array([3, 8, 5, 9]), np.array([10, 10, 10, 12])
    padded = clustered_rate_interval(np.append(wins, 0), np.append(n, 0), seed=1)
    assert padded == clustered_rate_interval(wins, n, seed=1)
    assert clustered_rate_interval(np.zeros(3), np.zeros(3)) == (0.0, 1.0)


def test_one_participant_alone_gives_the_whole_range_not_a_zero_width_interval():
    assert clustered_rate_interval(np.array([7.0]), np.array([10])) == (0.0, 1.0)


def test_bad_cluster_input_is_refused_with_a_message_that_names_it():
    with pytest.raises(ValueError, match="0 <= wins <= n"):
        clustered_rate_interval(np.array([5]), np.array([3]))
    with pytest.raises(ValueError, match="rounds"):
        clustered_rate_interval(np.array([1]), np.array([3]), rounds=0)


def _correlated_study(
    rng: np.random.Generator, *, participants: int, answers: int, rate: float, spread: float
):
    """Each participant has their own leaning around ``rate`` (a Beta with intra-participant correlation
    ``1 / (1 + a + b)`` = spread) and answers ``answers`` matchups with it."""
    a = rate * (1 / spread - 1)
    b = (1 - rate) * (1 / spread - 1)
    leanings = rng.beta(a, b, size=participants)
    return rng.binomial(answers, leanings).astype(float), np.full(participants, answers)


def test_with_correlated_participants_the_clustered_interval_covers_where_wilson_is_too_narrow():
    """30 participants of 40 answers each, intra-participant correlation 0.3 (a design effect of about 12):
    the Wilson interval, which counts 1,200 independent answers, misses the true rate far more often than
    5 %; the participant bootstrap keeps close to 95 %."""
    rng = np.random.default_rng(2024)
    true_rate, repetitions = 0.6, 200
    wilson_hits = clustered_hits = 0
    for repetition in range(repetitions):
        wins, n = _correlated_study(rng, participants=30, answers=40, rate=true_rate, spread=0.3)
        low, high = wilson_interval(wins.sum(), int(n.sum()))
        wilson_hits += low <= true_rate <= high
        low, high = clustered_rate_interval(wins, n, rounds=1000, seed=repetition)
        clustered_hits += low <= true_rate <= high
    assert clustered_hits / repetitions >= 0.88
    assert wilson_hits / repetitions <= 0.6


def test_the_design_effect_is_one_for_independent_answers_and_large_for_correlated_ones():
    rng = np.random.default_rng(5)
    independent = rng.binomial(40, 0.6, size=200).astype(float), np.full(200, 40)
    correlated = _correlated_study(rng, participants=200, answers=40, rate=0.6, spread=0.3)
    assert design_effect(*independent) == pytest.approx(1.0, abs=0.25)
    # 1 + (m - 1) icc = 1 + 39 * 0.3 = 12.7
    assert 9 < design_effect(*correlated) < 17
    assert design_effect(np.array([5.0]), np.array([10])) == 1.0  # one cluster: nothing to estimate


def test_the_one_sided_test_is_less_sure_once_answers_cluster():
    """The same 720 wins of 1,200: spread evenly over 30 participants the test is very sure; given by
    participants who each either mostly win or mostly lose, it is far less sure."""
    even = np.full(30, 24.0), np.full(30, 40)
    lumpy = np.array([36.0] * 15 + [12.0] * 15), np.full(30, 40)
    assert one_sided_better_p(*even) < 1e-9
    assert binomial_p(720, 1200, "greater") < 1e-10  # what counting answers as people would claim
    # z = 0.1 / sqrt(30/29 * 30 * 12² / 1200²) = 1.80
    assert one_sided_better_p(*lumpy) == pytest.approx(0.036, abs=0.001)
    assert one_sided_better_p(np.full(10, 15.0), np.full(10, 40)) > 0.99  # a loss is no evidence of a win


def test_the_one_sided_test_holds_its_level_under_the_null_with_correlated_participants():
    rng = np.random.default_rng(11)
    rejections = sum(
        one_sided_better_p(*_correlated_study(rng, participants=40, answers=30, rate=0.5, spread=0.3)) < 0.05
        for _ in range(400)
    )
    assert rejections / 400 <= 0.09


def test_the_planner_answers_the_textbook_case():
    # 1.96² * 0.6 * 0.4 / 0.05² = 368.8 -> 369 answers
    assert answers_needed(0.6, 0.05) == 369
    assert answers_needed(0.6, 0.05, design_effect=2.0) == 738
    # design effect 1 + 19 * 0.1 = 2.9: 1069.5 answers -> 1070 -> 54 participants of 20
    assert participants_needed(0.6, 0.05, 20, 0.1) == 54


@pytest.mark.parametrize("rate", [0.3, 0.5, 0.6, 0.85])
@pytest.mark.parametrize("half_width", [0.02, 0.05, 0.1])
@pytest.mark.parametrize(("m", "icc"), [(1, 0.0), (10, 0.1), (40, 0.3), (8, 0.0)])
def test_the_planners_numbers_invert_each_other(rate, half_width, m, icc):
    needed = participants_needed(rate, half_width, m, icc)
    assert half_width_for(rate, needed, m, icc) <= half_width * (1 + 1e-9)
    if needed > 1:
        assert half_width_for(rate, needed - 1, m, icc) > half_width
    achieved = half_width_for(rate, 25, m, icc)
    assert participants_needed(rate, achieved, m, icc) == 25
    assert math.isclose(achieved, half_width_for(rate, 25 * m, 1, 0.0) * math.sqrt(1 + (m - 1) * icc))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: answers_needed(1.0, 0.05), "rate"),
        (lambda: answers_needed(0.6, 0.5), "half-width"),
        (lambda: participants_needed(0.6, 0.05, 20, 1.0), "correlation"),
        (lambda: participants_needed(0.6, 0.05, 0, 0.1), "at least one answer"),
        (lambda: half_width_for(0.6, 0, 20, 0.1), "at least one participant"),
    ],
)
def test_the_planner_refuses_impossible_inputs_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
