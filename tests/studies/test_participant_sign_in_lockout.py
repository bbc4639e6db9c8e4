"""A sign-in lockout from an address leaves the participant pages of that address alone."""

from __future__ import annotations

from axes.utils import reset
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tests.studies.conftest import make_study


def test_a_participant_takes_part_from_an_address_locked_out_of_signing_in(
    catalog, client: Client, annotator: User
) -> None:
    reset()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "annotator-1", "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": "annotator-1", "password": "wrong"}).status_code == 429
    )

    study = make_study(catalog)
    base = f"/s/{study.public_slug}/"
    assert client.get(base).status_code == 200
    assert client.post(base).status_code == 302
    assert client.post(f"{base}consent/", {"agree": "on"}).status_code == 302
    assert client.get(f"{base}m/1/").status_code == 200
