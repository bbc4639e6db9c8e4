from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from annotate.errors import NotYours, TrackPaused
from annotate.models import Assignment, TrackItem
from annotate.services import track_pause_set
from annotate.vote_path import assignment_next_for, judgment_submit
from tests.annotate.conftest import watch_fully
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def _vote(assignment, user, side="left"):
    watch_fully(assignment, user)
    return judgment_submit(
        assignment_id=assignment.pk,
        user=user,
        side_choice=side,
        now=assignment.issued_at + timedelta(seconds=61),
    )


def test_it_hands_out_the_comparison_with_fewest_votes_first(annotator, second_annotator, outsider):
    track = make_track(annotators=[annotator, second_annotator, outsider], votes_needed=3)
    first = assignment_next_for(track=track, user=annotator)
    # Another annotator is steered to a comparison that nobody holds yet.
    second = assignment_next_for(track=track, user=second_annotator)
    assert first.item_id != second.item_id
    _vote(first, annotator)
    third = assignment_next_for(track=track, user=outsider)
    assert third.item_id not in (first.item_id, second.item_id)


def test_it_returns_the_open_assignment_again_until_it_is_answered(annotator):
    track = make_track(annotators=[annotator])
    first = assignment_next_for(track=track, user=annotator)
    assert assignment_next_for(track=track, user=annotator).pk == first.pk
    assert TrackItem.objects.get(pk=first.item_id).claimed == 1


def test_an_annotator_never_gets_a_comparison_they_judged(annotator):
    track = make_track(annotators=[annotator], votes_needed=3)
    seen = []
    while (assignment := assignment_next_for(track=track, user=annotator)) is not None:
        seen.append(assignment.item_id)
        _vote(assignment, annotator)
    assert sorted(seen) == sorted(track.items.values_list("id", flat=True))


def test_it_gives_nothing_once_every_comparison_has_its_votes(annotator, second_annotator):
    track = make_track(annotators=[annotator, second_annotator], methods=2, votes_needed=1)
    _vote(assignment_next_for(track=track, user=annotator), annotator)
    assert assignment_next_for(track=track, user=second_annotator) is None


def test_an_expired_lease_goes_back_to_the_pool(annotator, second_annotator):
    track = make_track(annotators=[annotator, second_annotator], methods=2, votes_needed=1, lease_seconds=60)
    held = assignment_next_for(track=track, user=annotator)
    assert assignment_next_for(track=track, user=second_annotator) is None
    later = held.issued_at + timedelta(seconds=61)
    taken_over = assignment_next_for(track=track, user=second_annotator, now=later)
    assert taken_over is not None and taken_over.item_id == held.item_id
    held.refresh_from_db()
    assert held.status == Assignment.Status.EXPIRED
    assert TrackItem.objects.get(pk=held.item_id).claimed == 1


def test_sides_are_balanced_within_each_annotator(annotator):
    track = make_track(annotators=[annotator], methods=5, votes_needed=1)  # 10 comparisons
    sides = []
    while (assignment := assignment_next_for(track=track, user=annotator)) is not None:
        sides.append(assignment.shown_left)
        _vote(assignment, annotator)
    assert len(sides) == 10
    assert sides.count("A") == sides.count("B") == 5


def test_a_paused_track_hands_out_nothing(annotator):
    track = make_track(annotators=[annotator])
    track_pause_set(track=track, paused=True)
    with pytest.raises(TrackPaused):
        assignment_next_for(track=track, user=annotator)


def test_an_annotator_not_on_the_track_is_refused(annotator, outsider):
    track = make_track(annotators=[annotator])
    with pytest.raises(NotYours):
        assignment_next_for(track=track, user=outsider)


@pytest.mark.django_db(transaction=True)
def test_two_annotators_racing_for_the_last_needed_vote_never_over_claim(annotator, second_annotator):
    # One comparison, one vote needed: two requests on two connections at the same moment.
    track = make_track(annotators=[annotator, second_annotator], methods=2, votes_needed=1)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def ask(user):
        try:
            barrier.wait()
            results[user.username] = assignment_next_for(track=track, user=user)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(user,)) for user in (annotator, second_annotator)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    handed_out = [value for value in results.values() if value is not None]
    assert len(results) == 2
    assert len(handed_out) == 1
    item = TrackItem.objects.get(track=track)
    assert item.claimed == 1
    assert Assignment.objects.filter(item=item).count() == 1


@pytest.mark.django_db(transaction=True)
def test_annotators_starting_at_the_same_moment_all_get_a_comparison():
    # Many pickers on the same few rows at once: SKIP LOCKED must move each to another free comparison,
    # never answer "nothing left" while plenty are free (84 comparisons, 24 annotators, 4 picks each).
    from django.contrib.auth.models import User

    from annotate.vote_path import judgment_submit_and_next

    users = [User.objects.create_user(f"racer-{n}") for n in range(24)]
    track = make_track(annotators=users, methods=8, identities=3, votes_needed=3, min_watch_fraction=0)
    barrier = threading.Barrier(len(users))
    empty_handed: list[str] = []

    def work(user):
        try:
            barrier.wait()
            assignment = assignment_next_for(track=track, user=user)
            for _ in range(3):
                if assignment is None:
                    break
                assignment = judgment_submit_and_next(
                    track_id=track.pk, assignment_id=assignment.pk, user=user, side_choice="left"
                ).assignment
            if assignment is None:
                empty_handed.append(user.username)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert empty_handed == []
    assert not TrackItem.objects.filter(track=track, claimed__gt=3).exists()
