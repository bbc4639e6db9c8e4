"""The simulation behind bench/adaptive_votes.py: the pool it votes through keeps the platform's rules."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from annotate.adaptive import ItemStatus, StoppingRule, VoteMode, VotePlan

BENCH = Path(__file__).resolve().parents[2] / "bench" / "adaptive_votes.py"


@cache
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_adaptive_votes", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


PLANS = [
    VotePlan(mode=VoteMode.FIXED, fixed_votes=5),
    VotePlan(mode=VoteMode.ADAPTIVE, error_target=0.1, max_votes=7),
    VotePlan(mode=VoteMode.ADAPTIVE, rule=StoppingRule.MARGIN, margin=2, max_votes=9),
]


@pytest.mark.parametrize("plan", PLANS, ids=lambda plan: plan.name)
@pytest.mark.parametrize("ties", [False, True])
def test_every_comparison_ends_closed_within_its_maximum_and_no_rater_votes_twice_on_one(
    plan: VotePlan, ties: bool
) -> None:
    outcome = bench().simulate(plan, seed=3, ties=ties)
    assert ItemStatus.OPEN not in outcome.statuses
    per_comparison = Counter(comparison for _, comparison, _ in outcome.choices)
    limit = plan.fixed_votes if plan.mode == VoteMode.FIXED else plan.max_votes
    assert max(per_comparison.values()) <= limit
    assert len(per_comparison) == bench().COMPARISONS
    if plan.mode == VoteMode.FIXED:
        assert set(per_comparison.values()) == {5}
    pairs = Counter((rater, comparison) for rater, comparison, _ in outcome.choices)
    assert max(pairs.values()) == 1
    assert (any(choice == "tie" for _, _, choice in outcome.choices)) == ties


def test_a_seed_replays_to_the_same_votes_in_the_same_order() -> None:
    plan = PLANS[2]
    first = bench().simulate(plan, seed=5, ties=True)
    bench().world_make.cache_clear()
    assert bench().simulate(plan, seed=5, ties=True) == first
    assert bench().simulate(plan, seed=6, ties=True).choices != first.choices


def test_the_adaptive_plan_spends_fewer_votes_on_clear_comparisons_than_on_split_ones() -> None:
    sim = bench()
    outcome = sim.simulate(PLANS[2], seed=0, ties=False)
    q = sim.world_make(0).q
    votes = Counter(comparison for _, comparison, _ in outcome.choices)
    clear = [votes[c] for c in range(len(q)) if abs(q[c] - 0.5) > 0.4]
    split = [votes[c] for c in range(len(q)) if abs(q[c] - 0.5) < 0.05]
    assert sum(clear) / len(clear) < 3 < sum(split) / len(split)


# --- the same seed through the platform's services ----------------------------------------------------

CHOSEN = {
    False: VotePlan(mode=VoteMode.ADAPTIVE),
    True: VotePlan(mode=VoteMode.ADAPTIVE, max_votes=6),
}


@pytest.mark.django_db(transaction=True)
def test_the_services_decide_every_comparison_as_the_in_memory_pool_does() -> None:
    from annotate.models import Judgment, TrackItem

    check = bench().db_check(seed=1, comparisons=20, raters=6, plans=CHOSEN)

    assert check.differences == []
    # Not two empty runs agreeing: every simulated vote is a judgment, and the comparisons got differing
    # numbers of votes, some decided at the minimum and some later.
    simulated = [bench().simulate(plan, 1, ties, comparisons=20, raters=6) for ties, plan in CHOSEN.items()]
    assert Judgment.objects.count() == sum(len(outcome.choices) for outcome in simulated)
    assert Judgment.objects.filter(choice="tie").exists()
    assert len(set(TrackItem.objects.filter(status="decided").values_list("votes", flat=True))) > 1


@pytest.mark.django_db(transaction=True)
def test_the_check_tells_apart_a_pick_that_breaks_ties_by_the_highest_id(monkeypatch) -> None:
    module = bench()

    class HighestFirst(module.InMemoryDriver):  # type: ignore[name-defined]
        """Fewest claimed first, then the highest id."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.key = self.key[::-1].copy()

        def _rekey(self, comparison: int) -> None:
            claimed = self.claimed[comparison]
            closed = self.CLOSED if claimed >= self.wanted[comparison] else 0
            self.key[comparison] = closed | (claimed * self.n + self.n - 1 - comparison)

    monkeypatch.setattr(module, "InMemoryDriver", HighestFirst)

    check = module.db_check(seed=1, comparisons=20, raters=6, plans={False: CHOSEN[False]})

    assert any("the votes part at vote 0" in line for line in check.differences), check.differences
