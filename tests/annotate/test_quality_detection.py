"""Detection by simulation through the real services: careful and careless annotators vote on a track as
the browser makes them (the work page's handout, the vote button's vote-and-next), and the stored quality
table flags exactly the careless ones.

The sizes are annotate.quality_simulation's (about 1,000 comparisons, 3 votes each, 20 careful raters at
80 % accuracy, 2 always-Left, 2 random, 10 % gold and 10 % repeats of everything handed out). Gold and
repeated comparisons are written here as judgments of their own (known answer; the same rater's earlier
comparison, sides swapped, at least 10 votes later), as the handout stores them.
"""

from __future__ import annotations

import random
import time

import pytest
from django.contrib.auth.models import User

from annotate.models import Comparison, GoldAnswer, Judgment, TrackItem, TrackSeat
from annotate.quality_reports import quality_report_compute
from annotate.vote_path import assignment_next_for, judgment_submit_and_next
from tests.factories import make_track

# Committed as in production (the vote path runs its own transactions), and each seed starts from emptied
# tables, so that one seed's rows never weigh on the next one's queries.
pytestmark = pytest.mark.django_db(transaction=True)

ACCURACY = 0.8
CHECK_SHARE = 0.10 / 0.80  # gold and repeats are each 10 % of all handed out, real votes 80 %
KINDS = ["careful"] * 20 + ["always_left"] * 2 + ["random"] * 2


def _canonical(kind: str, truth: str, shown_left: str, rng: random.Random) -> str:
    if kind == "always_left":
        return shown_left
    if kind == "random":
        return rng.choice("AB")
    other = "B" if truth == "A" else "A"
    return truth if rng.random() < ACCURACY else other


def _side(choice: str, shown_left: str) -> str:
    return "left" if choice == shown_left else "right"


def _simulate(seed: int) -> tuple[set[str], set[str]]:
    """The usernames the stored table flags, and those of the careless annotators."""
    rng = random.Random(seed)
    users = [User.objects.create_user(f"rater-{n:02d}-{kind}") for n, kind in enumerate(KINDS)]
    # C(46, 2) = 1,035 comparisons of one identity and prompt; the gold pool from a second catalog corner.
    track = make_track(annotators=users, methods=46, votes_needed=3, min_watch_fraction=0, frames=2)
    pool = make_track(methods=12, frames=2, name=f"gold-pool-{seed}")
    gold = list(Comparison.objects.filter(track_items__track=pool))
    gold_answers = {c.pk: rng.choice("AB") for c in gold}
    GoldAnswer.objects.bulk_create(
        GoldAnswer(comparison=c, criterion=track.criterion, answer=gold_answers[c.pk], source="made")
        for c in gold
    )
    truth = {
        pk: rng.choice("AB")
        for pk in TrackItem.objects.filter(track=track).values_list("comparison_id", flat=True)
    }
    kind_of = {user.pk: kind for user, kind in zip(users, KINDS, strict=True)}
    started = time.monotonic()

    current = {user.pk: assignment_next_for(track=track, user=user) for user in users}
    rater_of = dict(TrackSeat.objects.filter(track=track).values_list("user_id", "rater_id"))
    seen_gold: dict[int, set[int]] = {user.pk: set() for user in users}
    history: dict[int, list[Judgment]] = {user.pk: [] for user in users}
    repeated: set[int] = set()
    active = [user for user in users if current[user.pk] is not None]
    while active:
        user = rng.choice(active)
        kind = kind_of[user.pk]
        assignment = current[user.pk]
        choice = _canonical(kind, truth[assignment.item.comparison_id], assignment.shown_left, rng)
        work = judgment_submit_and_next(
            track_id=track.pk,
            assignment_id=assignment.pk,
            user=user,
            side_choice=_side(choice, assignment.shown_left),
            response_ms=int(2000 + rng.expovariate(1 / 3000)),
        )
        rater_id = rater_of[user.pk]
        history[user.pk].append(Judgment.objects.get(assignment_id=assignment.pk))
        _checks(
            rng,
            track,
            kind,
            rater_id,
            gold,
            gold_answers,
            seen_gold[user.pk],
            history[user.pk],
            repeated,
            truth,
        )
        current[user.pk] = work.assignment
        if work.assignment is None:
            active.remove(user)
    voting = time.monotonic() - started
    report = quality_report_compute(track=track)
    table = time.monotonic() - started - voting
    print(f"seed {seed}: {report.judgments} judgments voted in {voting:.1f} s, table in {table:.1f} s")
    names = {
        seat.rater_id: seat.user.username
        for seat in TrackSeat.objects.filter(track=track).select_related("user")
    }
    flagged = {names[row["rater"]] for row in report.raters if row["flags"]}
    careless = {user.username for user in users if kind_of[user.pk] != "careful"}
    return flagged, careless


def _checks(rng, track, kind, rater_id, gold, gold_answers, seen, history, repeated, truth) -> None:
    """After a real vote, now and then a gold comparison the rater has not seen, and a repeat of one of
    their comparisons from at least 10 votes back, sides swapped."""

    def answer(comparison_id: int, known: str, shown_left: str, **check: object) -> None:
        Judgment.objects.create(
            comparison_id=comparison_id,
            criterion=track.criterion,
            shown_left=shown_left,
            rater_id=rater_id,
            track=track,
            response_ms=int(2000 + rng.expovariate(1 / 3000)),
            choice=_canonical(kind, known, shown_left, rng),
            **check,
        )

    fresh = [c for c in gold if c.pk not in seen]
    if rng.random() < CHECK_SHARE and fresh:
        comparison = rng.choice(fresh)
        seen.add(comparison.pk)
        answer(comparison.pk, gold_answers[comparison.pk], rng.choice("AB"), is_gold=True)
    earlier = [j for j in history[:-10] if j.pk not in repeated]
    if rng.random() < CHECK_SHARE and earlier:
        original = rng.choice(earlier)
        repeated.add(original.pk)
        swapped = "B" if original.shown_left == "A" else "A"
        answer(
            original.comparison_id, truth[original.comparison_id], swapped, is_repeat=True, repeat_of=original
        )


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_the_stored_table_flags_exactly_the_careless_annotators(seed: int):
    flagged, careless = _simulate(seed)
    assert len(careless) == 4
    assert flagged == careless
