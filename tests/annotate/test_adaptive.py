"""The stopping rules and how many votes a comparison wants: pure functions, no database."""

from __future__ import annotations

import pytest
from scipy.stats import beta

from annotate.adaptive import (
    ItemStatus,
    StoppingRule,
    Tally,
    VoteMode,
    VotePlan,
    is_decided,
    other_side_probability,
    status,
    votes_wanted,
)


def adaptive(**settings: object) -> VotePlan:
    """An adaptive plan: the posterior rule at 10 %, 2 to 7 votes, unless told otherwise."""
    plan = {"rule": StoppingRule.POSTERIOR, "error_target": 0.1, "min_votes": 2, "max_votes": 7}
    return VotePlan(mode=VoteMode.ADAPTIVE, **(plan | settings))  # type: ignore[arg-type]


def tally_of(choices: str) -> Tally:
    """A tally from a string of votes: A, B, or T for a tie."""
    tally = Tally()
    for choice in choices:
        tally = tally.add({"A": "A", "B": "B", "T": "tie"}[choice])
    return tally


# The posterior rule


@pytest.mark.parametrize(("a", "b"), [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1), (4, 1), (5, 2), (6, 1)])
def test_the_other_side_probability_is_the_beta_posterior_mass_behind_the_leader(a: int, b: int) -> None:
    expected = beta.cdf(0.5, 1 + a, 1 + b)
    assert other_side_probability(Tally(a=a, b=b, votes=a + b)) == pytest.approx(expected, abs=1e-12)


def test_the_other_side_probability_is_the_same_whichever_side_leads() -> None:
    assert other_side_probability(tally_of("BBBA")) == pytest.approx(beta.cdf(0.5, 4, 2))
    assert other_side_probability(tally_of("BBBA")) == other_side_probability(tally_of("AAAB"))


def test_ties_leave_the_posterior_as_it_is() -> None:
    assert other_side_probability(tally_of("AATTT")) == other_side_probability(tally_of("AA"))
    assert other_side_probability(tally_of("TTTT")) == pytest.approx(0.5)


def test_weighted_votes_enter_the_posterior_as_their_weights() -> None:
    tally = Tally().add("A", 1.5).add("A", 1.0).add("B", 0.5)
    assert tally.votes == 3
    assert other_side_probability(tally) == pytest.approx(beta.cdf(0.5, 1 + 2.5, 1 + 0.5))


@pytest.mark.parametrize("target", [0.1, 0.15, 0.2])
def test_the_posterior_rule_decides_exactly_when_the_other_side_is_below_the_target(target: float) -> None:
    plan = adaptive(rule=StoppingRule.POSTERIOR, error_target=target, min_votes=2, max_votes=9)
    for a in range(8):
        for b in range(8):
            tally = Tally(a=a, b=b, votes=a + b)
            other = beta.cdf(0.5, 1 + max(a, b), 1 + min(a, b))
            expected = a + b >= 2 and a != b and other < target
            assert is_decided(plan, tally) == expected, (a, b)


def test_at_a_ten_percent_target_three_to_nothing_decides_and_two_to_nothing_does_not() -> None:
    plan = adaptive(error_target=0.1)
    assert not is_decided(plan, tally_of("AA"))
    assert is_decided(plan, tally_of("AAA"))
    assert is_decided(plan, tally_of("BTBB"))
    assert not is_decided(plan, tally_of("AAAB"))  # 3/16 on B


def test_nothing_is_decided_below_the_minimum_however_clear() -> None:
    plan = adaptive(min_votes=4, error_target=0.2)
    assert not is_decided(plan, tally_of("AAA"))
    assert is_decided(plan, tally_of("AAAA"))


# The δ-margin rule


def test_the_margin_rule_decides_once_one_side_leads_by_delta() -> None:
    plan = adaptive(rule=StoppingRule.MARGIN, margin=2)
    assert not is_decided(plan, tally_of("AB"))
    assert not is_decided(plan, tally_of("ABA"))
    assert is_decided(plan, tally_of("AA"))
    assert is_decided(plan, tally_of("ABAA"))
    assert is_decided(plan, tally_of("BABB"))


def test_ties_move_neither_side_under_the_margin_rule() -> None:
    plan = adaptive(rule=StoppingRule.MARGIN, margin=2)
    assert not is_decided(plan, tally_of("ATTTT"))
    assert is_decided(plan, tally_of("ATTTA"))


def test_the_margin_counts_weights_not_votes() -> None:
    plan = adaptive(rule=StoppingRule.MARGIN, margin=2)
    assert not is_decided(plan, Tally().add("A", 1.0).add("A", 0.5))
    assert is_decided(plan, Tally().add("A", 1.5).add("A", 1.5).add("B", 1.0))


# How many votes a comparison wants, over a sequence of votes


def test_an_adaptive_comparison_wants_its_minimum_then_one_more_at_a_time_until_decided() -> None:
    plan = adaptive(min_votes=2, max_votes=7, error_target=0.1)
    wanted = []
    tally = Tally()
    for choice in "AABA" + "A":
        wanted.append(votes_wanted(plan, tally))
        assert status(plan, tally) == ItemStatus.OPEN
        tally = tally.add(choice)
    # 2-0 leaves 1/8 on B, 3-1 3/16, 4-1 7/64: all above 10 %; 5-1 leaves 1/16.
    assert wanted == [2, 2, 3, 4, 5]
    assert status(plan, tally) == ItemStatus.OPEN
    tally = tally.add("A")
    assert status(plan, tally) == ItemStatus.DECIDED
    assert votes_wanted(plan, tally) == tally.votes == 6


def test_a_decided_comparison_wants_no_more_votes() -> None:
    plan = adaptive(min_votes=2, max_votes=7, rule=StoppingRule.MARGIN, margin=2)
    tally = tally_of("BB")
    assert status(plan, tally) == ItemStatus.DECIDED
    assert votes_wanted(plan, tally) == 2


def test_a_comparison_still_split_at_the_maximum_is_undecided_and_wants_no_more() -> None:
    plan = adaptive(min_votes=2, max_votes=5, error_target=0.1)
    wanted = []
    tally = Tally()
    for choice in "ABTAB":
        wanted.append(votes_wanted(plan, tally))
        tally = tally.add(choice)
    assert wanted == [2, 2, 3, 4, 5]
    assert status(plan, tally) == ItemStatus.UNDECIDED_AT_MAX
    assert votes_wanted(plan, tally) == 5


def test_a_comparison_voted_tie_again_and_again_stops_undecided_at_the_maximum() -> None:
    plan = adaptive(min_votes=2, max_votes=4)
    assert status(plan, tally_of("TTT")) == ItemStatus.OPEN
    assert status(plan, tally_of("TTTT")) == ItemStatus.UNDECIDED_AT_MAX


def test_the_maximum_is_never_passed_while_a_comparison_is_open() -> None:
    plan = adaptive(min_votes=2, max_votes=3)
    assert votes_wanted(plan, tally_of("AB")) == 3
    assert votes_wanted(plan, tally_of("ABT")) == 3


# Fixed mode


def test_a_fixed_plan_wants_its_number_of_votes_whatever_they_say() -> None:
    plan = VotePlan(mode=VoteMode.FIXED, fixed_votes=5)
    for choices in ["", "A", "AAA", "ABTAB", "ABTABAA"]:
        assert votes_wanted(plan, tally_of(choices)) == 5


def test_a_fixed_comparison_is_decided_once_it_has_its_votes_even_when_split() -> None:
    plan = VotePlan(mode=VoteMode.FIXED, fixed_votes=3)
    assert status(plan, tally_of("AA")) == ItemStatus.OPEN
    assert status(plan, tally_of("ABT")) == ItemStatus.DECIDED
    assert plan.name == "fixed 3 votes"


# Bad plans


def test_the_default_adaptive_plan_is_the_posterior_rule_at_twenty_percent_from_2_to_9_votes() -> None:
    plan = VotePlan(mode=VoteMode.ADAPTIVE)
    assert plan.name == "until decided (posterior error < 0.2), 2 to 9 votes"
    assert is_decided(plan, tally_of("AA"))
    assert is_decided(plan, tally_of("ABAA"))
    assert not is_decided(plan, tally_of("ABABAA"))  # 4-2 leaves 29/128 on B
    assert status(plan, tally_of("ABABABABT")) == ItemStatus.UNDECIDED_AT_MAX


def test_a_sound_plan_has_no_problems() -> None:
    assert VotePlan().problems() == []
    assert adaptive().problems() == []
    assert adaptive(rule=StoppingRule.MARGIN, margin=2, error_target=0.9).problems() == []


def test_a_minimum_above_the_maximum_is_named() -> None:
    assert adaptive(min_votes=5, max_votes=3).problems() == [
        "The minimum number of votes (5) is above the maximum (3)."
    ]


@pytest.mark.parametrize("target", [0.0, 0.5, -0.1, 0.7])
def test_an_error_target_outside_zero_to_a_half_is_named(target: float) -> None:
    assert adaptive(error_target=target).problems() == [
        f"The error target must be between 0 and 0.5 (exclusive), not {target}."
    ]


def test_a_maximum_of_zero_is_named() -> None:
    problems = adaptive(min_votes=1, max_votes=0).problems()
    assert "The maximum number of votes must be 1 to 50, not 0." in problems


def test_a_fixed_plan_of_zero_votes_is_named() -> None:
    assert VotePlan(fixed_votes=0).problems() == ["Votes per comparison must be 1 to 50, not 0."]
