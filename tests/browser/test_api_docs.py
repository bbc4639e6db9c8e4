"""The API docs render under their policy: Swagger UI and Redoc, both served from this origin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

# Redoc's sidebar always asks its maker's CDN for a logo and hides it when that fails: the policy
# refuses it, as it refuses everything from another origin.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_swagger_ui_and_redoc_render_without_a_policy_violation(page, csp_watch, live_server):
    User.objects.create_user("docs-reader", password="pw-docs-reader-1", is_staff=True)
    sign_in(page, live_server.url, "docs-reader", "pw-docs-reader-1")
    page.goto(f"{live_server.url}/api/docs/")
    page.get_by_text("Preference annotation API").first.wait_for()
    page.locator(".opblock").first.wait_for()  # the operations, read from the schema
    assert csp_watch.problems == []

    page.goto(f"{live_server.url}/api/redoc/")
    page.locator("h1").filter(has_text="Preference annotation API").wait_for()
    page.locator('[data-section-id^="operation/"]').first.wait_for()  # the operations
    page.wait_for_load_state("networkidle")
    refused_logo = [p for p in csp_watch.problems if REDOCLY_LOGO in p]
    assert refused_logo, "the policy lets Redoc's logo through from another origin"
    csp_watch.problems = [p for p in csp_watch.problems if p not in refused_logo]
