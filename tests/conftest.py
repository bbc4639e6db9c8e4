from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from config import embedded


@pytest.fixture(autouse=True, scope="session")
def _media_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests write media into a throw-away folder, never into the checkout's var/media."""
    media_root = tmp_path_factory.mktemp("media")
    original = settings.MEDIA_ROOT
    settings.MEDIA_ROOT = media_root
    yield media_root
    settings.MEDIA_ROOT = original


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the embedded servers this test run started, so it leaves no server behind."""
    if "postgresql" in embedded.started_here:
        from django.db import connections

        connections.close_all()
        embedded.postgres_stop(settings.VAR_DIR)
    if "redis" in embedded.started_here:
        embedded.redis_stop(settings.VAR_DIR)


@pytest.fixture
def study_admin(db: None) -> User:
    return User.objects.create_user("study-admin", password="pw-admin-1", is_staff=True, is_superuser=True)


@pytest.fixture
def annotator(db: None) -> User:
    user = User.objects.create_user("annotator-1", password="pw-annotator-1")
    user.groups.add(Group.objects.get_or_create(name="Annotators")[0])
    return user


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user("outsider", password="pw-outsider-1")


@pytest.fixture
def admin_client(client: Client, study_admin: User) -> Client:
    client.force_login(study_admin)
    return client


@pytest.fixture
def annotator_client(client: Client, annotator: User) -> Client:
    client.force_login(annotator)
    return client


@pytest.fixture
def outsider_client(client: Client, outsider: User) -> Client:
    client.force_login(outsider)
    return client
