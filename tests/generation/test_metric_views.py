"""The Metrics page: definitions, counts, per-method means and catalog runs, for study admins and the ML
team only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generation.models import MetricRun, VideoMetric
from generation.services import metric_run_create, video_metrics_compute
from tests.factories import MethodFactory, make_video
from tests.processes import queued_tasks

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PAGE = "metrics:overview"


def counts_row(page: str, label: str) -> list[int]:
    """The numbers of the counts table's row of one metric."""
    row = re.search(rf"<tr>\s*<td>{label}</td>(.*?)</tr>", page, re.S)
    assert row is not None, label
    return [int(cell) for cell in re.findall(r'<td class="num">(?:<span class="error">)?(\d+)', row.group(1))]


def test_a_study_admin_sees_the_definitions_counts_and_means(admin_client):
    ours, baseline = MethodFactory(name="ours-v2"), MethodFactory(name="baseline-b")
    for method in (ours, baseline):
        video_metrics_compute(video_id=make_video(method=method).pk)
    make_video(method=ours)  # not computed yet
    flicker = VideoMetric.objects.filter(name="flicker", video__method=ours).get()

    page = admin_client.get(reverse(PAGE)).content.decode()

    assert "Face identity" in page and "Text alignment" in page
    assert "Tell flicker from fast wanted motion; it rewards still videos." in page  # what it cannot do
    assert "Compute the whole catalog" in page
    # Computed, no face, unavailable, failed, not yet: two videos done, one waiting; no face on gradients.
    assert counts_row(page, "Face identity") == [0, 2, 0, 0, 1]
    assert counts_row(page, "Flicker") == [2, 0, 0, 0, 1]
    assert counts_row(page, "Text alignment") == [0, 0, 2, 0, 1]
    assert "ours-v2" in page and "baseline-b" in page
    assert f"{flicker.value:.4f}" in page


def test_the_ml_team_sees_the_page_and_its_link(ml_member_client):
    response = ml_member_client.get(reverse(PAGE))
    assert response.status_code == 200
    assert f'href="{reverse(PAGE)}">Metrics</a>' in response.content.decode()


def test_annotators_and_outsiders_get_a_404_and_start_nothing(annotator_client, outsider_client):
    for client in (annotator_client, outsider_client):
        assert client.get(reverse(PAGE)).status_code == 404
        assert client.post(reverse("metrics:run_start")).status_code == 404
        assert "Metrics</a>" not in client.get(reverse("home"), follow=True).content.decode()
    assert not MetricRun.objects.exists()


def test_starting_a_run_queues_the_catalog_and_shows_it(
    admin_client, study_admin, metrics_queue, django_capture_on_commit_callbacks
):
    video = make_video()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("metrics:run_start"), follow=True)

    run = MetricRun.objects.get()
    assert (run.created_by, run.video_count) == (study_admin, 1)
    assert [args for _, args in queued_tasks(metrics_queue)] == [[video.pk]]
    page = response.content.decode()
    assert f"Metric run {run.pk} queued over the catalog&#x27;s 1 videos." in page
    assert "0 / 1" in page and 'hx-trigger="every 2s"' in page


def test_the_runs_fragment_polls_until_the_run_is_done(admin_client, study_admin):
    video = make_video()
    metric_run_create(created_by=study_admin)

    fragment = admin_client.get(reverse(PAGE), **HTMX).content.decode()
    assert "<html" not in fragment and 'id="metric-runs"' in fragment
    assert "0 / 1" in fragment and 'hx-trigger="every 2s"' in fragment

    video_metrics_compute(video_id=video.pk)

    fragment = admin_client.get(reverse(PAGE), **HTMX).content.decode()
    assert "1 / 1" in fragment and "Done" in fragment
    assert "hx-trigger" not in fragment


def test_a_videos_admin_page_shows_its_metrics(admin_client):
    video = make_video()
    video_metrics_compute(video_id=video.pk)

    page = admin_client.get(reverse("admin:generation_video_change", args=[video.pk])).content.decode()

    assert "Automatic metrics" in page and "flicker" in page and "No face found" in page
