from __future__ import annotations

import pytest
from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

from annotate import services
from annotate.errors import NotYours
from annotate.models import Assignment, Judgment, TrackSeat
from annotate.services import assignment_next_for, judgment_submit_and_next
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
    assert len(services._VOTE_AND_NEXT_SQL) <= MAX_CACHED_STATEMENT_LENGTH
