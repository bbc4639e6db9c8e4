"""API tokens that expire: DRF's tokens, refused ``API_TOKEN_TTL_DAYS`` after they were made."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

TOKEN_EXPIRED = "Token expired: ask POST /api/token/ for a new one."


def token_expires(token: Token) -> datetime | None:
    """When the token stops being accepted; None when tokens never expire (``API_TOKEN_TTL_DAYS=0``)."""
    days = settings.API_TOKEN_TTL_DAYS
    return token.created + timedelta(days=days) if days > 0 else None


def token_expired(token: Token) -> bool:
    expires = token_expires(token)
    return expires is not None and expires <= timezone.now()


def token_for(*, user: User) -> Token:
    """The user's token, a new one in place of one that has expired."""
    token = Token.objects.filter(user=user).first()
    if token is not None and token_expired(token):
        Token.objects.filter(pk=token.pk).delete()
        token = None
    # get_or_create: two requests at once get the one token.
    return token or Token.objects.get_or_create(user=user)[0]


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed(TOKEN_EXPIRED)
        return user, token
