from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client, override_settings

from config import embedded


@pytest.fixture(autouse=True, scope="session")
def _media_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests write media into a throw-away folder, never into the checkout's var/media."""
    media_root = tmp_path_factory.mktemp("media")
    original = settings.MEDIA_ROOT
    settings.MEDIA_ROOT = media_root
    yield media_root
    settings.MEDIA_ROOT = original


@pytest.fixture(autouse=True, scope="session")
def _metrics_queue() -> Iterator[str]:
    """Metrics tasks that tests queue (a video joining the catalog queues one) go to a queue of this run's
    own: a worker of ``make demo`` on the same Redis never takes a test's video ids for its own videos."""
    original = settings.METRICS_QUEUE
    settings.METRICS_QUEUE = f"metrics-test-{os.getpid()}"
    yield settings.METRICS_QUEUE
    if "redis" not in settings.EMBEDDED_SERVERS or embedded.redis_is_running(settings.VAR_DIR):
        from tests.processes import queued_tasks

        queued_tasks(settings.METRICS_QUEUE)  # taken: nothing of this run stays in the broker
    settings.METRICS_QUEUE = original


@pytest.fixture
def metrics_queue(_metrics_queue: str) -> str:
    """This run's metrics queue, emptied: a test takes what it queued with tests.processes.queued_tasks."""
    from tests.processes import queued_tasks

    queued_tasks(_metrics_queue)
    return _metrics_queue


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
def ml_member(db: None) -> User:
    user = User.objects.create_user("ml-member", password="pw-ml-member-1")
    user.groups.add(Group.objects.get_or_create(name="ML team")[0])
    return user


@pytest.fixture
def ml_member_client(client: Client, ml_member: User) -> Client:
    client.force_login(ml_member)
    return client


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


@dataclass(frozen=True)
class TinyModel:
    folder: Path
    lora: Path  # the weights file of a LoRA that fits
    bad_lora: Path  # a LoRA made for a transformer with other attention sizes


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The tiny pipeline, written once per test session by the real command, with nothing downloaded.

    Here rather than in one folder's conftest: the demo's writer tests and the generation tests share it.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    root = tmp_path_factory.mktemp("tiny-wan")
    call_command("make_tiny_model", str(root / "model"), "--lora", str(root / "lora"))
    from demo.tiny_model import lora_save, transformer_tiny

    bad = lora_save(transformer_tiny(heads=3), root / "bad-lora")
    return TinyModel(
        folder=root / "model", lora=root / "lora" / "pytorch_lora_weights.safetensors", bad_lora=bad
    )


@dataclass
class PrivateRedis:
    """A Redis server of one test's own, which the test stops and starts (an outage of the cache)."""

    var_dir: Path

    def start(self) -> None:
        embedded._redis_start(self.var_dir, embedded.redis_socket_path(self.var_dir))

    def stop(self) -> None:
        embedded.redis_stop(self.var_dir)


@pytest.fixture
def cache_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    """The session cache on a private Redis, with this process's view of its outages reset."""
    from lib import sessions

    redis = PrivateRedis(tmp_path)
    redis.start()
    cache = {
        "BACKEND": "lib.cache.RedisCache",
        "LOCATION": f"{embedded.redis_client_url(tmp_path)}?db=1",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    monkeypatch.setattr(sessions, "outage", sessions._Outage())
    monkeypatch.setattr(sessions, "RETRY_AFTER_S", 0.0)  # a restarted Redis is tried at once
    try:
        # Changing CACHES makes Django drop its cache connections, before and after.
        with override_settings(CACHES={"default": cache}, SESSION_ENGINE="lib.sessions"):
            yield redis
    finally:
        redis.stop()
