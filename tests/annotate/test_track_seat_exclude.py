from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Q

from annotate import selectors
from annotate.errors import NotTakingPart, RaterDecisionError
from annotate.models import Assignment, Judgment, Track, TrackItem, TrackRaterDecision, TrackSeat
from annotate.vote_path import (
    assignment_next_for,
    judgment_submit,
    judgment_submit_and_next,
    judgment_undo_last,
    track_seat_exclude,
    track_seat_include,
)
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def _users(*names: str) -> list[User]:
    return [User.objects.create_user(name) for name in names]


def _seat(track: Track, user: User) -> TrackSeat:
    return TrackSeat.objects.select_related("user").get(track=track, user=user)


def _vote(track: Track, user: User) -> int | None:
    """One vote of the user's; the comparison's item id, or None when nothing was left for them."""
    assignment = assignment_next_for(track=track, user=user)
    if assignment is None:
        return None
    judgment_submit(assignment_id=assignment.pk, user=user, side_choice="left", now=assignment.issued_at)
    return assignment.item_id


def _recounted(track: Track) -> dict[str, object]:
    """Every counter as it should be, counted from the rows: excluded annotators' votes count nowhere."""
    needed = track.votes_needed
    counted = Judgment.objects.filter(track=track, is_gold=False, is_repeat=False).exclude(
        rater__seats__track=track, rater__seats__excluded=True
    )
    items = {}
    for item in TrackItem.objects.filter(track=track):
        votes = counted.filter(comparison_id=item.comparison_id).count()
        leases = Assignment.objects.filter(item=item, status=Assignment.Status.OPEN).count()
        items[item.pk] = (votes, votes + leases)
    seats = {}
    for seat in TrackSeat.objects.filter(track=track).select_related("user"):
        answered = Assignment.objects.filter(item__track=track, rater=seat.rater, status="answered")
        open_items = [pk for pk, (votes, _) in items.items() if votes < needed]
        seats[seat.user.username] = answered.filter(item_id__in=open_items).count()
    return {
        "items": items,
        "items_complete": sum(votes >= needed for votes, _ in items.values()),
        "votes_stored": sum(votes for votes, _ in items.values()),
        "votes_on_open": seats,
    }


def _counted(track: Track) -> dict[str, object]:
    track.refresh_from_db()
    return {
        "items": {item.pk: (item.votes, item.claimed) for item in TrackItem.objects.filter(track=track)},
        "items_complete": track.items_complete,
        "votes_stored": track.votes_stored,
        "votes_on_open": {
            seat.user.username: seat.votes_on_open
            for seat in TrackSeat.objects.filter(track=track).select_related("user")
        },
    }


@pytest.fixture
def three(study_admin):
    """Six comparisons, two votes needed: amy answers 1 and 2, ben 3 and 4, cat 5, 6 and then 1."""
    amy, ben, cat = _users("amy", "ben", "cat")
    track = make_track(annotators=[amy, ben, cat], methods=4, votes_needed=2, min_watch_fraction=0)
    items = list(TrackItem.objects.filter(track=track).values_list("pk", flat=True))
    voted = [_vote(track, user) for user in (amy, amy, ben, ben, cat, cat, cat)]
    assert voted == [items[0], items[1], items[2], items[3], items[4], items[5], items[0]]
    return track, items, (amy, ben, cat)


def test_excluding_reopens_exactly_the_comparisons_whose_needed_votes_counted_theirs(three, study_admin):
    track, items, (amy, _ben, cat) = three
    track.refresh_from_db()
    assert (track.items_complete, track.votes_stored) == (1, 7)

    decision = track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="chose Left every time")

    assert _counted(track) == _recounted(track)
    counted = _counted(track)
    assert (counted["items_complete"], counted["votes_stored"]) == (0, 4)
    assert counted["items"][items[0]] == (1, 1)  # reopened: amy's vote alone
    assert counted["items"][items[4]] == (0, 0) and counted["items"][items[5]] == (0, 0)
    assert selectors.annotator_track_progress_get(user=amy, track_id=track.pk).left_for_me == 4
    assert (decision.action, decision.reason, decision.decided_by) == (
        "exclude",
        "chose Left every time",
        study_admin,
    )
    assert _seat(track, cat).excluded


def test_the_reopened_comparisons_collect_their_votes_from_included_annotators(three, study_admin):
    track, _items, (amy, ben, cat) = three
    track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="random answers")
    while _vote(track, amy) or _vote(track, ben):
        pass

    track.refresh_from_db()
    assert track.items_complete == track.items_total == 6
    assert _counted(track) == _recounted(track)
    included = Judgment.objects.filter(track=track).exclude(rater__user=cat)
    assert included.count() == 12  # every comparison's two votes, none of them cat's


def test_an_excluded_annotator_gets_no_more_work_and_cannot_vote_or_undo(three, study_admin):
    track, _items, (_amy, _ben, cat) = three
    open_lease = assignment_next_for(track=track, user=cat)
    assert open_lease is not None
    track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="too fast")

    assert Assignment.objects.get(pk=open_lease.pk).status == Assignment.Status.EXPIRED
    with pytest.raises(NotTakingPart, match="not taking part in this track now"):
        assignment_next_for(track=track, user=cat)
    with pytest.raises(NotTakingPart):
        judgment_submit(assignment_id=open_lease.pk, user=cat, side_choice="left")
    with pytest.raises(NotTakingPart):
        judgment_undo_last(track=track, user=cat)
    assert _counted(track) == _recounted(track)


def test_including_again_counts_their_votes_but_never_hands_a_comparison_beyond_its_needed_votes(
    three, study_admin
):
    track, items, (amy, ben, cat) = three
    track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="to check")
    # ben answers the two comparisons with no vote left, then completes the reopened one again
    assert [_vote(track, ben) for _ in range(3)] == [items[4], items[5], items[0]]

    decision = track_seat_include(seat=_seat(track, cat), by=study_admin, reason="checked: careful")

    assert decision.action == "include" and not _seat(track, cat).excluded
    assert _counted(track) == _recounted(track)
    assert TrackItem.objects.get(pk=items[0]).votes == 3  # more than needed, said on the track's page
    assert selectors.track_progress_get(track_id=track.pk).over_needed == 1
    while _vote(track, amy) or _vote(track, ben) or _vote(track, cat):
        pass
    assert not TrackItem.objects.filter(track=track).filter(~Q(pk=items[0]), ~Q(votes=2)).exists()
    assert _counted(track) == _recounted(track)
    judgment_undo_last(track=track, user=ben)  # an undo on a comparison above its needed votes too
    assert _counted(track) == _recounted(track)


def test_an_annotator_holding_a_lease_on_a_comparison_completed_by_an_inclusion_votes_without_skewing_counts(
    study_admin,
):
    amy, ben, cat = _users("amy", "ben", "cat")
    track = make_track(annotators=[amy, ben, cat], methods=2, votes_needed=2, min_watch_fraction=0)
    _vote(track, cat)
    _vote(track, amy)
    track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="to check")
    lease = assignment_next_for(track=track, user=ben)
    track_seat_include(seat=_seat(track, cat), by=study_admin)
    judgment_submit(assignment_id=lease.pk, user=ben, side_choice="right")

    assert TrackItem.objects.get(track=track).votes == 3
    assert _counted(track) == _recounted(track)


def test_excluding_without_a_reason_is_refused_and_changes_nothing(three, study_admin):
    track, _items, (_amy, _ben, cat) = three
    before = _counted(track)
    with pytest.raises(RaterDecisionError, match="reason"):
        track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="   ")
    with pytest.raises(RaterDecisionError, match="500"):
        track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="x" * 501)
    with pytest.raises(RaterDecisionError, match="not excluded"):
        track_seat_include(seat=_seat(track, cat), by=study_admin)

    assert _counted(track) == before
    assert not TrackRaterDecision.objects.exists() and not _seat(track, cat).excluded


def test_excluding_twice_is_refused(three, study_admin):
    track, _items, (_amy, _ben, cat) = three
    track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="once")
    with pytest.raises(RaterDecisionError, match="already excluded"):
        track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="twice")
    assert TrackRaterDecision.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_an_exclusion_while_another_annotator_votes_on_an_affected_comparison_keeps_counters_consistent(
    round_, study_admin
):
    # cat voted every comparison first; dan holds leases on them and votes while cat is excluded.
    cat, dan, eve = _users("cat", "dan", "eve")
    track = make_track(annotators=[cat, dan, eve], methods=4, votes_needed=2, min_watch_fraction=0)
    while _vote(track, cat):
        pass
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def exclude() -> None:
        try:
            barrier.wait()
            track_seat_exclude(seat=_seat(track, cat), by=study_admin, reason="left every time")
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    def vote() -> None:
        try:
            assignment = assignment_next_for(track=track, user=dan)
            barrier.wait()
            while assignment is not None:
                assignment = judgment_submit_and_next(
                    track_id=track.pk, assignment_id=assignment.pk, user=dan, side_choice="left"
                ).assignment
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=exclude), threading.Thread(target=vote)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert _counted(track) == _recounted(track)
    assert not TrackItem.objects.filter(track=track, claimed__gt=2).exists()
    while _vote(track, eve) or _vote(track, dan):
        pass
    track.refresh_from_db()
    assert track.items_complete == track.items_total
    assert not TrackItem.objects.filter(track=track).filter(~Q(votes=2)).exists()
    assert _counted(track) == _recounted(track)
