from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from django.conf import settings

from generation.models import GenerationJob, Method, StoryRendering, Video
from generation.services import (
    generation_item_retry,
    generation_job_cancel,
    generation_job_create,
    generation_render,
    jobs,
)
from tests.factories import MethodFactory
from tests.generation.test_story_render import story_make

pytestmark = pytest.mark.django_db

FRAMES = 6


@pytest.fixture
def cartoon(db: None) -> Method:
    return MethodFactory(
        name="cartoon",
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": FRAMES},
    )


def _media_files() -> set[str]:
    return {p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}


def test_a_cancel_during_the_second_shot_stores_nothing_of_the_rendering(cartoon, monkeypatch):
    job = generation_job_create(method=cartoon, stories=[story_make()], story_mode="autoregressive", seeds=1)
    clock = itertools.count(1000.0, 1.0)  # every report is written
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    report = jobs._Progress.__call__
    steps_seen = []

    def report_then_cancel(self, step, total):
        report(self, step, total)
        steps_seen.append((step, total))
        if step == FRAMES + 1:
            generation_job_cancel(job=job)  # pressed once the second shot has begun

    monkeypatch.setattr(jobs._Progress, "__call__", report_then_cancel)
    before = _media_files()
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    job.refresh_from_db()
    item = job.items.get()
    # Progress counts the shots: the second shot's first frame is step 7 of 18.
    assert steps_seen[-1] == (FRAMES + 2, 3 * FRAMES)
    assert (item.status, job.status) == ("cancelled", GenerationJob.Status.CANCELLED)
    assert not StoryRendering.objects.exists() and not Video.objects.exists()
    assert _media_files() == before


def test_a_rendering_whose_worker_died_every_time_fails_and_is_retried_whole(cartoon):
    job = generation_job_create(method=cartoon, stories=[story_make()], story_mode="autoregressive", seeds=1)
    item = job.items.get()
    # As if the worker had been killed mid-story each time the broker handed the task back.
    type(item).objects.filter(pk=item.pk).update(attempts=settings.GENERATION_MAX_ATTEMPTS)
    generation_render(item_ids=[item.pk])
    item.refresh_from_db()
    assert item.status == "failed" and "gave up after" in item.error

    generation_item_retry(item=item)
    generation_render(item_ids=[item.pk])

    item.refresh_from_db()
    assert (item.status, item.attempts, item.error) == ("done", 1, "")
    assert item.rendering is not None and len(item.rendering.shot_videos()) == 3
    assert item.rendering.joined is not None
