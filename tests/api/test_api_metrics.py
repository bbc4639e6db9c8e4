"""Automatic metrics through the API: definitions and counts, values, and catalog runs."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from generation.metrics.compute import metric_definitions
from generation.models import MetricRun, VideoMetric
from generation.services import video_degraded_copy, video_metrics_compute
from tests.factories import make_video
from tests.processes import queued_tasks

pytestmark = pytest.mark.django_db


def test_the_overview_lists_the_current_definitions_with_their_counts(ml_api: APIClient) -> None:
    video_metrics_compute(video_id=make_video().pk)
    make_video()

    response = ml_api.get("/api/metrics/")

    assert response.status_code == 200
    body = response.json()
    assert body["videos"] == 2
    metrics = {row["name"]: row for row in body["metrics"]}
    definitions = metric_definitions()
    assert set(metrics) == set(definitions)
    flicker = metrics["flicker"]
    assert (flicker["definition"], flicker["version"], flicker["better"]) == (
        definitions["flicker"].digest, "1", "lower",
    )  # fmt: skip
    assert flicker["cannot"].startswith("Tell flicker from fast wanted motion")
    assert flicker["counts"] == {"computed": 1, "no_face": 0, "unavailable": 0, "failed": 0, "missing": 1}
    assert metrics["face_identity"]["counts"]["no_face"] == 1


def test_values_are_listed_by_video_and_name_of_the_current_definitions(ml_api: APIClient) -> None:
    first, second = make_video(), make_video()
    for video in (first, second):
        video_metrics_compute(video_id=video.pk)
    # A row of an older definition of flicker: listed only when asked for every definition.
    old = VideoMetric.objects.get(video=first, name="flicker")
    VideoMetric.objects.filter(pk=old.pk).update(definition="0" * 64, version="0")
    video_metrics_compute(video_id=first.pk)

    rows = ml_api.get(f"/api/metrics/videos/?video={first.pk}&name=flicker").json()["results"]
    assert len(rows) == 1
    row = rows[0]
    current = VideoMetric.objects.get(video=first, name="flicker", version="1")
    assert (row["video"], row["method"], row["status"], row["value"]) == (
        first.pk, first.method_id, "computed", current.value,
    )  # fmt: skip
    assert row["definition"] == metric_definitions()["flicker"].digest
    assert len(ml_api.get("/api/metrics/videos/").json()["results"]) == 10
    every = ml_api.get(f"/api/metrics/videos/?video={first.pk}&name=flicker&current=false").json()
    assert sorted(r["version"] for r in every["results"]) == ["0", "1"]


def test_bad_parameters_are_refused_naming_them(ml_api: APIClient) -> None:
    video = make_video()
    copy = video_degraded_copy(video=video)

    for query, status, named in [
        ("name=sharpness", 400, "name"),
        ("video=abc", 400, "video"),
        ("video=0", 400, "video"),
        ("colour=red", 400, "colour"),
        (f"video={video.pk}&video={video.pk}", 400, "video"),
    ]:
        response = ml_api.get(f"/api/metrics/videos/?{query}")
        assert response.status_code == status, query
        assert named in response.json(), query
    for missing in (10**12, copy.pk):  # no such video; a gold copy is no video of the catalog
        response = ml_api.get(f"/api/metrics/videos/?video={missing}")
        assert (response.status_code, response.json()) == (404, {"detail": "No such video."})


def test_the_ml_team_starts_a_run_and_follows_it(
    ml_api: APIClient, ml_user, metrics_queue: str, django_capture_on_commit_callbacks
) -> None:
    video = make_video()

    with django_capture_on_commit_callbacks(execute=True):
        response = ml_api.post("/api/metrics/runs/")

    assert response.status_code == 202
    run = response.json()
    assert (run["status"], run["video_count"], run["done"], run["total"]) == ("running", 1, 0, 1)
    assert response["Location"] == f"{run['id']}/"
    assert MetricRun.objects.get().created_by == ml_user
    assert [args for _, args in queued_tasks(metrics_queue)] == [[video.pk]]

    video_metrics_compute(video_id=video.pk)

    followed = ml_api.get(f"/api/metrics/runs/{run['id']}/").json()
    assert (followed["status"], followed["done"], followed["percent"]) == ("done", 1, 100)
    assert followed["definitions"] == {name: d.digest for name, d in metric_definitions().items()}


def test_an_unknown_run_is_a_404_naming_it(ml_api: APIClient) -> None:
    response = ml_api.get("/api/metrics/runs/12345/")
    assert (response.status_code, response.json()) == (404, {"detail": "No such metric run."})


def test_annotators_and_anonymous_callers_may_not_use_the_metrics(
    annotator_api: APIClient, anonymous_api: APIClient
) -> None:
    for url in ("/api/metrics/", "/api/metrics/videos/"):
        assert annotator_api.get(url).status_code == 403
        assert anonymous_api.get(url).status_code == 401
    assert annotator_api.post("/api/metrics/runs/").status_code == 403
    assert not MetricRun.objects.exists()
