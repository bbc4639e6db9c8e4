from __future__ import annotations

from datetime import timedelta

import pytest

from annotate.errors import NothingToUndo
from annotate.models import Assignment, Judgment, TrackItem
from annotate.vote_path import assignment_next_for, judgment_submit, judgment_undo_last
from tests.annotate.conftest import watch_fully
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def _vote(assignment, user):
    watch_fully(assignment, user)
    return judgment_submit(
        assignment_id=assignment.pk,
        user=user,
        side_choice="left",
        now=assignment.issued_at + timedelta(seconds=61),
    )


def test_undo_takes_back_the_last_vote_and_shows_that_comparison_again(annotator):
    track = make_track(annotators=[annotator], methods=3)
    first = assignment_next_for(track=track, user=annotator)
    _vote(first, annotator)
    handed_next = assignment_next_for(track=track, user=annotator)

    reopened = judgment_undo_last(track=track, user=annotator)

    assert reopened.pk == first.pk
    assert reopened.status == Assignment.Status.OPEN
    assert Judgment.objects.count() == 0
    assert TrackItem.objects.get(pk=first.item_id).votes == 0
    # The comparison handed out after the vote went back to the pool.
    handed_next.refresh_from_db()
    assert handed_next.status == Assignment.Status.EXPIRED
    assert TrackItem.objects.get(pk=handed_next.item_id).claimed == 0
    assert assignment_next_for(track=track, user=annotator).pk == first.pk


def test_only_the_last_vote_can_be_undone_once(annotator):
    track = make_track(annotators=[annotator], methods=3)
    _vote(assignment_next_for(track=track, user=annotator), annotator)
    _vote(assignment_next_for(track=track, user=annotator), annotator)
    judgment_undo_last(track=track, user=annotator)
    with pytest.raises(NothingToUndo):
        judgment_undo_last(track=track, user=annotator)
    assert Judgment.objects.count() == 1


def test_there_is_nothing_to_undo_before_the_first_vote(annotator):
    track = make_track(annotators=[annotator], methods=2)
    with pytest.raises(NothingToUndo):
        judgment_undo_last(track=track, user=annotator)
