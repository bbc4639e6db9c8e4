from __future__ import annotations

import pytest

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_it_reports_ok_when_database_broker_and_cache_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "cache": "ok"}


def test_it_answers_503_and_names_the_broker_when_the_broker_is_down(client, tmp_path, monkeypatch):
    # A socket path nobody listens on: the broker is unreachable.
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis+socket://{tmp_path}/nothing.sock")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == "ok"
    assert body["broker"].startswith("down")


def test_it_reports_a_cache_that_is_down_and_still_answers_200(cache_redis, client):
    # Sessions fall back to the database: nobody is turned away while the cache is down.
    assert client.get("/healthz").json()["cache"] == "ok"
    cache_redis.stop()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["cache"].startswith("down")
