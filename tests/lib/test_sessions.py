from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from lib.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_signed_in_page_answers_while_the_cache_is_down_and_after_it_returns(cache_redis, annotator):
    client = Client()
    client.force_login(annotator)
    assert client.get("/tracks/").status_code == 200  # the session is now in Redis as well

    cache_redis.stop()
    response = client.get("/tracks/")
    assert response.status_code == 200
    assert response.wsgi_request.user == annotator

    cache_redis.start()
    response = client.get("/tracks/")
    assert response.status_code == 200
    assert response.wsgi_request.user == annotator


def test_a_session_started_while_the_cache_is_down_is_kept_in_the_database(cache_redis):
    cache_redis.stop()
    store = SessionStore()
    store["answer"] = 42
    store.save()  # a new key: its uniqueness is checked in the cache, then in the database

    cache_redis.start()
    assert SessionStore(store.session_key).load() == {"answer": 42}


def test_a_sign_out_while_the_cache_is_down_is_not_undone_when_it_returns(cache_redis, annotator):
    client = Client()
    client.force_login(annotator)
    key = client.session.session_key
    assert SessionStore(key).load()[SESSION_KEY] == str(annotator.pk)  # read once: now cached

    cache_redis.stop()
    SessionStore(key).delete()  # the sign-out deletes the database row; the cache does not answer
    # Redis saved its data as it stopped: restarted, it holds the signed-in session again.
    cache_redis.start()

    assert SessionStore(key).load() == {}
    assert client.get("/tracks/").wsgi_request.user.is_anonymous
