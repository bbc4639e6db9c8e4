"""Celery tasks of the catalog. They take ids and call the same-named service; the rows hold the results."""

from __future__ import annotations

import os

from celery import Task, shared_task
from django.conf import settings

from generation import services


@shared_task(
    bind=True,
    name=services.RENDER_TASK,
    # Acknowledged only when done, and handed back if the worker dies, so a killed worker loses no video;
    # the attempts counter on the items stops a task that kills every worker it meets.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.GENERATION_SOFT_TIME_LIMIT,
    time_limit=settings.GENERATION_HARD_TIME_LIMIT,
)
def generation_render(self: Task, item_ids: list[int]) -> None:
    services.generation_render(item_ids=item_ids, worker=f"{self.request.hostname or 'worker'}:{os.getpid()}")


@shared_task(
    name=services.METRICS_TASK,
    # As the render: a killed worker's video is computed again by the next one, and the rows it finds
    # already stored are not computed twice.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.METRICS_SOFT_TIME_LIMIT,
    time_limit=settings.METRICS_HARD_TIME_LIMIT,
)
def video_metrics_compute(video_id: int) -> None:
    services.video_metrics_compute(video_id=video_id)
