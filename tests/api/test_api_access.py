"""Who may use the API: the ML team and study admins; annotators get 403, anonymous callers 401."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from exports.models import ExportRun

LISTS = [
    "/api/identities/",
    "/api/prompts/",
    "/api/methods/",
    "/api/stories/",
    "/api/videos/",
    "/api/comparisons/",
    "/api/tracks/",
    "/api/studies/",
    "/api/judgments/",
    "/api/exports/",
    "/api/generation-jobs/",
]


@pytest.mark.parametrize("url", LISTS)
def test_the_ml_team_reads_every_list_with_its_token(ml_api: APIClient, url: str) -> None:
    assert ml_api.get(url).status_code == 200


@pytest.mark.parametrize("url", LISTS)
def test_an_anonymous_request_gets_401(anonymous_api: APIClient, url: str) -> None:
    response = anonymous_api.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_annotators_token_cannot_export(annotator_api: APIClient) -> None:
    response = annotator_api.post("/api/exports/", {}, format="json")
    assert response.status_code == 403
    assert not ExportRun.objects.exists()


def test_an_annotators_token_cannot_read_either(annotator_api: APIClient) -> None:
    assert annotator_api.get("/api/judgments/").status_code == 403


def test_an_anonymous_request_cannot_export(anonymous_api: APIClient) -> None:
    assert anonymous_api.post("/api/exports/", {}, format="json").status_code == 401


def test_a_study_admin_uses_the_api_with_the_session_of_the_pages(study_admin: User) -> None:
    client = APIClient()
    client.force_login(study_admin)
    assert client.get("/api/tracks/").status_code == 200


def test_the_ml_team_gets_a_token_for_its_password(ml_user: User, anonymous_api: APIClient) -> None:
    response = anonymous_api.post("/api/token/", {"username": "ml-person", "password": "pw-ml-team-1"})
    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


def test_an_annotator_gets_no_token(annotator: User, anonymous_api: APIClient) -> None:
    response = anonymous_api.post("/api/token/", {"username": "annotator-1", "password": "pw-annotator-1"})
    assert response.status_code == 400
