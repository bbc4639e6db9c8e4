"""Writes of the catalog and of generation. Callers import from here: ``from generation.services import …``.

- ``catalog``: videos and references entering the catalog (every stored media file goes through them);
- ``manifest``: a catalog made elsewhere, imported from a folder with a ``manifest.json``;
- ``uploads``: a baseline video uploaded through the browser;
- ``jobs``: generation jobs: launch, render (the work of the Celery task), retry and cancel;
- ``gold``: degraded copies of videos for gold comparisons (comparisons with a known answer);
- ``viewpoints``: the rule of an identity's canonical three-view set of references;
- ``metrics``: automatic metrics of videos: computed and stored (the work of a Celery task), queued as
  videos join the catalog, and runs over the whole catalog.
"""

from __future__ import annotations

from generation.services.catalog import reference_create, video_create_from_frames, video_import_file
from generation.services.gold import video_degraded_copy, video_shapes_match
from generation.services.jobs import (
    MAX_SEEDS,
    RENDER_TASK,
    generation_item_retry,
    generation_job_cancel,
    generation_job_create,
    generation_render,
    match_cases,
    settings_overrides_check,
)
from generation.services.manifest import catalog_import
from generation.services.metrics import (
    METRICS_TASK,
    metric_run_create,
    video_metrics_compute,
    video_metrics_queue,
)
from generation.services.uploads import video_upload
from generation.services.viewpoints import three_view_check

__all__ = [
    "MAX_SEEDS",
    "METRICS_TASK",
    "RENDER_TASK",
    "catalog_import",
    "generation_item_retry",
    "generation_job_cancel",
    "generation_job_create",
    "generation_render",
    "match_cases",
    "metric_run_create",
    "reference_create",
    "settings_overrides_check",
    "three_view_check",
    "video_create_from_frames",
    "video_degraded_copy",
    "video_import_file",
    "video_metrics_compute",
    "video_metrics_queue",
    "video_shapes_match",
    "video_upload",
]
