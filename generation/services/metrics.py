"""Automatic metrics of videos: compute and store them (the work of a Celery task), queue them, and runs
over the whole catalog.

Each video is one task on the ``metrics`` queue (CPU work). A video's metrics are stored one row per
metric definition (``generation.metrics.definitions``): a redelivered task computes only what has no row
yet, and rows are written as upserts on (video, definition), so two tasks of one video at once still leave
one row each.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from generation import media
from generation.metrics.compute import ReferenceMedia, metric_definitions, metrics_of_video
from generation.metrics.definitions import MetricDefinition, MetricOutcome
from generation.models import MetricRun, Video, VideoMetric
from generation.selectors import metric_run_videos, videos_lacking_metrics

logger = logging.getLogger(__name__)

# Sent by name, like the render task: the services need not import the task module, which imports them.
METRICS_TASK = "generation.tasks.video_metrics_compute"
NOTE_LENGTH = VideoMetric._meta.get_field("note").max_length or 300
# What an upsert rewrites when the row of (video, definition) is there already.
STORED_FIELDS = (
    "name", "version", "model_hash", "settings", "status", "value", "details", "note", "seconds",
    "computed_at",
)  # fmt: skip


def video_metrics_compute(*, video_id: int) -> list[VideoMetric]:
    """Compute and store the current metrics of one video that have no row yet; return the stored rows.

    A video that is gone, or a gold copy, gets nothing. A metric that raises is stored as FAILED with the
    error named, and the other metrics are still stored. Afterwards, the catalog runs that this completes
    are marked done.
    """
    video = (
        Video.objects.select_related("prompt", "identity").filter(pk=video_id, is_gold_stimulus=False).first()
    )
    stored: list[VideoMetric] = []
    if video is not None:
        definitions = metric_definitions()
        present = set(
            VideoMetric.objects.filter(
                video=video, definition__in=[d.digest for d in definitions.values()]
            ).values_list("definition", flat=True)
        )
        wanted = [name for name, definition in definitions.items() if definition.digest not in present]
        if wanted:
            logger.info("computing metrics %s of video %s", ", ".join(wanted), video.pk)
            stored = _store(video, _outcomes(video, definitions, wanted))
    metric_runs_finish()
    return stored


def _outcomes(
    video: Video, definitions: Mapping[str, MetricDefinition], names: list[str]
) -> list[MetricOutcome]:
    references = [
        ReferenceMedia(
            path=media.media_path(str(ref.file.name)), is_clip=ref.is_video, viewpoint=ref.viewpoint
        )
        for ref in video.identity.references.all()
    ]

    def compute(wanted: Collection[str]) -> list[MetricOutcome]:
        return metrics_of_video(
            video_path=media.media_path(str(video.file.name)),
            references=references,
            prompt_text=video.prompt.shown_text,
            names=wanted,
        )

    try:
        return compute(names)
    except SoftTimeLimitExceeded:
        limit = settings.METRICS_SOFT_TIME_LIMIT
        return [_failed(definitions[name], f"over the time limit of {limit} s per video") for name in names]
    except Exception:
        logger.exception("metrics %s of video %s failed; computing them one by one", names, video.pk)
    # One of them raised: each alone, so that the others are still stored.
    outcomes: list[MetricOutcome] = []
    for name in names:
        try:
            outcomes += compute([name])
        except Exception as error:
            logger.exception("metric %s of video %s failed", name, video.pk)
            outcomes.append(_failed(definitions[name], f"{error.__class__.__name__}: {error}"))
    return outcomes


def _failed(definition: MetricDefinition, note: str) -> MetricOutcome:
    return MetricOutcome(definition=definition, status="failed", note=note)


def _store(video: Video, outcomes: Iterable[MetricOutcome]) -> list[VideoMetric]:
    rows = []
    for outcome in outcomes:
        definition, status, value, note = outcome.definition, outcome.status, outcome.value, outcome.note
        if status == VideoMetric.Status.COMPUTED and (value is None or not math.isfinite(value)):
            status, value, note = "failed", None, f"the metric gave no finite value ({value})"
        rows.append(
            VideoMetric(
                video=video,
                name=definition.spec.name,
                version=definition.spec.version,
                definition=definition.digest,
                model_hash=definition.model_hash,
                settings=_json_safe(definition.settings),
                status=status,
                value=value if status == VideoMetric.Status.COMPUTED else None,
                details=_json_safe(outcome.details),
                note=note[:NOTE_LENGTH],
                seconds=outcome.seconds,
            )
        )
    # An upsert: a second task of the same video (a redelivery racing the first) rewrites the row.
    return VideoMetric.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["video", "definition"], update_fields=STORED_FIELDS
    )


def _json_safe(value: Any) -> Any:
    # PostgreSQL's jsonb has no NaN or Infinity: one such aggregate must not lose the video's other rows.
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def video_metrics_queue(*, video_ids: Iterable[int]) -> None:
    """Queue one metrics task per video once the caller's transaction commits (a worker must find them)."""
    ids = list(video_ids)
    if not ids:
        return

    def send() -> None:
        for sent, video_id in enumerate(ids):
            try:
                current_app.send_task(METRICS_TASK, args=[video_id], queue=settings.METRICS_QUEUE)
            except Exception:
                # The broker is unreachable: the videos keep no row, and a catalog run queues them again.
                # The rest are not tried: each attempt would wait for the broker's retries too.
                logger.exception("could not queue the metrics of videos %s", ids[sent:])
                return

    transaction.on_commit(send)


# --- runs over the whole catalog ---------------------------------------------------------------------------


@transaction.atomic
def metric_run_create(*, created_by: User | None) -> MetricRun:
    """Queue the current metrics of every video of the catalog that lacks one, as a run with progress.

    Metrics that failed are computed again (a run is how one asks for that); a run with nothing to
    compute is done at once.
    """
    digests = {name: definition.digest for name, definition in metric_definitions().items()}
    VideoMetric.objects.filter(definition__in=digests.values(), status=VideoMetric.Status.FAILED).delete()
    lacking = list(videos_lacking_metrics(digests=digests.values()).values_list("pk", flat=True))
    run = MetricRun.objects.create(
        video_count=Video.objects.of_methods().count(), definitions=digests, created_by=created_by
    )
    if lacking:
        video_metrics_queue(video_ids=lacking)
    else:
        _run_done(run)
    return run


def metric_runs_finish() -> None:
    """Mark done the running catalog runs whose every video has a row for each of the run's definitions.

    Called by each metrics task after its rows are committed: the last task of a run sees them all.
    """
    for run in MetricRun.objects.filter(status=MetricRun.Status.RUNNING):
        digests = list(run.definitions.values())
        lacking = metric_run_videos(run=run).filter(
            pk__in=videos_lacking_metrics(digests=digests).values("pk")
        )
        if not lacking.exists():
            _run_done(run)


def _run_done(run: MetricRun) -> None:
    run.status, run.finished_at = MetricRun.Status.DONE, timezone.now()
    # Only a run still running: two tasks that finish at once mark it once.
    MetricRun.objects.filter(pk=run.pk, status=MetricRun.Status.RUNNING).update(
        status=run.status, finished_at=run.finished_at
    )
