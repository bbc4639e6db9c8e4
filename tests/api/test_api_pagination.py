"""Cursor pagination: a cursor the API did not hand out is refused with a clear 404, never a 500."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from tests.factories import IdentityFactory

LISTS = [
    "identities",
    "prompts",
    "methods",
    "videos",
    "comparisons",
    "tracks",
    "studies",
    "judgments",
    "exports",
]


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize(
    "position",
    ["abc", "1.5", "-", "99999999999999999999", "1\x00"],
)
def test_a_forged_cursor_is_refused_as_invalid(ml_api: APIClient, name: str, position: str) -> None:
    response = ml_api.get(f"/api/{name}/", {"cursor": _cursor(f"p={position}")})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Invalid cursor:")


def test_the_example_cursor_from_the_report_is_refused(ml_api: APIClient) -> None:
    response = ml_api.get("/api/identities/?cursor=cD1hYmM%3D")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Invalid cursor:")


def test_a_cursor_the_api_handed_out_still_pages(ml_api: APIClient) -> None:
    IdentityFactory.create_batch(3)
    first = ml_api.get("/api/identities/", {"page_size": 2}).json()
    second = ml_api.get(first["next"]).json()
    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
