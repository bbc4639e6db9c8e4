from __future__ import annotations

from django.apps import AppConfig


class AnnotateConfig(AppConfig):
    name = "annotate"
    verbose_name = "Annotation"

    def ready(self) -> None:
        # The catalog cannot import annotate, so annotate tells it who else may see media.
        from annotate.access import seated_annotator_may_view
        from generation.access import register_media_policy

        register_media_policy(seated_annotator_may_view)
