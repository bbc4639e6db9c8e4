"""The OpenAPI schema validates, and the docs page works without a CDN."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command
from rest_framework.test import APIClient


def test_the_schema_validates_without_a_warning(tmp_path: Path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/judgments/" in (tmp_path / "schema.yaml").read_text()


def test_the_schema_is_served_to_the_ml_team(ml_api: APIClient) -> None:
    response = ml_api.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Preference annotation API"


def test_the_docs_page_loads_its_scripts_from_this_server(ml_api: APIClient) -> None:
    response = ml_api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "drf_spectacular_sidecar" in html
    assert "cdn.jsdelivr" not in html and "unpkg" not in html


def test_the_schema_is_not_for_annotators(annotator_api: APIClient, anonymous_api: APIClient) -> None:
    assert annotator_api.get("/api/schema/").status_code == 403
    assert anonymous_api.get("/api/schema/").status_code == 401
