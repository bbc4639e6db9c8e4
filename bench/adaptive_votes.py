"""Adaptive votes per comparison against fixed k: votes per comparison and label error, by simulation.

    .venv/bin/python bench/adaptive_votes.py [--runs 200] [--first-seed 0] [--explore] [--no-db-check]
    .venv/bin/python bench/adaptive_votes.py --db-check [--db-check-comparisons 600]

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

The loop is :func:`simulate`; the pool is a driver with ``next_for`` and ``vote``: :class:`InMemoryDriver`
for the figures, :class:`DatabaseDriver` through the platform's services (``assignment_next_for``,
``judgment_submit_and_next``) against PostgreSQL. Each full run (and ``--db-check`` alone) replays the
first seed through both, with and without ties, the chosen plans, in a database of its own
(``bench_adaptive``, migrated, dropped at the end), and checks that every comparison ends with the same
votes, status and tally (``db_check_same_decisions``).

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
import os
import sys
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass, replace
from functools import lru_cache, partial
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
CAREFUL, NOISY = 0.85, 0.10  # shares of the raters (17 and 2 of 20); the rest are careless (1 of 20)
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


@lru_cache(maxsize=4)
def world_make(seed: int, comparisons: int = COMPARISONS, raters: int = RATERS) -> World:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.0, 0.5, comparisons)
    q = 0.5 + np.where(rng.random(comparisons) < 0.5, d, -d)
    careless = "always_left" if rng.random() < 0.5 else "random"
    careful, noisy = round(raters * CAREFUL), round(raters * NOISY)
    kinds = ("careful",) * careful + ("noisy",) * noisy + (careless,) * (raters - careful - noisy)
    bias = rng.normal(0.0, LEFT_BIAS_SD, raters)
    shape = (raters, comparisons)
    a_on_left = rng.random(shape) < 0.5
    u_pref, u_tie = rng.random(shape), rng.random(shape)

    prefers_a = np.empty(shape)
    for r, kind in enumerate(kinds):
        prefers_a[r] = {"careful": q, "noisy": 0.5 + (q - 0.5) / 2}.get(kind, np.full(comparisons, 0.5))
    p_left = np.clip(np.where(a_on_left, prefers_a, 1 - prefers_a) + bias[:, None], 0.0, 1.0)
    always_left = np.array([k == "always_left" for k in kinds])[:, None]
    chose_left = always_left | (u_pref < p_left)
    answers_no_ties = np.where(chose_left == a_on_left, 0, 1).astype(np.int8)
    answers = np.where((u_tie < TIE_SHARE) & ~always_left, 2, answers_no_ties).astype(np.int8)

    pace = rng.lognormal(0.0, 0.3, raters)[:, None]  # some raters are quicker than others
    seconds = pace * rng.lognormal(np.log(20.0), 0.5, shape)
    return World(q, kinds, answers, answers_no_ties, seconds)


class Driver(Protocol):
    """The pool a simulation votes through: the in-memory one below, or one through the services."""

    def next_for(self, rater: int) -> int | None: ...

    def vote(self, rater: int, comparison: int, choice: str) -> None: ...

    def tallies(self) -> list[Tally]: ...

    def statuses(self) -> list[ItemStatus]: ...


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

    def statuses(self) -> list[ItemStatus]:
        return [status(self.plan, tally) for tally in self._tallies]


@dataclass(frozen=True)
class Outcome:
    votes: float  # per comparison
    error: float  # label error over decisive comparisons
    undecided: float  # share of comparisons stopped at the maximum undecided
    statuses: tuple[ItemStatus, ...]
    tallies: tuple[Tally, ...]
    choices: tuple[tuple[int, int, str], ...]  # (rater, comparison, choice) in the order they landed


def simulate(
    plan: VotePlan,
    seed: int,
    ties: bool,
    driver: Callable[[VotePlan, int, int], Driver] = InMemoryDriver,
    *,
    comparisons: int = COMPARISONS,
    raters: int = RATERS,
) -> Outcome:
    """One run: the raters vote on the seed's world through ``driver`` until it hands out nothing."""
    world = world_make(seed, comparisons, raters)
    answers = world.answers if ties else world.answers_no_ties
    pool = driver(plan, comparisons, raters)
    leases: list[tuple[float, int, int]] = []  # (when the vote lands, rater, comparison)
    idle: list[int] = []
    done = [0] * raters
    landed = []

    def ask(rater: int, now: float) -> None:
        comparison = pool.next_for(rater)
        if comparison is None:
            idle.append(rater)
        else:
            heapq.heappush(leases, (now + world.seconds[rater, done[rater]], rater, comparison))

    for rater in range(raters):
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
    statuses = tuple(pool.statuses())
    return Outcome(
        votes=sum(t.votes for t in tallies) / len(tallies),
        error=float((~right & decisive).sum() / decisive.sum()),
        undecided=sum(s == ItemStatus.UNDECIDED_AT_MAX for s in statuses) / len(statuses),
        statuses=statuses,
        tallies=tuple(tallies),
        choices=tuple(landed),
    )


# --- the same runs through the platform's services ----------------------------------------------------


@dataclass(frozen=True)
class CheckWorld:
    """Rows for :class:`DatabaseDriver`: a catalog of exactly the world's comparisons (one identity, two
    methods, a prompt per comparison) and a user per rater, in rater order."""

    identity_ids: list[int]
    prompt_ids: list[int]
    method_ids: list[int]
    user_ids: list[int]


def check_world_build(*, comparisons: int, raters: int, tag: str = "adaptive-check") -> CheckWorld:
    """The rows, straight into the tables with bench/annotate_load.py's builders; Django must be set up."""
    from bench.annotate_load import catalog_build, users_build

    catalog = catalog_build(tag=tag, identities=1, prompts=comparisons, methods=2, references=1)
    users = users_build(prefix=f"{tag}-rater", count=raters)
    return CheckWorld(catalog.identity_ids, catalog.prompt_ids, catalog.method_ids, users)


class DatabaseDriver:
    """The pool through the platform's services, on an already set-up Django (the bench's own database,
    or a test's): a track of ``plan`` over the check world's comparisons, its raters seated.

    ``next_for`` is ``assignment_next_for``; ``vote`` is the vote button's ``judgment_submit_and_next``,
    which hands the rater their next comparison in the same transaction: the ``next_for`` that follows
    gets it as the rater's current one. Comparison i of the simulated world is the track's i-th item in
    id order, the order in which the platform's pick breaks ties between equally claimed items."""

    def __init__(self, plan: VotePlan, comparisons: int, raters: int, *, world: CheckWorld) -> None:
        from django.contrib.auth.models import User

        from annotate.models import Assignment, TrackItem
        from annotate.services import track_create
        from generation.models import Identity, Method, Prompt

        self.plan = plan
        self.users = list(User.objects.filter(pk__in=world.user_ids).order_by("pk"))
        assert len(self.users) == raters, f"the check world has {len(self.users)} raters, not {raters}"
        self.track = track_create(
            name=f"adaptive check: {plan.name}",
            kind="identity_fidelity",
            identities=Identity.objects.filter(pk__in=world.identity_ids),
            prompts=Prompt.objects.filter(pk__in=world.prompt_ids),
            methods=Method.objects.filter(pk__in=world.method_ids),
            annotators=self.users,
            allow_tie=True,  # offered on both runs: the run without ties just never answers one
            min_watch_fraction=0.0,
            lease_seconds=24 * 3600,  # no lease runs out while the check runs
            gold_rate=0.0,
            repeat_rate=0.0,
            plan=plan,
        )
        self.items = TrackItem.objects.filter(track=self.track, is_check=False).order_by("pk")
        self.position = {pk: n for n, pk in enumerate(self.items.values_list("pk", flat=True))}
        assert len(self.position) == comparisons, f"the track has {len(self.position)} comparisons"
        self.leases: dict[int, Assignment] = {}

    def next_for(self, rater: int) -> int | None:
        from annotate.vote_path import assignment_next_for

        assignment = assignment_next_for(track=self.track, user=self.users[rater])
        if assignment is None:
            return None
        self.leases[rater] = assignment
        return self.position[assignment.item_id]

    def vote(self, rater: int, comparison: int, choice: str) -> None:
        from annotate.vote_path import judgment_submit_and_next

        lease = self.leases.pop(rater)
        assert self.position[lease.item_id] == comparison
        side = "tie" if choice == "tie" else "left" if lease.shown_left == choice else "right"
        judgment_submit_and_next(
            track_id=self.track.pk, assignment_id=lease.pk, user=self.users[rater], side_choice=side
        )

    def tallies(self) -> list[Tally]:
        rows = self.items.values_list("tally_a", "tally_b", "tally_tie", "votes")
        return [Tally(a, b, tie, votes) for a, b, tie, votes in rows]

    def statuses(self) -> list[ItemStatus]:
        """As stored by the vote path, not computed again here."""
        return [ItemStatus(value) for value in self.items.values_list("status", flat=True)]


@dataclass(frozen=True)
class DbCheck:
    comparisons: int
    differences: list[str]  # per comparison where the runs differ, and the first vote where they part

    @property
    def same(self) -> bool:
        return not self.differences


def db_check(*, seed: int, comparisons: int, raters: int, plans: dict[bool, VotePlan]) -> DbCheck:
    """Replay one seed through the platform's services (Django set up) and through :class:`InMemoryDriver`,
    for each plan (keyed by whether ties are offered), and compare them comparison by comparison: votes,
    status and tally."""
    world = check_world_build(comparisons=comparisons, raters=raters, tag=f"adaptive-check-{seed}")
    differences = []
    for ties, plan in plans.items():
        runs = [
            simulate(plan, seed, ties, driver, comparisons=comparisons, raters=raters)
            for driver in (InMemoryDriver, partial(DatabaseDriver, world=world))
        ]
        memory, database = (
            [(*astuple(t), str(s)) for t, s in zip(run.tallies, run.statuses, strict=True)] for run in runs
        )
        name = f"{'with' if ties else 'without'} ties, {plan.name}"
        for n, (mine, theirs) in enumerate(zip(memory, database, strict=True)):
            if mine != theirs:
                differences.append(f"{name}: comparison {n}: in memory {mine}, in the database {theirs}")
        landed = [run.choices for run in runs]
        if landed[0] != landed[1]:
            at = next(
                (k for k, (m, d) in enumerate(zip(*landed, strict=False)) if m != d), min(map(len, landed))
            )
            differences.append(
                f"{name}: the votes part at vote {at}: in memory {landed[0][at : at + 3]}, "
                f"in the database {landed[1][at : at + 3]}"
            )
    return DbCheck(comparisons, differences)


def db_check_own_database(*, seed: int, comparisons: int, plans: dict[bool, VotePlan]) -> DbCheck:
    """:func:`db_check` in a database of its own, migrated first and dropped at the end."""
    from bench.annotate_load import bench_database

    with bench_database(os.environ.get("BENCH_ADAPTIVE_DATABASE_NAME", "bench_adaptive")):
        return db_check(seed=seed, comparisons=comparisons, raters=RATERS, plans=plans)


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
    parser.add_argument(
        "--db-check",
        action="store_true",
        help="only the check through the platform's services against PostgreSQL (part of every full run)",
    )
    parser.add_argument("--no-db-check", action="store_true", help="the in-memory runs only")
    parser.add_argument(
        "--db-check-comparisons",
        type=int,
        default=COMPARISONS,
        help="comparisons of the check's world (first seed)",
    )
    args = parser.parse_args()

    # The platform's default adaptive plan, and the same with the maximum for tracks that offer ties.
    chosen = {False: VotePlan(mode=VoteMode.ADAPTIVE)}
    chosen[True] = replace(chosen[False], max_votes=MAX_VOTES_WITH_TIES)

    def checked() -> dict[str, object]:
        began = time.perf_counter()
        check = db_check_own_database(
            seed=args.first_seed, comparisons=args.db_check_comparisons, plans=chosen
        )
        for line in check.differences:
            print(f"db check: {line}", file=sys.stderr)
        print(
            f"db check: seed {args.first_seed}, {check.comparisons} comparisons, with and without ties: "
            f"{'the same decisions' if check.same else 'DIFFERENT decisions'} in memory and through the "
            f"services ({time.perf_counter() - began:.0f} s)",
            file=sys.stderr,
        )
        return {"db_check_comparisons": check.comparisons, "db_check_same_decisions": check.same}

    if args.db_check:
        print(json.dumps(checked()))
        return
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
    if not args.no_db_check:
        result.update(checked())
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
