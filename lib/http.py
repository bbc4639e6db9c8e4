"""Request types of views, for the type checker: what the middleware and the sign-in checks guarantee."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """A request that a sign-in check (``login_required``, ``lib.roles`` decorators, the API's permission)
    let through: its user is signed in, never anonymous."""

    user: User


class HtmxHttpRequest(AuthenticatedHttpRequest):
    """A signed-in request that htmx may have sent: ``request.htmx`` is set by django-htmx's middleware.
    Every page here that answers htmx is behind a sign-in check."""

    htmx: HtmxDetails
