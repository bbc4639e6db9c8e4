"""How many votes a comparison gets: a fixed number, or *until decided* by a stopping rule.

One function decides, :func:`votes_wanted`, and both the vote path (``vote_path``, after every vote,
under the item's row lock) and ``bench/adaptive_votes.py`` call it: what the bench measures is what the
platform does. Background: ../shared/protocols.md, "Adaptive redundancy".

A comparison's votes are summed into a :class:`Tally` (A, B, and tie, where *both bad* counts as a tie:
neither side is preferred). Each vote adds its rater's weight, 1 unless the track weights votes by
reliability (:func:`reliability_weight`).

The rules, applied once a comparison has its minimum number of votes:

- **posterior** (``error_target``, default 0.2): with a uniform prior on the share θ of A among the
  votes that prefer a side, θ | votes ~ Beta(1 + a, 1 + b); the comparison is decided when the
  posterior probability that the other side is preferred, P(θ < ½) for a leading A, is below the
  target. Ties are their own outcome: they leave θ's posterior as it is (the Dirichlet over A, B and
  tie, conditioned on a side being preferred, is this Beta), so a comparison voted tie again and
  again stays undecided up to the maximum: a genuine near-tie, labelled as such. With a uniform prior
  (the population of q the protocol draws from), 3–0 is decided at 10 % (P = 1/16), 2–0 is not (1/8);
  at 20 %, 2–0 and 3–1 (3/16) are, 4–2 is not (29/128).
- **margin** (``margin`` δ, default 2): decided once one side leads by δ votes (Boyarskaya & Ipeirotis'
  δ-margin majority); ties move neither side.

A comparison stopped at the maximum without a decision is *undecided at maximum*. Decided or stopped, it
is closed: not handed out again, though an open lease on it may still be answered and is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from scipy.stats import beta

# Bounds the track form and the model check: a target at or above ½ would decide on no evidence.
ERROR_TARGET_MIN = 0.0
ERROR_TARGET_MAX = 0.5
MAX_VOTES_LIMIT = 50


class VoteMode(StrEnum):
    FIXED = "fixed"
    ADAPTIVE = "adaptive"


class StoppingRule(StrEnum):
    POSTERIOR = "posterior"
    MARGIN = "margin"


class ItemStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    UNDECIDED_AT_MAX = "undecided_at_max"
    # Taken out of the pool by a study admin after annotators reported a problem with it
    # (annotate.problem_reports): closed like the others, never set by the stopping rule.
    REMOVED = "removed"


@dataclass(frozen=True)
class Tally:
    """A comparison's votes, summed by outcome (each vote adds its rater's weight)."""

    a: float = 0.0
    b: float = 0.0
    tie: float = 0.0
    votes: int = 0  # how many votes, whatever their weight: the minimum and maximum count these

    def add(self, choice: str, weight: float = 1.0) -> Tally:
        """This tally with one more vote: ``choice`` in A/B terms (A, B, tie or both_bad)."""
        if choice == "A":
            return Tally(self.a + weight, self.b, self.tie, self.votes + 1)
        if choice == "B":
            return Tally(self.a, self.b + weight, self.tie, self.votes + 1)
        return Tally(self.a, self.b, self.tie + weight, self.votes + 1)

    def remove(self, choice: str, weight: float = 1.0) -> Tally:
        """This tally without one vote (an undo, an excluded rater's vote)."""
        if choice == "A":
            return Tally(max(self.a - weight, 0.0), self.b, self.tie, self.votes - 1)
        if choice == "B":
            return Tally(self.a, max(self.b - weight, 0.0), self.tie, self.votes - 1)
        return Tally(self.a, self.b, max(self.tie - weight, 0.0), self.votes - 1)

    @property
    def leader(self) -> str:
        """A, B, or tie when neither side leads."""
        if self.a > self.b:
            return "A"
        if self.b > self.a:
            return "B"
        return "tie"


@dataclass(frozen=True)
class VotePlan:
    """A track's choice: ``fixed`` votes per comparison, or adaptive from ``min_votes`` to ``max_votes``."""

    mode: VoteMode = VoteMode.FIXED
    fixed_votes: int = 3
    min_votes: int = 2
    # Measured by bench/adaptive_votes.py: a 0.2 target up to 9 votes reaches fixed 5's label error with
    # a third fewer votes; 0.1 spends as many votes as fixed 5. Where ties are offered, a maximum of 6.
    max_votes: int = 9
    rule: StoppingRule = StoppingRule.POSTERIOR
    error_target: float = 0.2
    margin: int = 2

    def problems(self) -> list[str]:
        """What is wrong with this plan, each in a sentence naming the setting; empty when it is fine."""
        problems = []
        if self.mode == VoteMode.FIXED:
            if not 1 <= self.fixed_votes <= MAX_VOTES_LIMIT:
                problems.append(
                    f"Votes per comparison must be 1 to {MAX_VOTES_LIMIT}, not {self.fixed_votes}."
                )
            return problems
        if not 1 <= self.max_votes <= MAX_VOTES_LIMIT:
            problems.append(
                f"The maximum number of votes must be 1 to {MAX_VOTES_LIMIT}, not {self.max_votes}."
            )
        if self.min_votes < 1:
            problems.append(f"The minimum number of votes must be at least 1, not {self.min_votes}.")
        elif self.min_votes > self.max_votes:
            problems.append(
                f"The minimum number of votes ({self.min_votes}) is above the maximum ({self.max_votes})."
            )
        if (
            self.rule == StoppingRule.POSTERIOR
            and not ERROR_TARGET_MIN < self.error_target < ERROR_TARGET_MAX
        ):
            problems.append(
                f"The error target must be between 0 and 0.5 (exclusive), not {self.error_target}."
            )
        if self.rule == StoppingRule.MARGIN and self.margin < 1:
            problems.append(f"The margin δ must be at least 1 vote, not {self.margin}.")
        return problems

    @property
    def name(self) -> str:
        """The plan in a few words, as the track page and the export's manifest state it."""
        if self.mode == VoteMode.FIXED:
            return f"fixed {self.fixed_votes} votes"
        rule = (
            f"posterior error < {self.error_target:g}"
            if self.rule == StoppingRule.POSTERIOR
            else f"margin δ = {self.margin}"
        )
        return f"until decided ({rule}), {self.min_votes} to {self.max_votes} votes"


@lru_cache(maxsize=4096)
def _other_side_probability(a: float, b: float) -> float:
    # Cached: with unit weights the tallies are a few small integers, so a vote costs a dict lookup.
    leading, trailing = max(a, b), min(a, b)
    return float(beta.cdf(0.5, 1.0 + leading, 1.0 + trailing))


def other_side_probability(tally: Tally) -> float:
    """Posterior probability that the side behind (or either, when level) is the preferred one."""
    return _other_side_probability(tally.a, tally.b)


def is_decided(plan: VotePlan, tally: Tally) -> bool:
    """Whether the votes so far decide the comparison under ``plan`` (fixed: it has its votes)."""
    if plan.mode == VoteMode.FIXED:
        return tally.votes >= plan.fixed_votes
    if tally.votes < plan.min_votes or tally.a == tally.b:
        return False
    if plan.rule == StoppingRule.MARGIN:
        return abs(tally.a - tally.b) >= plan.margin - 1e-9
    return other_side_probability(tally) < plan.error_target


def status(plan: VotePlan, tally: Tally) -> ItemStatus:
    """Open, decided, or stopped at the maximum undecided."""
    if is_decided(plan, tally):
        return ItemStatus.DECIDED
    if plan.mode == VoteMode.ADAPTIVE and tally.votes >= plan.max_votes:
        return ItemStatus.UNDECIDED_AT_MAX
    return ItemStatus.OPEN


def votes_wanted(plan: VotePlan, tally: Tally) -> int:
    """How many votes the comparison should have in all, as far as its votes so far tell.

    The vote path hands a comparison out while its votes plus open leases are below this, so an open
    comparison past its minimum gets one vote at a time, and a closed one none. Fixed: the fixed number."""
    if plan.mode == VoteMode.FIXED:
        return plan.fixed_votes
    if status(plan, tally) != ItemStatus.OPEN:
        return tally.votes
    return min(max(plan.min_votes, tally.votes + 1), plan.max_votes)


def reliability_weight(reliability: float | None) -> float:
    """A vote's weight from its rater's Dawid–Skene reliability (the quality page's), 0 to 1.5.

    The log-odds of being right, relative to a careful rater's 0.8: a rater at chance weighs nothing, a
    careful one 1, a better one up to 1.5. A rater without an estimate weighs 1."""
    if reliability is None or math.isnan(reliability):
        return 1.0
    r = min(max(reliability, 0.5), 0.99)
    return min(math.log(r / (1 - r)) / math.log(0.8 / 0.2), 1.5)
