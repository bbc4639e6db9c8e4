"""The OpenAPI schema validates, documents the error answers, and the docs page works without a CDN."""

from __future__ import annotations

from pathlib import Path

import pytest
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


@pytest.fixture
def schema(ml_api: APIClient) -> dict:
    return ml_api.get("/api/schema/?format=json").json()


def test_every_operation_documents_its_error_answers(schema: dict) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
            assert {"401", "403"} <= codes, (method, path)
            if "requestBody" in operation or any(where == "query" for where, _ in parameters):
                assert "400" in codes, (method, path)
                body = operation["responses"]["400"]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ValidationError"}
            if "{" in path or ("query", "cursor") in parameters:
                body = operation["responses"]["404"]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_page_size_is_an_integer_with_its_range(schema: dict) -> None:
    parameters = schema["paths"]["/api/identities/"]["get"]["parameters"]
    page_size = next(p for p in parameters if p["name"] == "page_size")
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}


def test_an_id_beyond_any_row_is_the_documented_json_404(ml_api: APIClient) -> None:
    for url in ("/api/exports/9223372036854775808/", "/api/generation-jobs/9223372036854775808/cancel/"):
        response = ml_api.generic("GET" if "exports" in url else "POST", url)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_a_path_missing_its_slash_is_still_redirected(ml_api: APIClient) -> None:
    assert ml_api.get("/api/identities").status_code == 301


def test_an_export_is_started_with_json_only(ml_api: APIClient) -> None:
    # A form body that could not be read would otherwise start an export with every default.
    response = ml_api.post("/api/exports/", {"name": "x"}, format="multipart")
    assert response.status_code == 415
    assert "detail" in response.json()
