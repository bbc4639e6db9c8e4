"""Sign-in: Django's ModelBackend, with the user of each request loaded by one fixed statement; the
lockout page and the client address of sign-in throttling."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import backends, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.db import connections, router
from django.db.models import Field
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def _column(field: Field[Any, Any]) -> str:
    # Concrete fields are those with a column; the stubs type every field's column as optional.
    return cast(str, field.column)


@cache
def _user_select(model: type[AbstractBaseUser], alias: str) -> tuple[str, list[str]]:
    quote = connections[alias].ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(quote(_column(field)) for field in fields)
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(_column(model._meta.pk))} = %s"
    return sql, [field.attname for field in fields]


class ModelBackend(backends.ModelBackend):
    """Every signed-in request loads its user. The ORM's ``get()`` spends about half a millisecond of
    CPU building that one query, more than the rest of the sign-in check; a fixed statement (prepared
    by the database once used twice) read into ``from_db`` gives the same user for a fraction of it."""

    def get_user(self, user_id: Any) -> User | None:
        model = get_user_model()
        alias = router.db_for_read(model)
        sql, names = _user_select(model, alias)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        user = model.from_db(alias, names, row)
        return user if self.user_can_authenticate(user) else None


def client_address(request: HttpRequest) -> str:
    """The client's address as the API's throttle sees it: ``REMOTE_ADDR``, or behind
    ``TRUSTED_PROXY_COUNT`` proxies the address the first of them put in ``X-Forwarded-For``."""
    return BaseThrottle().get_ident(cast(Request, request))


def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds()) // 60


def lockout_message() -> str:
    minutes = lockout_minutes()
    return (
        f"Too many failed sign-ins: signing in as this user from this address is locked for "
        f"{minutes} minute{'s' if minutes != 1 else ''}. Try again after that; every attempt before "
        f"then starts the wait again."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """The sign-in page (the admin's too) with the lockout message, as a 429 saying when to retry.

    Every attempt while locked counts as a failure and starts the wait again, so the wait is the whole
    lockout time from now."""
    response = render(request, "registration/login.html", {"lockout": lockout_message()}, status=429)
    response["Retry-After"] = str(lockout_minutes() * 60)
    return response
