from __future__ import annotations

from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "User studies"

    def ready(self) -> None:
        from annotate.quality_reports import register_quality_scope
        from generation.access import register_media_policy
        from studies.access import participant_may_view
        from studies.quality import study_quality_reader

        register_media_policy(participant_may_view)
        register_quality_scope("study", study_quality_reader)
