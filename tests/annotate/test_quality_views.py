"""The quality page of a track: study admins only, the stored table sorted, the figure, Recompute with its
progress, Exclude and Include again."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from annotate.models import QualityReport, TrackItem, TrackRaterDecision, TrackSeat
from annotate.quality_reports import quality_report_compute, track_scope
from annotate.vote_path import assignment_next_for, judgment_submit
from tests.exports.test_export_views import broker_down  # noqa: F401  (a fixture)
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def _vote(track, user: User) -> bool:
    assignment = assignment_next_for(track=track, user=user)
    if assignment is None:
        return False
    judgment_submit(assignment_id=assignment.pk, user=user, side_choice="left", now=assignment.issued_at)
    return True


@pytest.fixture
def track(annotator):
    """Two annotators voted (always Left) on all three comparisons; the table is computed."""
    other = User.objects.create_user("zed")
    track = make_track(annotators=[annotator, other], methods=3, votes_needed=2, min_watch_fraction=0)
    while _vote(track, annotator) or _vote(track, other):
        pass
    quality_report_compute(scope=track_scope(track))
    return track


def _url(name: str, track, *args: int) -> str:
    return reverse(f"manage_tracks:{name}", args=[track.pk, *args])


def _seat(track, username: str) -> TrackSeat:
    return TrackSeat.objects.select_related("user").get(track=track, user__username=username)


def test_a_study_admin_sees_one_row_per_rater_with_the_time_of_the_table(admin_client: Client, track):
    response = admin_client.get(_url("quality", track))
    assert response.status_code == 200
    body = response.content.decode()
    assert "annotator-1" in body and "zed" in body
    assert "Table computed" in body and "from 6 judgments" in body
    assert body.count('<tr id="rater-') == 2
    assert "What each figure means" in body


@pytest.mark.parametrize("name", ["quality", "quality_progress", "quality_figure"])
def test_annotators_and_outsiders_get_a_404(annotator_client: Client, track, name: str):
    assert annotator_client.get(_url(name, track)).status_code == 404


def test_others_cannot_recompute_or_exclude(outsider_client: Client, track):
    seat = _seat(track, "zed")
    assert outsider_client.post(_url("quality_recompute", track)).status_code == 404
    assert outsider_client.post(_url("rater_exclude", track, seat.pk), {"reason": "x"}).status_code == 404
    assert not _seat(track, "zed").excluded


def test_the_table_sorts_by_a_known_column_and_ignores_unknown_ones(admin_client: Client, track):
    def order(sort: str) -> list[str]:
        body = admin_client.get(_url("quality", track), {"sort": sort}).content.decode()
        return re.findall(r'<tr id="rater-\d+">\s*<td>([^<]+)</td>', body)

    assert order("rater") == ["annotator-1", "zed"]
    assert order("-rater") == ["zed", "annotator-1"]
    assert sorted(order("drop table")) == ["annotator-1", "zed"]
    body = admin_client.get(_url("quality", track), {"sort": "rater"}).content.decode()
    assert 'href="?sort=-rater"' in body and 'href="?sort=-votes"' in body


def test_the_page_has_no_inline_script_or_style_and_the_figure_is_an_svg_image(admin_client: Client, track):
    body = admin_client.get(_url("quality", track)).content.decode()
    assert "style=" not in body and "<script>" not in body and "<style" not in body
    assert f'<img src="{_url("quality_figure", track)}"' in body
    figure = admin_client.get(_url("quality_figure", track))
    assert figure.status_code == 200 and figure["Content-Type"] == "image/svg+xml"
    assert figure.content.lstrip().startswith(b"<?xml") and b"<svg" in figure.content
    assert b"left share" in figure.content
    assert "style-src 'self' 'unsafe-inline'" in figure["Content-Security-Policy"]
    assert "'unsafe-inline'" not in admin_client.get(_url("quality", track))["Content-Security-Policy"]


def test_recompute_queues_the_task_once_committed_and_the_progress_fragment_polls(
    admin_client: Client, track, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(_url("quality_recompute", track))
    assert response.status_code == 302 and len(callbacks) == 1
    report = QualityReport.objects.get(scope=f"track:{track.pk}")
    assert report.status == QualityReport.Status.QUEUED and report.raters  # the last table stays

    fragment = admin_client.get(_url("quality_progress", track), headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "<html" not in body and 'id="quality-progress"' in body and 'hx-trigger="every 1s"' in body
    assert "Waiting for a worker" in body
    page = admin_client.get(_url("quality", track)).content.decode()
    assert "annotator-1" in page  # the last computed table is still shown
    assert admin_client.get(_url("quality_progress", track)).status_code == 302  # without htmx: the page


@pytest.mark.django_db(transaction=True)
def test_a_recompute_while_the_broker_is_down_fails_with_a_message(admin_client: Client, track, broker_down):  # noqa: F811
    response = admin_client.post(_url("quality_recompute", track), follow=True)
    assert response.status_code == 200
    report = QualityReport.objects.get(scope=f"track:{track.pk}")
    assert report.status == QualityReport.Status.FAILED and "could not queue the computation" in report.error
    assert b"could not queue the computation" in response.content


def test_excluding_records_who_when_and_why_and_the_page_shows_it(admin_client: Client, track, study_admin):
    seat = _seat(track, "zed")
    response = admin_client.post(_url("rater_exclude", track, seat.pk), {"reason": "chose Left every time"})
    assert response.status_code == 302
    assert _seat(track, "zed").excluded
    body = admin_client.get(_url("quality", track)).content.decode()
    assert "Excluded by study-admin" in body and "chose Left every time" in body
    assert "Include again" in body

    response = admin_client.post(_url("rater_include", track, seat.pk), {"reason": ""})
    assert response.status_code == 302 and not _seat(track, "zed").excluded
    assert list(TrackRaterDecision.objects.values_list("action", flat=True)) == ["include", "exclude"]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_excluding_without_a_valid_reason_is_a_400_that_says_so_and_changes_nothing(
    admin_client: Client, track, reason: str
):
    seat = _seat(track, "zed")
    response = admin_client.post(_url("rater_exclude", track, seat.pk), {"reason": reason})
    assert response.status_code == 400
    assert ("reason" in response.content.decode()) or ("500" in response.content.decode())
    assert not _seat(track, "zed").excluded and not TrackRaterDecision.objects.exists()


def test_an_unknown_seat_or_a_seat_of_another_track_is_a_404_and_changes_nothing(admin_client: Client, track):
    other = make_track(annotators=[User.objects.create_user("amy")], methods=2)
    foreign = TrackSeat.objects.get(track=other)
    assert admin_client.post(_url("rater_exclude", track, 999999), {"reason": "x"}).status_code == 404
    assert admin_client.post(_url("rater_exclude", track, foreign.pk), {"reason": "x"}).status_code == 404
    assert not TrackSeat.objects.filter(excluded=True).exists() and not TrackRaterDecision.objects.exists()


def test_including_someone_who_is_not_excluded_is_a_400_that_says_so(admin_client: Client, track):
    seat = _seat(track, "zed")
    response = admin_client.post(_url("rater_include", track, seat.pk), {})
    assert response.status_code == 400 and "not excluded" in response.content.decode()


def test_an_excluded_annotator_is_told_they_are_not_taking_part_and_not_why(
    admin_client: Client, track, annotator
):
    seat = _seat(track, annotator.username)
    admin_client.post(_url("rater_exclude", track, seat.pk), {"reason": "failed gold secretly"})
    client = Client()
    client.force_login(annotator)
    response = client.get(reverse("annotate:track_work", args=[track.pk]))
    body = response.content.decode()
    assert "not taking part in this track now" in body
    assert "gold" not in body.lower() and "excluded" not in body.lower()


def test_the_track_page_says_how_many_comparisons_have_more_votes_than_needed(
    admin_client: Client, track, study_admin
):
    TrackItem.objects.filter(pk=TrackItem.objects.filter(track=track).first().pk).update(votes=3)
    body = admin_client.get(_url("detail", track)).content.decode()
    assert "1 comparison has more votes than needed: a late answer on a lease given out before" in body
