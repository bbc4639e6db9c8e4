from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from annotate.models import Assignment
from annotate.vote_path import assignment_next_for, assignment_wait_record
from annotate.watch import WAIT_SLACK_SECONDS
from tests.factories import make_track

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(annotator):
    track = make_track(annotators=[annotator], methods=3, lease_seconds=600)
    return track, assignment_next_for(track=track, user=annotator)


def _record(assignment: Assignment, user, wait_ms: float, after_seconds: float = 1) -> int | None:
    later = assignment.issued_at + timedelta(seconds=after_seconds)
    return assignment_wait_record(assignment_id=assignment.pk, user=user, wait_ms=wait_ms, now=later).wait_ms


def test_a_plausible_wait_is_stored_as_reported(annotator, held):
    _, assignment = held
    assert _record(assignment, annotator, 250.7) == 250
    assert Assignment.objects.get(pk=assignment.pk).wait_ms == 250


def test_a_negative_wait_is_clipped_to_zero(annotator, held):
    _, assignment = held
    assert _record(assignment, annotator, -5000) == 0


def test_a_wait_longer_than_the_time_since_the_handout_is_clipped_not_trusted(annotator, held):
    _, assignment = held
    assert _record(assignment, annotator, 10**12, after_seconds=2) == (2 + WAIT_SLACK_SECONDS) * 1000


def test_no_wait_is_kept_beyond_the_lease(annotator, held):
    _, assignment = held
    assert _record(assignment, annotator, 10**12, after_seconds=5000) == 600 * 1000


def test_the_first_report_stands(annotator, held):
    _, assignment = held
    _record(assignment, annotator, 300)
    assert _record(assignment, annotator, 900) == 300


def wait_url(track, assignment) -> str:
    return reverse("annotate:wait", args=[track.pk, assignment.pk])


@pytest.mark.parametrize("value", ["soon", "", "nan", "inf"])
def test_a_wait_that_is_not_a_number_is_a_400_naming_the_field(annotator_client, held, value):
    track, assignment = held
    response = annotator_client.post(wait_url(track, assignment), {"wait_ms": value})
    assert response.status_code == 400
    assert "wait_ms" in response.json()["error"]
    assert Assignment.objects.get(pk=assignment.pk).wait_ms is None


def test_the_wait_report_answers_what_was_kept(annotator_client, held):
    track, assignment = held
    response = annotator_client.post(wait_url(track, assignment), {"wait_ms": "-3"})
    assert response.json() == {"wait_ms": 0}


def test_an_outsider_cannot_report_a_wait_on_someone_elses_comparison(outsider_client, held):
    track, assignment = held
    response = outsider_client.post(wait_url(track, assignment), {"wait_ms": "100"})
    assert response.status_code == 404
    assert Assignment.objects.get(pk=assignment.pk).wait_ms is None
