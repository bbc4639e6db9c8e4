from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DataError, connection
from psycopg import pq
from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

from annotate import vote_path
from annotate.errors import NotYours, TrackPaused
from annotate.models import Assignment, Judgment, TrackSeat
from annotate.services import track_pause_set
from annotate.vote_path import assignment_next_for, judgment_submit_and_next
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def test_the_vote_button_stores_the_vote_and_hands_out_the_next_comparison(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first = assignment_next_for(track=track, user=annotator)

    work = judgment_submit_and_next(
        track_id=track.pk, assignment_id=first.pk, user=annotator, side_choice="right", now=first.issued_at
    )

    assert Judgment.objects.get(assignment=first).shown_left == first.shown_left
    assert work.assignment is not None and work.assignment.item_id != first.item_id
    assert Assignment.objects.get(pk=work.assignment.pk).status == Assignment.Status.OPEN
    assert (work.track.done_by_me, work.track.left_for_me, work.track.can_undo) == (1, 2, True)
    # Sent again (a retry): nothing is stored twice, and the same next comparison comes back.
    again = judgment_submit_and_next(
        track_id=track.pk, assignment_id=first.pk, user=annotator, side_choice="right", now=first.issued_at
    )
    assert again.assignment.pk == work.assignment.pk
    assert Judgment.objects.count() == 1
    assert TrackSeat.objects.get(track=track, user=annotator).assigned == 2


def test_the_vote_button_hands_out_an_expired_lease_with_its_panel_once_nothing_else_is_free(
    annotator, outsider
):
    track = make_track(
        annotators=[annotator, outsider], methods=3, votes_needed=1, lease_seconds=60, min_watch_fraction=0
    )
    held = assignment_next_for(track=track, user=annotator)
    later = held.issued_at + timedelta(seconds=61)
    first = assignment_next_for(track=track, user=outsider, now=later)
    second = judgment_submit_and_next(
        track_id=track.pk, assignment_id=first.pk, user=outsider, side_choice="left", now=later
    ).assignment

    work = judgment_submit_and_next(
        track_id=track.pk, assignment_id=second.pk, user=outsider, side_choice="left", now=later
    )

    assert work.assignment is not None and work.assignment.item_id == held.item_id
    assert work.panel is not None and work.panel.vote_url.endswith(f"/assignments/{work.assignment.pk}/vote")
    assert (work.track.done_by_me, work.track.left_for_me, work.track.can_undo) == (2, 1, True)


def test_the_vote_button_on_another_tracks_assignment_is_not_yours(annotator):
    track = make_track(annotators=[annotator], methods=2, min_watch_fraction=0)
    other = make_track(annotators=[annotator], methods=2, min_watch_fraction=0)
    assignment = assignment_next_for(track=other, user=annotator)
    with pytest.raises(NotYours):
        judgment_submit_and_next(
            track_id=track.pk, assignment_id=assignment.pk, user=annotator, side_choice="left"
        )
    assert not Judgment.objects.exists()


def test_the_vote_statement_is_short_enough_for_psycopg_to_cache_its_parsing():
    # Longer statements have their parameters found again on every call: a fifth of a vote's Python time.
    assert len(vote_path._VOTE_AND_NEXT_SQL) <= MAX_CACHED_STATEMENT_LENGTH


# Outside a test's transaction the vote runs its own BEGIN and COMMIT in pipeline mode: what it leaves
# behind on the connection matters to the next request served on it.


@pytest.mark.django_db(transaction=True)
def test_a_vote_commits_and_leaves_the_connection_in_autocommit_with_no_transaction(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first = assignment_next_for(track=track, user=annotator)

    work = judgment_submit_and_next(
        track_id=track.pk, assignment_id=first.pk, user=annotator, side_choice="left"
    )

    assert connection.get_autocommit()
    assert connection.connection.info.transaction_status == pq.TransactionStatus.IDLE
    assert Judgment.objects.count() == 1  # with no transaction left open: committed
    assert work.assignment is not None


@pytest.mark.django_db(transaction=True)
def test_a_refused_vote_rolls_back_and_the_next_vote_is_stored(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first = assignment_next_for(track=track, user=annotator)
    track_pause_set(track=track, paused=True)

    with pytest.raises(TrackPaused):
        judgment_submit_and_next(
            track_id=track.pk, assignment_id=first.pk, user=annotator, side_choice="left"
        )

    assert connection.connection.info.transaction_status == pq.TransactionStatus.IDLE
    track_pause_set(track=track, paused=False)
    judgment_submit_and_next(track_id=track.pk, assignment_id=first.pk, user=annotator, side_choice="left")
    assert Judgment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_vote_whose_statement_fails_writes_nothing_and_hands_the_connection_back_clean(
    annotator, monkeypatch
):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    first = assignment_next_for(track=track, user=annotator)
    # The lock and the read succeed, then the write fails inside the pipeline, as a lost race or a
    # broken constraint would.
    monkeypatch.setattr(vote_path, "_VOTE_AND_NEXT_SQL", "SELECT 1 / 0")

    with pytest.raises(DataError):
        judgment_submit_and_next(
            track_id=track.pk, assignment_id=first.pk, user=annotator, side_choice="left"
        )

    assert connection.connection.info.transaction_status == pq.TransactionStatus.IDLE
    assert connection.get_autocommit()
    assert Assignment.objects.get(pk=first.pk).status == Assignment.Status.OPEN
    monkeypatch.undo()
    judgment_submit_and_next(track_id=track.pk, assignment_id=first.pk, user=annotator, side_choice="left")
    assert Judgment.objects.count() == 1
