from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from annotate.errors import AssignmentExpired, InvalidChoice, NotYours, TrackPaused, WatchRuleNotMet
from annotate.models import Judgment, TrackItem
from annotate.services import track_pause_set
from annotate.vote_path import assignment_next_for, assignment_watch_record, judgment_submit
from tests.annotate.conftest import watch_fully
from tests.factories import make_track

pytestmark = pytest.mark.django_db


@pytest.fixture
def track(annotator):
    # 32 frames at 8 fps: 4-second clips, long enough for the watch-time plausibility check to bite.
    return make_track(annotators=[annotator], methods=2, votes_needed=2, lease_seconds=600, frames=32)


@pytest.fixture
def assignment(track, annotator):
    return assignment_next_for(track=track, user=annotator)


def _soon(assignment, seconds=61):
    return assignment.issued_at + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("clicked", "shown_left", "stored"),
    [
        ("left", "A", "A"),
        ("right", "A", "B"),
        ("left", "B", "B"),
        ("right", "B", "A"),
    ],
)
def test_the_vote_is_stored_in_canonical_terms_with_the_side_shown(
    annotator, assignment, clicked, shown_left, stored
):
    assignment.shown_left = shown_left
    assignment.save()
    watch_fully(assignment, annotator)
    result = judgment_submit(
        assignment_id=assignment.pk,
        user=annotator,
        side_choice=clicked,
        response_ms=4200,
        now=_soon(assignment),
    )
    judgment = result.judgment
    assert result.created
    assert (judgment.choice, judgment.shown_left) == (stored, shown_left)
    assert judgment.criterion == "identity_fidelity"
    assert judgment.response_ms == 4200
    assert judgment.watched_a == judgment.watched_b == 1.0
    assert TrackItem.objects.get(pk=assignment.item_id).votes == 1


def test_a_repeated_vote_stores_one_judgment(annotator, assignment):
    watch_fully(assignment, annotator)
    first = judgment_submit(
        assignment_id=assignment.pk, user=annotator, side_choice="left", now=_soon(assignment)
    )
    again = judgment_submit(
        assignment_id=assignment.pk, user=annotator, side_choice="right", now=_soon(assignment)
    )
    assert not again.created
    assert again.judgment.pk == first.judgment.pk
    assert Judgment.objects.count() == 1
    assert TrackItem.objects.get(pk=assignment.item_id).votes == 1


def test_an_unknown_choice_is_refused(annotator, assignment):
    watch_fully(assignment, annotator)
    with pytest.raises(InvalidChoice, match="Unknown choice 'middle'"):
        judgment_submit(
            assignment_id=assignment.pk, user=annotator, side_choice="middle", now=_soon(assignment)
        )
    assert Judgment.objects.count() == 0


def test_a_tie_is_refused_where_the_track_forces_a_choice(annotator, assignment):
    watch_fully(assignment, annotator)
    with pytest.raises(InvalidChoice, match="'Tie' is not an allowed answer"):
        judgment_submit(assignment_id=assignment.pk, user=annotator, side_choice="tie", now=_soon(assignment))
    assert Judgment.objects.count() == 0


def test_a_tie_is_stored_where_allowed(annotator):
    track = make_track(annotators=[annotator], methods=2, allow_tie=True, allow_both_bad=True)
    assignment = assignment_next_for(track=track, user=annotator)
    watch_fully(assignment, annotator)
    result = judgment_submit(
        assignment_id=assignment.pk, user=annotator, side_choice="tie", now=_soon(assignment)
    )
    assert result.judgment.choice == "tie"


def test_a_vote_before_the_videos_were_watched_is_refused(annotator, assignment):
    with pytest.raises(WatchRuleNotMet, match="watch both videos"):
        judgment_submit(
            assignment_id=assignment.pk, user=annotator, side_choice="left", now=_soon(assignment)
        )
    assert Judgment.objects.count() == 0


def test_a_client_claiming_to_have_watched_too_soon_is_not_believed(annotator, assignment):
    # One second after the comparison arrived nobody can have seen both clips through.
    assignment_watch_record(
        assignment_id=assignment.pk, user=annotator, watched_a=1.0, watched_b=1.0, now=_soon(assignment, 0.2)
    )
    with pytest.raises(WatchRuleNotMet):
        judgment_submit(
            assignment_id=assignment.pk, user=annotator, side_choice="left", now=_soon(assignment, 0.3)
        )
    assert Judgment.objects.count() == 0


def test_a_vote_on_someone_elses_assignment_is_refused(annotator, outsider, assignment):
    watch_fully(assignment, annotator)
    with pytest.raises(NotYours):
        judgment_submit(assignment_id=assignment.pk, user=outsider, side_choice="left", now=_soon(assignment))
    assert Judgment.objects.count() == 0


def test_a_vote_on_an_expired_assignment_is_refused(annotator, assignment):
    watch_fully(assignment, annotator)
    with pytest.raises(AssignmentExpired):
        judgment_submit(
            assignment_id=assignment.pk, user=annotator, side_choice="left", now=_soon(assignment, 601)
        )
    assert Judgment.objects.count() == 0


def test_a_vote_on_a_paused_track_is_refused(annotator, track, assignment):
    watch_fully(assignment, annotator)
    track_pause_set(track=track, paused=True)
    with pytest.raises(TrackPaused):
        judgment_submit(
            assignment_id=assignment.pk, user=annotator, side_choice="left", now=_soon(assignment)
        )
    assert Judgment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_same_vote_sent_twice_at_once_stores_one_judgment(annotator):
    track = make_track(annotators=[annotator], methods=2)
    assignment = assignment_next_for(track=track, user=annotator)
    watch_fully(assignment, annotator)
    barrier = threading.Barrier(2)
    created = []

    def send():
        try:
            barrier.wait()
            result = judgment_submit(
                assignment_id=assignment.pk, user=annotator, side_choice="left", now=_soon(assignment)
            )
            created.append(result.created)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False, True]
    assert Judgment.objects.count() == 1
