"""The pages participants and annotators see when something fails, with DEBUG off as in production."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.templatetags.static import static
from django.test import Client, override_settings
from django.urls import include, path

from studies.models import Study
from tests.studies.conftest import build_catalog, make_study


def explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail of the failure")


def hide(request: HttpRequest) -> HttpResponse:
    raise Http404("Study 17 belongs to someone else")


urlpatterns = [
    path("explode", explode),
    path("hide", hide),
    path("s/<slug:slug>/explode", explode),
    path("", include("config.urls")),
]
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@override_settings(DEBUG=False)
def test_an_error_in_a_view_shows_the_friendly_500_page():
    response = Client(raise_request_exception=False).get("/explode")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "Server Error (500)" not in body
    assert "secret detail" not in body


@override_settings(DEBUG=False)
def test_an_unknown_address_shows_the_404_page_without_echoing_it(client):
    response = client.get("/no-such-page-xyz")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert "no-such-page-xyz" not in body


@override_settings(DEBUG=False)
def test_the_404_page_does_not_show_the_reason_a_view_gave(client):
    response = client.get("/hide")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert "Study 17" not in body


@pytest.fixture
def study(db: None) -> Study:
    return make_study(build_catalog(baselines=1, identities=1, prompts=1), contact="study-team@example.org")


@pytest.mark.parametrize(("value", "debug"), [(None, "False"), ("1", "True")])
def test_debug_is_off_unless_asked_for(value, debug):
    # Read by a fresh interpreter: pytest-django turns DEBUG off in this one whatever the settings say.
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"} | ({"DEBUG": value} if value else {})
    read = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.DEBUG)"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert read.stdout.strip() == debug


@override_settings(DEBUG=False)
def test_a_participant_on_a_wrong_address_of_a_study_reads_its_name_and_contact(client, study):
    response = client.get(f"/s/{study.public_slug}/m/99x/")
    assert response.status_code == 404
    body = response.content.decode()
    assert study.participant_title in body and "study-team@example.org" in body
    assert "This link is not valid. Check that you copied all of it" in body
    assert f'href="/s/{study.public_slug}/"' in body  # back to the study's first page


@override_settings(DEBUG=False)
def test_a_participant_with_a_cut_personal_link_is_told_to_check_it(client):
    response = client.get("/s/i/abc123/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "This link is not valid. Check that you copied all of it" in body
    assert 'href="/"' not in body  # a participant has no start page to go to


@override_settings(DEBUG=False)
def test_an_error_on_a_participant_page_names_the_study_and_its_contact(study):
    response = Client(raise_request_exception=False).get(f"/s/{study.public_slug}/explode")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert study.participant_title in body and "study-team@example.org" in body
    assert "secret detail" not in body


def test_a_wrong_password_keeps_the_username_in_the_form(client, annotator: User):
    response = client.post("/accounts/login/", {"username": "annotator-1", "password": "wrong"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'value="annotator-1"' in body
    assert "did not match" in body


def test_the_api_docs_send_a_signed_out_visitor_to_sign_in_and_back(client):
    for url in ("/api/docs/", "/api/redoc/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next={url}"


def test_the_favicon_is_found_where_browsers_look_and_named_by_every_page(client, annotator: User):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.url == static("favicon.svg")
    assert finders.find("favicon.svg")  # collected with the other static files
    client.force_login(annotator)
    assert f'<link rel="icon" href="{response.url}"' in client.get("/").content.decode()
