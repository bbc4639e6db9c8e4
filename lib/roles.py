"""Who may do what, in one place: the groups the platform knows and the checks built on them.

- A **study admin** is a staff user: tracks, studies, the catalog, generation and exports.
- The **ML team** (group ``ML team``) launches and follows generation jobs, reads the data and exports it,
  through the pages and the API, and holds no track seat: its members never vote.
- **Annotators** (group ``Annotators``, or any active non-staff user) are seated on tracks and vote.

Pages that someone may not see answer 404, as if they did not exist; the API answers 401 / 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

ANNOTATORS_GROUP = "Annotators"
ML_TEAM_GROUP = "ML team"

# HttpResponseBase rather than HttpResponse: a download view answers a FileResponse (streaming).
View = Callable[..., HttpResponseBase]


def is_study_admin(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)


def is_ml_team(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.groups.filter(name=ML_TEAM_GROUP).exists())


def may_export(user: Any) -> bool:
    """Study admins and the ML team may generate videos, read the platform's data and export it."""
    return is_study_admin(user) or is_ml_team(user)


class Roles:
    """What the signed-in user may reach, for the templates (``roles`` in every page's context).

    Each answer is worked out when a template first asks for it: pages that never ask (the vote's
    panel) pay no query.
    """

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def study_admin(self) -> bool:
        return is_study_admin(self.user)

    @cached_property
    def ml_team(self) -> bool:
        return is_ml_team(self.user)

    @cached_property
    def ml_work(self) -> bool:
        """Generation, exports and the API docs."""
        return self.study_admin or self.ml_team

    @cached_property
    def annotates(self) -> bool:
        """Annotators (anyone signed in but the ML team, study admins included): "My tracks"."""
        return bool(getattr(self.user, "is_authenticated", False)) and (self.study_admin or not self.ml_team)


def roles(request: HttpRequest) -> dict[str, Roles]:
    """Context processor: ``roles.ml_work`` and the others in every template rendered with a request."""
    return {"roles": Roles(request.user)}


def _required(check: Callable[[Any], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not check(request.user):
                raise Http404("No such page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# Signed-in study admins only; anyone else signed in gets a 404, as if the page did not exist.
staff_required = _required(is_study_admin)
# Study admins and the ML team (generation and exports); anyone else signed in gets a 404.
ml_work_required = _required(may_export)


class IsMlTeamOrStaff(BasePermission):
    """The API's rule: study admins and the ML team. Annotators and participants may not use it."""

    message = "Only the ML team and study admins may use this API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_export(request.user)
