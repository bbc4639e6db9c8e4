"""How the API authenticates; who may use it is ``lib.roles.IsMlTeamOrStaff``."""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication

from api.authentication import ExpiringTokenAuthentication

# Token first: its WWW-Authenticate header is what turns an anonymous request into a 401, not a 403.
AUTHENTICATION_CLASSES = [ExpiringTokenAuthentication, SessionAuthentication]
