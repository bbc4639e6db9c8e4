"""annotate's answer to the catalog's job_finished signal, connected in AnnotateConfig.ready."""

from __future__ import annotations

import logging
from typing import Any

from annotate.models import Track
from annotate.services import track_extend
from generation.models import GenerationJob, GenerationStatus, Video
from generation.selectors import job_match_pairs

logger = logging.getLogger(__name__)


def track_extend_on_job_finished(sender: type, *, job: GenerationJob, **kwargs: Any) -> None:
    """Extend the track a finished job names with comparisons of the videos it made (and, for a rematch,
    of each with the matched method's video of the same identity, prompt and seed)."""
    if job.extend_track_id is None:
        return
    track = Track.objects.filter(pk=job.extend_track_id).first()
    if track is None:
        logger.warning(
            "generation job %s names track %s, which no longer exists", job.pk, job.extend_track_id
        )
        return
    videos = Video.objects.filter(generation_items__job=job, generation_items__status=GenerationStatus.DONE)
    added = track_extend(
        track=track,
        videos=videos,
        same_method_pairs=job.extend_same_method_pairs,
        pairs=job_match_pairs(job=job),
    )
    logger.info("generation job %s added %d comparisons to track %s", job.pk, added, track.pk)
