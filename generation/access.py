"""Who may see a stored media file.

The catalog cannot know about tracks or studies (they import it, not the other way round), so the
apps that show media to non-staff people register a policy here in their ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from lib.roles import may_export

# A policy answers whether the request may see the media row (a Video or a Reference).
MediaPolicy = Callable[[HttpRequest, Any], bool]
_policies: list[MediaPolicy] = []


def register_media_policy(policy: MediaPolicy) -> None:
    if policy not in _policies:
        _policies.append(policy)


def may_view_media(request: HttpRequest, owner: Any) -> bool:
    user = request.user
    # Study admins and the ML team see the catalog's media (the videos their generation jobs made).
    if may_export(user) or (user.is_authenticated and user.has_perm("generation.view_video")):
        return True
    return any(policy(request, owner) for policy in _policies)
