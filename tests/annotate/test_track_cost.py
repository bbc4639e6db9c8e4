from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotate.models import Assignment, Judgment, Track
from annotate.selectors import track_cost
from annotate.vote_path import assignment_next_for, judgment_submit
from tests.factories import make_track

pytestmark = pytest.mark.django_db

START = timezone.make_aware(datetime(2026, 3, 2, 9, 0))


def _vote_at(track: Track, user: User, at: datetime, *, wait_ms: int | None = None) -> None:
    """One vote of ``user`` stored as given at ``at``, its pair reported playable after ``wait_ms``."""
    assignment = assignment_next_for(track=track, user=user)
    assert assignment is not None
    result = judgment_submit(assignment_id=assignment.pk, user=user, side_choice="left")
    Judgment.objects.filter(assignment_id=assignment.pk).update(created_at=at)
    Assignment.objects.filter(pk=assignment.pk).update(wait_ms=wait_ms)
    assert result is not None


def _votes_after(track: Track, user: User, gaps: list[float], *, start: datetime, waits=()) -> datetime:
    at = start
    waits = list(waits) + [None] * (len(gaps) + 1)
    _vote_at(track, user, at, wait_ms=waits[0])
    for index, gap in enumerate(gaps, start=1):
        at += timedelta(seconds=gap)
        _vote_at(track, user, at, wait_ms=waits[index])
    return at


@pytest.fixture
def voted(annotator: User, outsider: User) -> Track:
    """annotator-1: four answers 30, 60 and 90 s apart, a 20-minute pause, two more 120 s apart (timed:
    30, 60, 90, 120); waits of 100, 200, 400 and 900 ms reported. outsider: three answers 10 and 20 s
    apart, one wait of 1000 ms. A vote of annotator-1 on another track in between counts nowhere here."""
    track = make_track(annotators=[annotator, outsider], methods=5, votes_needed=2, min_watch_fraction=0)
    last = _votes_after(track, annotator, [30, 60, 90], start=START, waits=[100, 200, 400, 900])
    _votes_after(track, annotator, [120], start=last + timedelta(minutes=20))
    _votes_after(track, outsider, [10, 20], start=START, waits=[None, 1000])
    other = make_track(annotators=[annotator], methods=2, min_watch_fraction=0)
    _vote_at(other, annotator, START + timedelta(seconds=45), wait_ms=5)
    return track


def test_votes_per_hour_count_only_the_gaps_within_sessions(voted: Track, annotator: User, outsider: User):
    cost = track_cost(track=voted)

    mine = cost.by_user[annotator.pk]
    assert mine.votes_per_hour == pytest.approx(4 * 3600 / 300)  # 4 timed answers in 300 s
    assert mine.seconds_per_vote == pytest.approx(75.0)  # median of 30, 60, 90, 120
    assert cost.by_user[outsider.pk].votes_per_hour == pytest.approx(2 * 3600 / 30)
    assert cost.by_user[outsider.pk].seconds_per_vote == pytest.approx(15.0)


def test_the_overall_figures_pool_every_annotators_timed_answers(voted: Track):
    overall = track_cost(track=voted).overall

    assert overall.votes_per_hour == pytest.approx(6 * 3600 / 330)
    assert overall.seconds_per_vote == pytest.approx(45.0)  # median of 10, 20, 30, 60, 90, 120
    assert overall.wait_ms == pytest.approx(400.0)  # median of 100, 200, 400, 900, 1000


def test_the_wait_is_the_median_of_the_reported_waits_and_none_without_reports(
    voted: Track, annotator: User, outsider: User
):
    cost = track_cost(track=voted)

    assert cost.by_user[annotator.pk].wait_ms == pytest.approx(300.0)  # median of 100, 200, 400, 900
    assert cost.by_user[outsider.pk].wait_ms == pytest.approx(1000.0)
    Assignment.objects.update(wait_ms=None)
    assert track_cost(track=voted).by_user[annotator.pk].wait_ms is None


def test_a_track_without_answers_has_no_figures(annotator: User):
    track = make_track(annotators=[annotator], methods=2)

    cost = track_cost(track=track)

    assert cost.by_user == {}
    assert (cost.overall.votes_per_hour, cost.overall.seconds_per_vote, cost.overall.wait_ms) == (None,) * 3


def test_the_figures_take_one_query_however_many_annotators(voted: Track, django_assert_num_queries):
    with django_assert_num_queries(1):
        track_cost(track=voted)


def test_the_progress_page_shows_each_annotators_cost_and_the_overall(admin_client: Client, voted: Track):
    response = admin_client.get(reverse("manage_tracks:detail", args=[voted.pk]))

    rows = {row.username: row for row in response.context["annotators"]}
    assert rows["annotator-1"].cost.seconds_per_vote == pytest.approx(75.0)
    body = response.content.decode()
    assert '<td class="num">48</td>' in body and "75.0 s" in body and "300 ms" in body
    assert '<td class="num">240</td>' in body and "15.0 s" in body
    assert "All annotators" in body and "45.0 s" in body and "400 ms" in body
    assert "pauses over 10 minutes left out" in body


def test_an_annotator_without_reported_waits_shows_a_dash(admin_client: Client, voted: Track):
    Assignment.objects.update(wait_ms=None)

    body = admin_client.get(reverse("manage_tracks:detail", args=[voted.pk])).content.decode()

    assert "ms</td>" not in body
    assert '<span class="muted">—</span></td>' in body
