"""annotate's answers to the catalog's hooks (generation.signals), connected in AnnotateConfig.ready."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from annotate.models import Track, TrackItem
from annotate.services import comparisons_build, track_items_added
from generation.models import GenerationJob, GenerationStatus, Video

logger = logging.getLogger(__name__)


def track_choices() -> list[tuple[int, str]]:
    """The tracks a generation job may extend, for the launch form."""
    return list(Track.objects.order_by("name").values_list("id", "name"))


@transaction.atomic
def track_extend(*, track: Track, videos: Iterable[Video]) -> int:
    """Add comparisons of ``videos`` with each other and with the track's videos of the same identity and
    prompt; return how many comparisons the track gained. Running it again adds nothing."""
    new = list(videos)
    cases = {(video.identity_id, video.prompt_id) for video in new}
    if not cases:
        return 0
    pairs = TrackItem.objects.filter(track=track).values_list(
        "comparison__video_a_id", "comparison__video_b_id"
    )
    in_track = {video_id for pair in pairs for video_id in pair}
    same_cases = [v for v in Video.objects.filter(pk__in=in_track) if (v.identity_id, v.prompt_id) in cases]
    comparisons = comparisons_build(videos=[*same_cases, *new])
    before = TrackItem.objects.filter(track=track).count()
    TrackItem.objects.bulk_create(
        [TrackItem(track=track, comparison=comparison) for comparison in comparisons], ignore_conflicts=True
    )
    added = TrackItem.objects.filter(track=track).count() - before
    track_items_added(track=track, count=added)
    return added


def track_extend_on_job_finished(sender: type, *, job: GenerationJob, **kwargs: Any) -> None:
    if job.extend_track_id is None:
        return
    track = Track.objects.filter(pk=job.extend_track_id).first()
    if track is None:
        logger.warning(
            "generation job %s names track %s, which no longer exists", job.pk, job.extend_track_id
        )
        return
    videos = Video.objects.filter(generation_items__job=job, generation_items__status=GenerationStatus.DONE)
    added = track_extend(track=track, videos=videos)
    logger.info("generation job %s added %d comparisons to track %s", job.pk, added, track.pk)
