"""Detection by simulation through the real services: careful and careless annotators vote on a track as
the browser makes them (the work page's handout, the vote button's vote-and-next), and the stored quality
table flags exactly the careless ones.

The sizes are annotate.quality_simulation's (1,770 comparisons, 3 votes each, 20 careful raters at
80 % accuracy, 2 always-Left, 2 random), with the track's gold and repeat rates at 10 % each: the handout
itself gives the gold comparisons (from a pool with known answers) and the repeats (sides swapped), as it
does for the browser.
"""

from __future__ import annotations

import random
import time

import pytest
from django.contrib.auth.models import User

from annotate.models import Comparison, GoldAnswer, Judgment, TrackItem, TrackSeat
from annotate.quality_reports import quality_report_compute, track_scope
from annotate.vote_path import assignment_next_for, judgment_submit_and_next
from tests.factories import make_track

# Committed as in production (the vote path runs its own transactions), and each seed starts from emptied
# tables, so that one seed's rows never weigh on the next one's queries.
pytestmark = pytest.mark.django_db(transaction=True)

ACCURACY = 0.8
CHECK_RATE = 0.10  # of the comparisons handed out, for gold and for repeats each
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
    # C(60, 2) = 1,770 comparisons of one identity and prompt, about 200 votes per rater: with fewer, a
    # careful rater's reliability came within reach of the flag's 0.62 now and then. The gold pool from
    # a second catalog corner.
    track = make_track(annotators=users, methods=60, votes_needed=3, min_watch_fraction=0, frames=2)
    track.gold_rate = track.repeat_rate = CHECK_RATE
    track.save(update_fields=["gold_rate", "repeat_rate"])
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
    active = [user for user in users if current[user.pk] is not None]
    while active:
        user = rng.choice(active)
        assignment = current[user.pk]
        comparison_id = assignment.item.comparison_id
        # A gold comparison's truth is its known answer; a repeat's is its comparison's.
        known = gold_answers.get(comparison_id) or truth[comparison_id]
        choice = _canonical(kind_of[user.pk], known, assignment.shown_left, rng)
        work = judgment_submit_and_next(
            track_id=track.pk,
            assignment_id=assignment.pk,
            user=user,
            side_choice=_side(choice, assignment.shown_left),
            response_ms=int(2000 + rng.expovariate(1 / 3000)),
        )
        current[user.pk] = work.assignment
        if work.assignment is None:
            active.remove(user)
    voting = time.monotonic() - started
    judgments = Judgment.objects.filter(track=track)
    total = judgments.count()
    # The checks came from the handout, at about the track's rates.
    assert 0.05 < judgments.filter(is_gold=True).count() / total < 0.15
    assert 0.05 < judgments.filter(is_repeat=True).count() / total < 0.15
    report = quality_report_compute(scope=track_scope(track))
    table = time.monotonic() - started - voting
    print(f"seed {seed}: {report.judgments} judgments voted in {voting:.1f} s, table in {table:.1f} s")
    names = {
        seat.rater_id: seat.user.username
        for seat in TrackSeat.objects.filter(track=track).select_related("user")
    }
    flagged = {names[row["rater"]] for row in report.raters if row["flags"]}
    careless = {user.username for user in users if kind_of[user.pk] != "careful"}
    return flagged, careless


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_the_stored_table_flags_exactly_the_careless_annotators(seed: int):
    flagged, careless = _simulate(seed)
    assert len(careless) == 4
    assert flagged == careless
