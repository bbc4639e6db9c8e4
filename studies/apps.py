from __future__ import annotations

from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "User studies"

    def ready(self) -> None:
        from generation.access import register_media_policy
        from studies.access import participant_may_view

        register_media_policy(participant_may_view)
