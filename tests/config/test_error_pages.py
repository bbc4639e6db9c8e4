"""The pages participants and annotators see when something fails, with DEBUG off as in production."""

from __future__ import annotations

import pytest
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path


def explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail of the failure")


def hide(request: HttpRequest) -> HttpResponse:
    raise Http404("Study 17 belongs to someone else")


urlpatterns = [path("explode", explode), path("hide", hide), path("", include("config.urls"))]

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
