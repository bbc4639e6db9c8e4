"""Who may read the platform's data and export it: study admins (staff) and the ML team."""

from __future__ import annotations

from typing import Any

# Members may read and export through the pages and the API, but hold no track seat: they never vote.
ML_TEAM_GROUP = "ML team"


def may_export(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff or user.groups.filter(name=ML_TEAM_GROUP).exists())
