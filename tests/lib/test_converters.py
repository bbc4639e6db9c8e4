from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

BEYOND = "99999999999999999999"  # more than a bigint holds

URLS = [
    ("get", f"/tracks/{BEYOND}/"),
    ("get", f"/tracks/{BEYOND}/assignments/1/watch"),
    ("post", f"/tracks/{BEYOND}/assignments/1/vote"),
    ("post", f"/tracks/1/assignments/{BEYOND}/vote"),
    ("post", f"/tracks/{BEYOND}/undo"),
    ("get", f"/manage/tracks/{BEYOND}/"),
    ("post", f"/manage/tracks/{BEYOND}/pause"),
    ("get", f"/manage/tracks/{BEYOND}/annotators"),
    ("get", f"/manage/exports/{BEYOND}/"),
    ("get", f"/manage/exports/{BEYOND}/progress"),
    ("get", f"/manage/exports/{BEYOND}/download"),
    ("post", f"/manage/exports/{BEYOND}/delete"),
    ("get", f"/generation/{BEYOND}/"),
    ("post", f"/generation/{BEYOND}/cancel/"),
    ("post", f"/generation/items/{BEYOND}/retry/"),
    ("get", f"/studies/{BEYOND}/"),
    ("get", f"/studies/{BEYOND}/edit/"),
    ("get", f"/studies/{BEYOND}/status/"),
    ("post", f"/studies/{BEYOND}/links/"),
    ("get", f"/studies/{BEYOND}/links.csv"),
    ("get", f"/studies/{BEYOND}/results/"),
    ("get", f"/studies/{BEYOND}/results/figure.png"),
    ("get", f"/studies/{BEYOND}/results/answers.csv"),
    ("get", f"/api/exports/{BEYOND}/"),
    ("get", f"/api/exports/{BEYOND}/download/"),
    ("get", f"/api/generation-jobs/{BEYOND}/"),
    ("post", f"/api/generation-jobs/{BEYOND}/cancel/"),
]


@pytest.mark.parametrize(("method", "url"), URLS)
def test_an_id_beyond_bigint_is_not_found(admin_client: Client, method: str, url: str) -> None:
    assert getattr(admin_client, method)(url).status_code == 404


@pytest.mark.parametrize(("method", "url"), [u for u in URLS if u[1].startswith("/tracks/")])
def test_an_annotator_voting_with_an_id_beyond_bigint_is_not_found(
    annotator_client: Client, method: str, url: str
) -> None:
    assert getattr(annotator_client, method)(url).status_code == 404


def test_the_api_schema_gives_ids_as_integers_within_bigint() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    (parameter,) = schema["paths"]["/api/exports/{run_id}/"]["get"]["parameters"]
    assert parameter["schema"] == {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}


def test_route_url_still_fills_in_id_routes() -> None:
    from django.urls import reverse

    from lib.routing import route_url

    assert (
        route_url("annotate:vote", 12, 345)
        == reverse("annotate:vote", args=[12, 345])
        == "/tracks/12/assignments/345/vote"
    )
