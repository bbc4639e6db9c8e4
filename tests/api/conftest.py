"""API personas: the ML team (by token), an annotator with a token, anonymous callers."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path: Path) -> None:
    settings.EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture
def ml_user(db: None) -> User:
    user = User.objects.create_user("ml-person", password="pw-ml-team-1")
    user.groups.add(Group.objects.get_or_create(name="ML team")[0])
    return user


def token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def ml_api(ml_user: User) -> APIClient:
    return token_client(ml_user)


@pytest.fixture
def annotator_api(annotator: User) -> APIClient:
    return token_client(annotator)


@pytest.fixture
def anonymous_api(db: None) -> APIClient:
    return APIClient()
