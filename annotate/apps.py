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

        # Generation jobs that name a track extend it with comparisons of their videos when they finish.
        from annotate import receivers, selectors
        from generation import signals as generation_signals

        generation_signals.job_finished.connect(
            receivers.track_extend_on_job_finished, dispatch_uid="annotate-track-extend"
        )
        generation_signals.register_track_choices(selectors.track_choices)
        generation_signals.register_track_video_ids(selectors.track_video_ids)
