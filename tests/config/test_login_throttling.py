"""Sign-in throttling: wrong passwords lock a username out from an address for a while, with a message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def _no_failed_attempts(db: None) -> None:
    reset()


def sign_in(client: Client, username: str, password: str, url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


def fail_until_locked(client: Client, username: str, url: str = "/accounts/login/"):
    for _ in range(LIMIT - 1):
        response = sign_in(client, username, "wrong-password", url)
        assert response.status_code == 200  # the form again, saying the password did not match
    return sign_in(client, username, "wrong-password", url)


def test_wrong_passwords_lock_the_sign_in_with_a_message_saying_when_to_retry(
    client: Client, annotator: User
) -> None:
    response = fail_until_locked(client, "annotator-1")
    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "locked for 15 minutes" in page
    assert '<form method="post" action="/accounts/login/">' in page  # the app's own sign-in page


def test_the_right_password_is_refused_while_locked(client: Client, annotator: User) -> None:
    fail_until_locked(client, "annotator-1")
    response = sign_in(client, "annotator-1", "pw-annotator-1")
    assert response.status_code == 429 and "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_ends_after_the_lockout_time(client: Client, annotator: User) -> None:
    fail_until_locked(client, "annotator-1")
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    response = sign_in(client, "annotator-1", "pw-annotator-1")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(annotator.pk)


def test_another_user_from_the_same_address_still_signs_in(
    client: Client, annotator: User, outsider: User
) -> None:
    fail_until_locked(client, "annotator-1")
    assert sign_in(client, "outsider", "pw-outsider-1").status_code == 302


def test_the_admin_sign_in_is_locked_too(client: Client, study_admin: User) -> None:
    response = fail_until_locked(client, "study-admin", url="/admin/login/")
    assert response.status_code == 429 and "Too many failed sign-ins" in response.content.decode()
    response = sign_in(client, "study-admin", "pw-admin-1", url="/admin/login/")
    assert response.status_code == 429
    # Locked on the app's sign-in page as well: one lockout per username and address.
    assert sign_in(client, "study-admin", "pw-admin-1").status_code == 429
