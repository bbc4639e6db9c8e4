from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Q

from annotate import selectors
from annotate.models import Assignment, Judgment, Track, TrackItem, TrackSeat
from annotate.services import track_annotators_set, track_extend
from annotate.vote_path import (
    assignment_next_for,
    judgment_submit,
    judgment_submit_and_next,
    judgment_undo_last,
)
from tests.factories import make_track, make_video

pytestmark = pytest.mark.django_db


def _recounted(track: Track) -> dict[str, object]:
    """The progress numbers counted from the rows, as the pages counted them before the counters."""
    items = TrackItem.objects.filter(track=track)
    seats = {}
    for seat in TrackSeat.objects.filter(track=track).select_related("user"):
        answered = Assignment.objects.filter(
            item__track=track, rater__user=seat.user, status=Assignment.Status.ANSWERED
        )
        seats[seat.user.username] = (
            Judgment.objects.filter(track=track, rater__user=seat.user).count(),
            items.filter(votes__lt=track.votes_needed).exclude(pk__in=answered.values("item_id")).count(),
        )
    return {
        "items_total": items.count(),
        "items_complete": items.filter(votes__gte=track.votes_needed).count(),
        "votes_stored": Judgment.objects.filter(track=track).count(),
        "seats": seats,
    }


def _counted(track: Track) -> dict[str, object]:
    """The same numbers as the pages read them now, from the counters."""
    track.refresh_from_db()
    seats = {}
    for seat in TrackSeat.objects.filter(track=track).select_related("user"):
        shown = selectors.annotator_track_progress_get(user=seat.user, track_id=track.pk)
        seats[seat.user.username] = (shown.done_by_me, shown.left_for_me)
    return {
        "items_total": track.items_total,
        "items_complete": track.items_complete,
        "votes_stored": track.votes_stored,
        "seats": seats,
    }


def _vote(track: Track, user: User) -> bool:
    assignment = assignment_next_for(track=track, user=user)
    if assignment is None:
        return False
    judgment_submit(assignment_id=assignment.pk, user=user, side_choice="left", now=assignment.issued_at)
    return True


def _annotators(count: int) -> list[User]:
    return [User.objects.create_user(f"counter-{n}") for n in range(count)]


def test_the_counters_match_a_recount_through_votes_completions_and_undos():
    users = _annotators(4)
    track = make_track(annotators=users, methods=4, votes_needed=2, min_watch_fraction=0)  # 6 comparisons
    rng = random.Random(3)
    for _ in range(40):
        user = rng.choice(users)
        if rng.random() < 0.2 and TrackSeat.objects.get(track=track, user=user).undoable_id:
            judgment_undo_last(track=track, user=user)
        else:
            _vote(track, user)
        assert _counted(track) == _recounted(track)
    assert track.items_complete > 0  # the walk did complete comparisons, and reopened some


def test_a_comparison_completed_by_others_is_no_longer_left_for_me():
    me, second, third = _annotators(3)
    track = make_track(annotators=[me, second, third], methods=2, votes_needed=3, min_watch_fraction=0)
    assert _vote(track, me)
    assert selectors.annotator_track_progress_get(user=me, track_id=track.pk).left_for_me == 0
    assert _vote(track, second) and _vote(track, third)

    track.refresh_from_db()
    assert (track.items_complete, track.votes_stored) == (1, 3)
    assert _counted(track) == _recounted(track)
    judgment_undo_last(track=track, user=third)  # reopened: it counts again for those who answered it
    assert _counted(track) == _recounted(track)


def test_the_progress_a_vote_returns_is_the_progress_the_track_list_shows(annotator, outsider):
    track = make_track(annotators=[annotator, outsider], methods=3, votes_needed=2, min_watch_fraction=0)
    assert _vote(track, outsider)
    assignment = assignment_next_for(track=track, user=annotator)
    for _ in range(2):
        work = judgment_submit_and_next(
            track_id=track.pk, assignment_id=assignment.pk, user=annotator, side_choice="left"
        )
        shown = selectors.annotator_track_progress_get(user=annotator, track_id=track.pk)
        progress = ("done_by_me", "left_for_me", "can_undo")
        assert [getattr(work.track, name) for name in progress] == [getattr(shown, name) for name in progress]
        assignment = work.assignment


def test_an_annotator_seated_again_keeps_their_counts(annotator, outsider):
    track = make_track(annotators=[annotator, outsider], methods=3, votes_needed=1, min_watch_fraction=0)
    _vote(track, annotator)
    track_annotators_set(track=track, users=[outsider])
    _vote(track, outsider)
    track_annotators_set(track=track, users=[outsider, annotator])

    assert _counted(track) == _recounted(track)
    shown = selectors.annotator_track_progress_get(user=annotator, track_id=track.pk)
    assert (shown.done_by_me, shown.left_for_me) == (1, 1)


def test_comparisons_added_to_a_track_count_as_left():
    user = _annotators(1)[0]
    track = make_track(annotators=[user], methods=2, min_watch_fraction=0)
    comparison = track.comparisons.get()
    added = track_extend(
        track=track, videos=[make_video(identity=comparison.identity, prompt=comparison.prompt)]
    )

    assert added == 2
    assert _counted(track) == _recounted(track)
    assert _counted(track)["seats"][user.username] == (0, 3)


def test_an_expired_lease_is_released_once_nothing_else_is_free(annotator, outsider):
    track = make_track(
        annotators=[annotator, outsider], methods=3, votes_needed=1, lease_seconds=60, min_watch_fraction=0
    )
    held = assignment_next_for(track=track, user=annotator)
    later = held.issued_at + timedelta(seconds=61)
    handed = []
    while (assignment := assignment_next_for(track=track, user=outsider, now=later)) is not None:
        handed.append(assignment.item_id)
        if len(handed) < 3:  # the annotator's lease is still open while other comparisons are free
            assert Assignment.objects.get(pk=held.pk).status == Assignment.Status.OPEN
        judgment_submit(assignment_id=assignment.pk, user=outsider, side_choice="left", now=later)

    assert handed[-1] == held.item_id and len(handed) == 3
    assert Assignment.objects.get(pk=held.pk).status == Assignment.Status.EXPIRED
    assert _counted(track) == _recounted(track)


@pytest.mark.django_db(transaction=True)
def test_annotators_voting_at_once_complete_the_track_with_consistent_counters():
    # Four annotators on four connections, three votes needed: completions update each other's seats.
    users = _annotators(4)
    track = make_track(annotators=users, methods=5, votes_needed=3, min_watch_fraction=0)  # 10 comparisons
    barrier = threading.Barrier(len(users))
    failures: list[BaseException] = []

    def work(user: User) -> None:
        try:
            barrier.wait()
            assignment = assignment_next_for(track=track, user=user)
            while assignment is not None:
                assignment = judgment_submit_and_next(
                    track_id=track.pk, assignment_id=assignment.pk, user=user, side_choice="left"
                ).assignment
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert not TrackItem.objects.filter(track=track).filter(~Q(votes=3)).exists()
    assert _counted(track) == _recounted(track)
    assert _counted(track)["items_complete"] == 10
