"""Cursor pagination: a cursor the API did not hand out is a clear 404, a bad page size a 400, never a 500."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from tests.factories import IdentityFactory

LISTS = [
    "identities",
    "prompts",
    "methods",
    "stories",
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


@pytest.mark.parametrize(
    "size", ["abc", "-1", "0", "1001", "99999999999999999999", "1e3", " 5", "+5", "5_0", ""]
)
def test_a_page_size_of_the_wrong_type_or_range_is_a_400_naming_it(ml_api: APIClient, size: str) -> None:
    response = ml_api.get("/api/identities/", {"page_size": size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["A whole number from 1 to 1000."]}


def test_every_list_refuses_a_bad_page_size(ml_api: APIClient) -> None:
    for name in LISTS:
        response = ml_api.get(f"/api/{name}/", {"page_size": "abc"})
        assert (response.status_code, list(response.json())) == (400, ["page_size"]), name


def test_a_page_size_within_the_range_is_the_size_of_the_page(ml_api: APIClient) -> None:
    IdentityFactory.create_batch(3)
    assert len(ml_api.get("/api/identities/", {"page_size": "1000"}).json()["results"]) == 3
    assert len(ml_api.get("/api/identities/", {"page_size": "002"}).json()["results"]) == 2


def test_a_cursor_position_too_long_to_read_is_refused_as_invalid(ml_api: APIClient) -> None:
    response = ml_api.get("/api/identities/", {"cursor": _cursor("p=" + "9" * 5000)})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Invalid cursor:")
