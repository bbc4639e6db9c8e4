"""POST /api/token/: throttled, locked after wrong passwords, silent about who may use the API; tokens
expire and can be revoked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from axes.utils import reset
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import token_client
from tests.conftest import PrivateRedis

LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def _no_failed_attempts(db: None) -> None:
    reset()
    cache.clear()  # the throttle's counts, in the Redis cache


def ask(api: APIClient, username: str, password: str):
    return api.post("/api/token/", {"username": username, "password": password})


def test_the_ml_team_gets_a_token_and_when_it_expires(ml_user: User, anonymous_api: APIClient) -> None:
    response = ask(anonymous_api, "ml-person", "pw-ml-team-1")
    assert response.status_code == 200
    token = Token.objects.get(user=ml_user)
    assert response.json()["token"] == token.key
    expires = datetime.fromisoformat(response.json()["expires"])
    assert expires == token.created + timedelta(days=settings.API_TOKEN_TTL_DAYS)


def test_an_annotators_right_password_gets_the_answer_of_a_wrong_one(
    annotator: User, anonymous_api: APIClient
) -> None:
    right = ask(anonymous_api, "annotator-1", "pw-annotator-1")
    wrong = ask(anonymous_api, "annotator-1", "not-the-password")
    nobody = ask(anonymous_api, "no-such-user", "pw-annotator-1")
    assert right.status_code == wrong.status_code == nobody.status_code == 400
    assert right.json() == wrong.json() == nobody.json()
    assert "may not use the API" in right.json()["non_field_errors"][0]
    assert not Token.objects.filter(user=annotator).exists()


def test_wrong_passwords_lock_the_token_out_even_for_the_right_one(
    ml_user: User, anonymous_api: APIClient
) -> None:
    for _ in range(LIMIT - 1):
        assert ask(anonymous_api, "ml-person", "wrong").status_code == 400
    locked = ask(anonymous_api, "ml-person", "wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)
    assert "Too many failed sign-ins" in locked.json()["detail"]
    right = ask(anonymous_api, "ml-person", "pw-ml-team-1")
    assert right.status_code == 429 and "token" not in right.json()


def test_an_annotators_right_password_locks_out_as_a_wrong_one_does(
    annotator: User, anonymous_api: APIClient
) -> None:
    # Otherwise the lockout coming later for wrong passwords than for the right one would tell them apart.
    for _ in range(LIMIT - 1):
        assert ask(anonymous_api, "annotator-1", "pw-annotator-1").status_code == 400
    assert ask(anonymous_api, "annotator-1", "pw-annotator-1").status_code == 429


def test_the_token_endpoint_is_throttled_per_address(db: None, anonymous_api: APIClient) -> None:
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"].split("/")[0])
    # A different username each time: the per-user lockout never comes, the address's rate does.
    for number in range(rate):
        assert ask(anonymous_api, f"user-{number}", "guess").status_code == 400
    throttled = ask(anonymous_api, "user-last", "guess")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"]


def test_an_expired_token_is_refused_and_a_new_one_is_given(ml_user: User, anonymous_api: APIClient) -> None:
    api = token_client(ml_user)
    old = Token.objects.get(user=ml_user)
    Token.objects.filter(pk=old.pk).update(
        created=timezone.now() - timedelta(days=settings.API_TOKEN_TTL_DAYS, seconds=1)
    )
    response = api.get("/api/tracks/")
    assert response.status_code == 401 and response.json()["detail"].startswith("Token expired")
    new = ask(anonymous_api, "ml-person", "pw-ml-team-1").json()["token"]
    assert new != old.key
    assert APIClient(HTTP_AUTHORIZATION=f"Token {new}").get("/api/tracks/").status_code == 200


def test_a_revoked_token_is_refused(ml_user: User) -> None:
    api = token_client(ml_user)
    assert api.delete("/api/token/").status_code == 204
    assert not Token.objects.filter(user=ml_user).exists()
    response = api.get("/api/tracks/")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."


def test_revoking_needs_a_token_or_a_session(anonymous_api: APIClient) -> None:
    assert anonymous_api.delete("/api/token/").status_code == 401


def test_staff_revoke_a_token_in_the_admin(ml_user: User, admin_client: Client) -> None:
    api = token_client(ml_user)
    response = admin_client.post(f"/admin/authtoken/tokenproxy/{ml_user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert api.get("/api/tracks/").status_code == 401


def test_a_token_is_given_while_the_cache_is_down(
    ml_user: User, cache_redis: PrivateRedis, anonymous_api: APIClient
) -> None:
    # The throttle counts in Redis; the lockout, in the database, still holds without it.
    cache_redis.stop()
    response = ask(anonymous_api, "ml-person", "pw-ml-team-1")
    assert response.status_code == 200 and len(response.json()["token"]) == 40
    for _ in range(LIMIT):
        ask(anonymous_api, "ml-person", "wrong")
    assert ask(anonymous_api, "ml-person", "pw-ml-team-1").status_code == 429
