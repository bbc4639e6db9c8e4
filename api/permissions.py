"""Who may use the API: study admins (staff) and the ML team. Annotators and participants may not."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from exports.access import may_export

# Token first: its WWW-Authenticate header is what turns an anonymous request into a 401, not a 403.
AUTHENTICATION_CLASSES = [TokenAuthentication, SessionAuthentication]


class IsMlTeamOrStaff(BasePermission):
    message = "Only the ML team and study admins may use this API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_export(request.user)
