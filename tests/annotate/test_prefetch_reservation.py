from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from annotate import selectors
from annotate.models import Assignment, Judgment, Track, TrackItem, TrackSeat
from annotate.vote_path import (
    Work,
    assignment_next_for,
    judgment_submit,
    judgment_submit_and_next,
    judgment_undo_last,
    track_seat_exclude,
    work_for,
)
from lib.routing import route_url
from tests.annotate.test_track_checks import assert_counters_count_only_work, gold_comparisons
from tests.factories import make_track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prefetch")]


def _page(track: Track, user: User) -> Work:
    progress = selectors.annotator_track_progress_get(user=user, track_id=track.pk)
    assert progress is not None
    return work_for(track=progress, user=user)


def _vote(track: Track, user: User, assignment: Assignment) -> Work:
    return judgment_submit_and_next(
        track_id=track.pk, assignment_id=assignment.pk, user=user, side_choice="left"
    )


def _open(track: Track, user: User) -> list[Assignment]:
    now = timezone.now()
    return list(
        Assignment.objects.filter(
            item__track=track, rater__user=user, status=Assignment.Status.OPEN, expires_at__gt=now
        ).order_by("position")
    )


def _claims_are_exact(track: Track) -> bool:
    """Every item claims its votes and its open leases of work, nothing more or less."""
    items = TrackItem.objects.filter(track=track, is_check=False).annotate(
        leases=Count(
            "assignments",
            filter=Q(
                assignments__status=Assignment.Status.OPEN, assignments__purpose=Assignment.Purpose.VOTE
            ),
        )
    )
    return all(item.claimed == item.votes + item.leases for item in items)


def _videos(assignment: Assignment) -> set[str]:
    comparison = assignment.item.comparison
    return {route_url("media", video.file.name) for video in (comparison.video_a, comparison.video_b)}


def _named(media: tuple[str, ...]) -> set[str]:
    return set(media)


def test_the_work_page_reserves_the_next_comparison_and_names_its_media(annotator):
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)

    work = _page(track, annotator)

    current, reserved = _open(track, annotator)
    assert work.assignment is not None and work.assignment.pk == current.pk
    assert work.panel is not None
    assert _videos(reserved) <= _named(work.panel.next_media)
    assert _claims_are_exact(track)
    assert TrackItem.objects.filter(track=track).aggregate(n=Count("id", filter=Q(claimed=1)))["n"] == 2


def test_a_vote_makes_the_reserved_comparison_current_and_reserves_a_new_one_in_one_pick(annotator):
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)
    _page(track, annotator)
    current, reserved = _open(track, annotator)

    work = _vote(track, annotator, current)

    assert work.assignment is not None and work.assignment.pk == reserved.pk
    now_current, now_reserved = _open(track, annotator)
    assert now_current.pk == reserved.pk
    assert now_reserved.pk not in {current.pk, reserved.pk}
    assert work.panel is not None and _videos(now_reserved) <= _named(work.panel.next_media)
    # The reserved comparison's lease starts when it is shown.
    assert now_current.issued_at > reserved.issued_at
    assert now_current.expires_at - now_current.issued_at == timedelta(seconds=track.lease_seconds)
    assert TrackSeat.objects.get(track=track, user=annotator).assigned == 3
    assert (work.track.done_by_me, work.track.left_for_me, work.track.can_undo) == (1, 5, True)
    assert _claims_are_exact(track)


def test_the_annotator_never_holds_more_than_two_open_comparisons_and_claims_stay_exact(annotator, outsider):
    track = make_track(annotators=[annotator, outsider], methods=4, votes_needed=2, min_watch_fraction=0)
    work = _page(track, annotator)
    other = _page(track, outsider)
    for _ in range(5):
        assert work.assignment is not None and other.assignment is not None
        work = _vote(track, annotator, work.assignment)
        other = _vote(track, outsider, other.assignment)
        assert len(_open(track, annotator)) <= 2 and len(_open(track, outsider)) <= 2
        assert _claims_are_exact(track)
    assert Judgment.objects.count() == 10
    assert not TrackItem.objects.filter(track=track, claimed__gt=2).exists()


def test_the_last_comparisons_are_shown_without_a_reservation_and_then_the_track_is_done(annotator):
    track = make_track(annotators=[annotator], methods=3, min_watch_fraction=0)
    work = _page(track, annotator)
    shown = []
    while work.assignment is not None:
        shown.append(work.assignment.item_id)
        last = work.panel is not None and not work.panel.next_media
        work = _vote(track, annotator, work.assignment)
    assert last and len(shown) == len(set(shown)) == 3
    assert work.track.left_for_me == 0
    assert _claims_are_exact(track)


def test_an_expired_reserved_lease_goes_back_to_the_pool(annotator, outsider):
    track = make_track(annotators=[annotator, outsider], methods=3, votes_needed=1, min_watch_fraction=0)
    _page(track, annotator)
    current, reserved = _open(track, annotator)
    third = assignment_next_for(track=track, user=outsider)
    assert third is not None
    judgment_submit(assignment_id=third.pk, user=outsider, side_choice="left")
    Assignment.objects.filter(pk=reserved.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    handed = assignment_next_for(track=track, user=outsider)

    assert handed is not None and handed.item_id == reserved.item_id
    assert Assignment.objects.get(pk=reserved.pk).status == Assignment.Status.EXPIRED
    assert Assignment.objects.get(pk=current.pk).status == Assignment.Status.OPEN
    assert _claims_are_exact(track)


def test_undo_hands_back_the_reserved_comparison_and_restores_the_progress(annotator):
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)
    before = _page(track, annotator)
    voted = before.assignment
    assert voted is not None
    _vote(track, annotator, voted)

    reopened = judgment_undo_last(track=track, user=annotator)
    after = _page(track, annotator)

    assert reopened.pk == voted.pk
    assert after.assignment is not None and after.assignment.pk == voted.pk
    assert len(_open(track, annotator)) == 2
    assert after.panel is not None and after.panel.next_media
    assert (after.track.done_by_me, after.track.left_shown, after.track.can_undo) == (
        before.track.done_by_me,
        before.track.left_shown,
        False,
    )
    assert _claims_are_exact(track)


def test_excluding_an_annotator_hands_back_both_their_leases(annotator, study_admin):
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)
    _page(track, annotator)

    track_seat_exclude(seat=TrackSeat.objects.get(track=track, user=annotator), by=study_admin, reason="test")

    assert _open(track, annotator) == []
    assert not TrackItem.objects.filter(track=track, claimed__gt=0).exists()


def test_gold_is_handed_out_as_the_reserved_comparison_and_counts_nothing(annotator):
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)
    Track.objects.filter(pk=track.pk).update(gold_rate=0.5, repeat_rate=0)
    track.refresh_from_db()
    gold_comparisons(track, 3)
    work = _page(track, annotator)
    # Whether a handout is gold is drawn from the track's and rater's ids: vote until both kinds came
    # (at half the handouts gold, twenty without one of them would be a one-in-a-million draw).
    for _ in range(20):
        assert work.assignment is not None
        work = _vote(track, annotator, work.assignment)
        assert len(_open(track, annotator)) <= 2
        if {True, False} <= set(Judgment.objects.filter(track=track).values_list("is_gold", flat=True)):
            break

    assert Judgment.objects.filter(track=track, is_gold=True).exists()
    assert Judgment.objects.filter(track=track, is_gold=False).exists()
    assert_counters_count_only_work(track)


def test_with_prefetching_off_one_comparison_is_held_and_no_media_are_named(annotator, settings):
    settings.PREFETCH_NEXT = False
    track = make_track(annotators=[annotator], methods=4, min_watch_fraction=0)

    work = _page(track, annotator)
    assert work.assignment is not None
    work = _vote(track, annotator, work.assignment)

    assert len(_open(track, annotator)) == 1
    assert work.panel is not None and work.panel.next_media == ()
