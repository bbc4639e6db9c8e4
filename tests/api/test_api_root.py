"""GET /api/: the API's entry points, for the same callers as the rest of the API."""

from __future__ import annotations

from rest_framework.test import APIClient


def test_the_root_lists_every_entry_point_as_a_url_that_answers(ml_api: APIClient) -> None:
    response = ml_api.get("/api/")
    assert response.status_code == 200
    links = response.json()
    assert links["generation-jobs"] == "http://testserver/api/generation-jobs/"
    assert {"identities", "judgments", "exports", "token", "docs"} <= set(links)
    for name in ("identities", "tracks", "studies", "judgments", "exports", "generation-jobs", "schema"):
        assert ml_api.get(links[name]).status_code == 200, name


def test_the_root_answers_an_annotator_403_and_a_stranger_401(
    annotator_api: APIClient, anonymous_api: APIClient
) -> None:
    assert annotator_api.get("/api/").status_code == 403
    assert anonymous_api.get("/api/").status_code == 401
