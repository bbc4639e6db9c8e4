"""Launch, follow and download an export through the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from exports.models import ExportRun
from exports.tasks import export_run
from tests.exports.export_world import World, build_world


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_the_ml_team_launches_follows_and_downloads_an_export(
    world: World, ml_api: APIClient, django_capture_on_commit_callbacks
) -> None:
    body = {"name": "api-prefs", "tracks": [world.tracks["fidelity"].pk], "min_votes": 2, "keep_ties": False}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = ml_api.post("/api/exports/", body, format="json")
    assert response.status_code == 202
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued" and response.json()["download_url"] is None
    assert len(callbacks) == 1
    assert ml_api.get(f"/api/exports/{run_id}/download/").status_code == 409

    export_run.apply(args=[run_id])  # what the worker does with the queued task
    run = ml_api.get(f"/api/exports/{run_id}/").json()
    assert run["status"] == "done" and run["progress"] == 1.0
    assert run["counts"]["votes"] == 16
    assert run["download_url"].endswith(f"/api/exports/{run_id}/download/")
    download = ml_api.get(f"/api/exports/{run_id}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="api-prefs.tar.gz"'
    assert b"".join(download.streaming_content)[:2] == b"\x1f\x8b"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"split": [0.5, 0.6, 0.1]}, "split"),
        ({"split": [1.0]}, "split"),
        ({"tracks": [987654]}, "tracks"),
        ({"tracks": [2**63]}, "tracks"),  # beyond a bigint id: a 400, not a database error
        ({"min_votes": 2**31}, "min_votes"),
        ({"criteria": ["beauty"]}, "criteria"),
        ({"media": "ftp"}, "media"),
        ({"exclude_raters": ["nobody-at-all"]}, "exclude_raters"),
        ({"joint_criteria": ["visual_quality"], "criteria": ["identity_fidelity"]}, "joint_criteria"),
    ],
)
def test_bad_export_options_get_400_naming_the_field(
    world: World, ml_api: APIClient, body: dict, field: str
) -> None:
    response = ml_api.post("/api/exports/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ExportRun.objects.exists()


def test_the_ml_team_lists_exports_by_status(world: World, ml_api: APIClient) -> None:
    ExportRun.objects.create(options={}, status=ExportRun.Status.FAILED, error="boom")
    ExportRun.objects.create(options={})
    failed = ml_api.get("/api/exports/?status=failed").json()["results"]
    assert [r["error"] for r in failed] == ["boom"]


def test_the_ml_team_deletes_a_finished_export_but_not_a_running_one(
    ml_api: APIClient, annotator_api: APIClient, django_capture_on_commit_callbacks
) -> None:
    running = ExportRun.objects.create(options={}, status=ExportRun.Status.RUNNING)
    refused = ml_api.delete(f"/api/exports/{running.pk}/")
    assert refused.status_code == 409
    assert "being built right now" in refused.json()["detail"]
    failed = ExportRun.objects.create(options={}, status=ExportRun.Status.FAILED, error="boom")
    assert annotator_api.delete(f"/api/exports/{failed.pk}/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert ml_api.delete(f"/api/exports/{failed.pk}/").status_code == 204
    assert list(ExportRun.objects.values_list("pk", flat=True)) == [running.pk]
    assert ml_api.delete(f"/api/exports/{failed.pk}/").status_code == 404
