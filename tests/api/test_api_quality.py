"""GET /api/tracks/<id>/quality/ and /api/studies/<id>/quality/: the last stored quality report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from annotate.models import QualityReport
from exports.read import rater_public_id
from tests.exports.export_world import World, build_world

COMPUTED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


def stored_row(rater_pk: int, **figures: object) -> dict[str, object]:
    """A report row as the quality computation stores it: the rater's key, and (here) a name too."""
    return {"rater": rater_pk, "username": "u1", "excluded": False, "votes": 9, "gold_n": 2} | figures


def test_a_track_without_a_report_answers_status_none_and_no_rows(world: World, ml_api: APIClient) -> None:
    track = world.tracks["fidelity"]
    response = ml_api.get(f"/api/tracks/{track.pk}/quality/")
    assert response.status_code == 200
    assert response.json() == {
        "scope": f"track:{track.pk}",
        "kind": "annotator",
        "status": "none",
        "progress": 0.0,
        "computed_at": None,
        "judgments": 0,
        "raters": [],
    }


def test_the_track_report_shows_its_rows_with_salted_raters_and_no_names(
    world: World, ml_api: APIClient
) -> None:
    track, u1 = world.tracks["fidelity"], world.raters["u1"]
    QualityReport.objects.create(
        scope=f"track:{track.pk}",
        status=QualityReport.Status.DONE,
        progress=1.0,
        computed_at=COMPUTED,
        judgments=16,
        raters=[
            stored_row(u1.pk, gold_correct=1, gold_accuracy=0.5, ds_reliability=None, flags=["chose Left"])
        ],
    )
    body = ml_api.get(f"/api/tracks/{track.pk}/quality/").json()
    assert (body["status"], body["computed_at"], body["judgments"]) == ("done", "2026-03-02T09:30:00Z", 16)
    [row] = body["raters"]
    assert row["rater_id"] == rater_public_id(u1.pk)
    assert (row["votes"], row["gold_n"], row["gold_correct"], row["gold_accuracy"]) == (9, 2, 1, 0.5)
    assert row["ds_reliability"] is None and row["mace_spamming"] is None  # undefined, or not stored
    assert row["flags"] == ["chose Left"]
    assert "rater" not in row and "username" not in row and "u1" not in str(body)


def test_a_study_report_is_read_under_its_own_scope(world: World, ml_api: APIClient) -> None:
    p1 = world.raters["p1"]
    QualityReport.objects.create(
        scope=f"study:{world.study_id}",
        status=QualityReport.Status.RUNNING,
        progress=0.4,
        raters=[stored_row(p1.pk)],
    )
    # The tracks' reports are others: none was stored for them.
    assert ml_api.get(f"/api/tracks/{world.tracks['fidelity'].pk}/quality/").json()["status"] == "none"
    body = ml_api.get(f"/api/studies/{world.study_id}/quality/").json()
    assert (body["kind"], body["status"], body["progress"]) == ("participant", "running", 0.4)
    assert [row["rater_id"] for row in body["raters"]] == [rater_public_id(p1.pk)]


@pytest.mark.parametrize("url", ["/api/tracks/999999/quality/", "/api/studies/999999/quality/"])
def test_an_unknown_track_or_study_is_a_404(db: None, ml_api: APIClient, url: str) -> None:
    response = ml_api.get(url)
    assert response.status_code == 404
    assert response.json()["detail"] in ("No such track.", "No such study.")


def test_only_the_ml_team_and_staff_read_quality(
    world: World, annotator_api: APIClient, anonymous_api: APIClient
) -> None:
    url = f"/api/tracks/{world.tracks['fidelity'].pk}/quality/"
    assert annotator_api.get(url).status_code == 403
    assert anonymous_api.get(url).status_code == 401


def test_the_schema_documents_the_quality_endpoints(ml_api: APIClient) -> None:
    schema = ml_api.get("/api/schema/?format=json").json()
    for path in ("/api/tracks/{track_id}/quality/", "/api/studies/{study_id}/quality/"):
        responses = schema["paths"][path]["get"]["responses"]
        assert {"200", "401", "403", "404"} <= set(responses)
    assert "none" in schema["components"]["schemas"]["QualityReportStatusEnum"]["enum"]
    status = schema["components"]["schemas"]["QualityReport"]["properties"]["status"]
    assert "none: never computed" in status["description"]
