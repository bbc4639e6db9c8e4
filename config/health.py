from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from config.celery import app as celery_app


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:  # any failure means "down"; the message says which
        return f"down: {error.__class__.__name__}"


def _broker_state() -> str:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:
        return f"down: {error.__class__.__name__}"


def _cache_state() -> str:
    try:
        cache.has_key("healthz")  # the cache itself, not the sessions' view of it that forgives failures
        return "ok"
    except Exception as error:
        return f"down: {error.__class__.__name__}"


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    state = {"database": _database_state(), "broker": _broker_state()}
    healthy = all(value == "ok" for value in state.values())
    # Reported, but no reason for a 503: sessions are read from the database while the cache is down.
    if settings.CACHE_URL:
        state["cache"] = _cache_state()
    return JsonResponse({"status": "ok" if healthy else "down", **state}, status=200 if healthy else 503)
