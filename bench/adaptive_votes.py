"""Adaptive votes per comparison against fixed k: votes per comparison and label error, by simulation.

    .venv/bin/python bench/adaptive_votes.py [--runs 200] [--first-seed 0] [--explore]

Each run (one seed) draws a world: 600 comparisons, each with a true preference q = P(A preferred) =
0.5 ± d, d ~ U(0, 0.5), the sign at random; 20 raters: 17 careful (answer by q), 2 noisy (q halfway to
0.5), 1 careless (always Left, or Left and Right at random, drawn per run), each with a left bias drawn
from N(0, 0.05); which side is shown on the left is drawn per handout. Where ties are allowed, 17.5 % of
a rater's votes are ties (the always-Left rater never ties). Every answer a rater would give to every
comparison is drawn up front, so each plan (and each driver) sees the same rater answer the same
comparison the same way: the plans are compared on the same votes (paired).

The 20 raters vote concurrently: each holds one lease; a vote lands after the rater's time on it (a
per-rater pace times a log-normal time per vote), the rater asks for the next comparison at once, and
raters left without work ask again after each vote lands. Which comparison a rater gets is the
platform's pick: among comparisons whose votes plus open leases are below
``annotate.adaptive.votes_wanted(plan, tally)``, the fewest claimed first, then the lowest id, never one
the rater already had. Every decision about how many votes a comparison gets is that function's.

The loop is :func:`simulate`; the pool is a driver (:class:`InMemoryDriver` here) with ``next_for`` and
``vote``, so a driver through the real services can replay the same seed and be compared decision by
decision.

Label: the majority of A against B (ties ignored; an exact split counts as wrong), against the truth,
over decisive comparisons (|d| ≥ 0.05). Figures are means over runs with 95 % intervals from the t
distribution over runs (runs are independent seeds); ``error_adaptive_minus_k5_ci`` is the paired
interval of the difference, run by run. The adaptive plan measured is ``VotePlan(mode=ADAPTIVE)``'s
defaults, and, with ties, the same with at most ``MAX_VOTES_WITH_TIES`` votes. Prints one JSON line; the
table of every plan tried goes to stderr (``--explore`` adds more plans to it).
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotate.adaptive import (  # noqa: E402
    ItemStatus,
    StoppingRule,
    Tally,
    VoteMode,
    VotePlan,
    status,
    votes_wanted,
)

COMPARISONS = 600
RATERS = 20
CAREFUL, NOISY = 17, 2  # of 20 (85 %, 10 %); the last is careless (5 %)
TIE_SHARE = 0.175
LEFT_BIAS_SD = 0.05
DECISIVE = 0.05
CHOICES = ("A", "B", "tie")


@dataclass(frozen=True)
class World:
    """One seed's truth and raters, and every answer each rater would give to each comparison."""

    q: np.ndarray  # P(A preferred), per comparison
    kinds: tuple[str, ...]  # per rater: careful, noisy, always_left, random
    answers: np.ndarray  # (raters, comparisons): 0 A, 1 B, 2 tie; ties allowed
    answers_no_ties: np.ndarray  # the same raters where ties are not offered
    seconds: np.ndarray  # (raters, comparisons): the rater's time on their n-th vote


@lru_cache(maxsize=2)
def world_make(seed: int) -> World:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.0, 0.5, COMPARISONS)
    q = 0.5 + np.where(rng.random(COMPARISONS) < 0.5, d, -d)
    careless = "always_left" if rng.random() < 0.5 else "random"
    kinds = ("careful",) * CAREFUL + ("noisy",) * NOISY + (careless,) * (RATERS - CAREFUL - NOISY)
    bias = rng.normal(0.0, LEFT_BIAS_SD, RATERS)
    shape = (RATERS, COMPARISONS)
    a_on_left = rng.random(shape) < 0.5
    u_pref, u_tie = rng.random(shape), rng.random(shape)

    prefers_a = np.empty(shape)
    for r, kind in enumerate(kinds):
        prefers_a[r] = {"careful": q, "noisy": 0.5 + (q - 0.5) / 2}.get(kind, np.full(COMPARISONS, 0.5))
    p_left = np.clip(np.where(a_on_left, prefers_a, 1 - prefers_a) + bias[:, None], 0.0, 1.0)
    always_left = np.array([k == "always_left" for k in kinds])[:, None]
    chose_left = always_left | (u_pref < p_left)
    answers_no_ties = np.where(chose_left == a_on_left, 0, 1).astype(np.int8)
    answers = np.where((u_tie < TIE_SHARE) & ~always_left, 2, answers_no_ties).astype(np.int8)

    pace = rng.lognormal(0.0, 0.3, RATERS)[:, None]  # some raters are quicker than others
    seconds = pace * rng.lognormal(np.log(20.0), 0.5, shape)
    return World(q, kinds, answers, answers_no_ties, seconds)


class Driver(Protocol):
    """The pool a simulation votes through: the in-memory one below, or one through the services."""

    def next_for(self, rater: int) -> int | None: ...

    def vote(self, rater: int, comparison: int, choice: str) -> None: ...

    def tallies(self) -> list[Tally]: ...


class InMemoryDriver:
    """The platform's pick and stopping in memory: the wanted votes always come from ``votes_wanted``."""

    CLOSED = 1 << 62  # a key at or above this is not handed out

    def __init__(self, plan: VotePlan, comparisons: int, raters: int) -> None:
        self.plan = plan
        self._tallies = [Tally()] * comparisons
        self.claimed = [0] * comparisons  # votes + open leases
        self.wanted = [votes_wanted(plan, Tally())] * comparisons
        self.n = comparisons
        # The pick's order as one key per comparison, claimed × n + id (fewest claimed, then lowest id),
        # with CLOSED set where claimed has reached wanted; kept up to date one comparison at a time.
        self.key = np.arange(comparisons, dtype=np.int64)
        self.had = np.zeros((raters, comparisons), np.int64)  # CLOSED where the rater had it
        self.buffer = np.empty(comparisons, np.int64)

    def _rekey(self, comparison: int) -> None:
        claimed = self.claimed[comparison]
        closed = self.CLOSED if claimed >= self.wanted[comparison] else 0
        self.key[comparison] = closed | (claimed * self.n + comparison)

    def next_for(self, rater: int) -> int | None:
        np.bitwise_or(self.key, self.had[rater], out=self.buffer)
        comparison = int(self.buffer.argmin())
        if self.buffer[comparison] >= self.CLOSED:
            return None
        self.claimed[comparison] += 1
        self.had[rater, comparison] = self.CLOSED
        self._rekey(comparison)
        return comparison

    def vote(self, rater: int, comparison: int, choice: str) -> None:
        tally = self._tallies[comparison].add(choice)
        self._tallies[comparison] = tally
        self.wanted[comparison] = votes_wanted(self.plan, tally)
        self._rekey(comparison)

    def tallies(self) -> list[Tally]:
        return self._tallies


@dataclass(frozen=True)
class Outcome:
    votes: float  # per comparison
    error: float  # label error over decisive comparisons
    undecided: float  # share of comparisons stopped at the maximum undecided
    statuses: tuple[ItemStatus, ...]
    choices: tuple[tuple[int, int, str], ...]  # (rater, comparison, choice) in the order they landed


def simulate(
    plan: VotePlan,
    seed: int,
    ties: bool,
    driver: Callable[[VotePlan, int, int], Driver] = InMemoryDriver,
) -> Outcome:
    """One run: 20 raters vote on the seed's world through ``driver`` until it hands out nothing."""
    world = world_make(seed)
    answers = world.answers if ties else world.answers_no_ties
    pool = driver(plan, COMPARISONS, RATERS)
    leases: list[tuple[float, int, int]] = []  # (when the vote lands, rater, comparison)
    idle: list[int] = []
    done = [0] * RATERS
    landed = []

    def ask(rater: int, now: float) -> None:
        comparison = pool.next_for(rater)
        if comparison is None:
            idle.append(rater)
        else:
            heapq.heappush(leases, (now + world.seconds[rater, done[rater]], rater, comparison))

    for rater in range(RATERS):
        ask(rater, 0.0)
    while leases:
        now, rater, comparison = heapq.heappop(leases)
        choice = CHOICES[answers[rater, comparison]]
        pool.vote(rater, comparison, choice)
        landed.append((rater, comparison, choice))
        done[rater] += 1
        ask(rater, now)
        # A vote can reopen work (one more vote wanted): raters without work ask again, in id order.
        waiting, idle[:] = sorted(idle), []
        for other in waiting:
            ask(other, now)

    tallies = pool.tallies()
    a = np.array([t.a for t in tallies])
    b = np.array([t.b for t in tallies])
    truth_a = world.q > 0.5
    decisive = np.abs(world.q - 0.5) >= DECISIVE
    right = np.where(truth_a, a > b, b > a)  # an exact split is wrong
    statuses = tuple(status(plan, t) for t in tallies)
    return Outcome(
        votes=sum(t.votes for t in tallies) / len(tallies),
        error=float((~right & decisive).sum() / decisive.sum()),
        undecided=sum(s == ItemStatus.UNDECIDED_AT_MAX for s in statuses) / len(statuses),
        statuses=statuses,
        choices=tuple(landed),
    )


def fixed(k: int) -> VotePlan:
    return VotePlan(mode=VoteMode.FIXED, fixed_votes=k)


def posterior(target: float, max_votes: int = 7) -> VotePlan:
    return VotePlan(mode=VoteMode.ADAPTIVE, error_target=target, max_votes=max_votes)


def margin(delta: int, max_votes: int = 7) -> VotePlan:
    return VotePlan(mode=VoteMode.ADAPTIVE, rule=StoppingRule.MARGIN, margin=delta, max_votes=max_votes)


def interval(values: np.ndarray) -> list[float]:
    """95 % interval of the mean over runs (t distribution)."""
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return [round(float(values.mean() - half), 4), round(float(values.mean() + half), 4)]


# Where ties are offered, fewer of the votes take sides: a lower maximum saves more (measured).
MAX_VOTES_WITH_TIES = 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--explore", action="store_true", help="try more adaptive plans (stderr only)")
    args = parser.parse_args()

    # The platform's default adaptive plan, and the same with the maximum for tracks that offer ties.
    chosen = {False: VotePlan(mode=VoteMode.ADAPTIVE)}
    chosen[True] = replace(chosen[False], max_votes=MAX_VOTES_WITH_TIES)
    tried = [posterior(0.1), posterior(0.15), posterior(0.2), margin(2), margin(2, 9)]
    if args.explore:
        tried += [posterior(0.05), posterior(0.1, 9), posterior(0.15, 9), posterior(0.25, 9)]
        tried += [posterior(0.2, 5), margin(2, 5), margin(2, 6), margin(3), margin(3, 9)]
    plans = {p.name: p for p in [fixed(3), fixed(5), fixed(7), chosen[False], chosen[True], *tried]}
    short = {fixed(k).name: f"k{k}" for k in (3, 5, 7)}

    started = time.perf_counter()
    # figures[ties][plan name]: (votes per comparison, label error, share undecided) per run
    figures = {ties: {name: np.zeros((args.runs, 3)) for name in plans} for ties in (False, True)}
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.runs)):
        for ties in (False, True):
            for name, plan in plans.items():
                outcome = simulate(plan, seed, ties)
                figures[ties][name][i] = (outcome.votes, outcome.error, outcome.undecided)
        if (i + 1) % 20 == 0:
            print(f"{i + 1}/{args.runs} runs, {time.perf_counter() - started:.0f} s", file=sys.stderr)

    result: dict[str, object] = {"runs": args.runs}
    for ties in (False, True):
        prefix = "ties_" if ties else ""
        runs = figures[ties]
        k5 = runs[fixed(5).name]
        k5_error_high = interval(k5[:, 1])[1]
        print(
            f"\n{'with' if ties else 'without'} ties, {args.runs} runs, mean [95 % interval]:",
            file=sys.stderr,
        )
        print("| plan | votes | label error | undecided at max | saving vs k5 | goal |", file=sys.stderr)
        print("| --- | --- | --- | --- | --- | --- |", file=sys.stderr)
        for name, values in runs.items():
            votes, error, undecided = values[:, 0], values[:, 1], values[:, 2]
            saving = 1 - votes.mean() / k5[:, 0].mean()
            meets = saving >= 0.30 and error.mean() <= k5_error_high
            goal = "" if name in short else "yes" if meets else "no"
            mark = " (chosen)" if plans[name] == chosen[ties] else ""
            print(
                f"| {name}{mark} | {votes.mean():.3f} {interval(votes)} "
                f"| {error.mean():.4f} {interval(error)} | {undecided.mean():.3f} | {saving:.1%} | {goal} |",
                file=sys.stderr,
            )
        keyed = {short.get(name, ""): values for name, values in runs.items()}
        keyed["adaptive"] = runs[chosen[ties].name]
        for key in ("k3", "k5", "k7", "adaptive"):
            votes, error = keyed[key][:, 0], keyed[key][:, 1]
            result[f"{prefix}votes_{key}"] = round(float(votes.mean()), 4)
            result[f"{prefix}votes_{key}_ci"] = interval(votes)
            result[f"{prefix}error_{key}"] = round(float(error.mean()), 4)
            result[f"{prefix}error_{key}_ci"] = interval(error)
        adaptive = keyed["adaptive"]
        result[f"{prefix}undecided_adaptive"] = round(float(adaptive[:, 2].mean()), 4)
        result[f"{prefix}error_adaptive_minus_k5_ci"] = interval(adaptive[:, 1] - k5[:, 1])
        saving = 1 - adaptive[:, 0].mean() / k5[:, 0].mean()
        result[f"{prefix}saving_vs_k5"] = round(float(saving), 4)
        result[f"{prefix}saving_vs_k5_ci"] = [round(1 - v / 5, 4) for v in reversed(interval(adaptive[:, 0]))]
        result[f"{prefix}saving_vs_k7"] = round(float(1 - adaptive[:, 0].mean() / 7), 4)
        result[f"{prefix}goal_met"] = bool(saving >= 0.30 and adaptive[:, 1].mean() <= k5_error_high)
        result[f"{prefix}adaptive_plan"] = chosen[ties].name
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
