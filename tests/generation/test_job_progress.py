from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generation.selectors import duration_text, job_progress_get
from generation.services import generation_job_create, jobs
from tests.factories import IdentityFactory, MethodFactory, PromptFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    method = MethodFactory(backend="procedural", settings={"width": 32, "height": 32, "num_frames": 4})
    return generation_job_create(
        method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=4
    )


def test_progress_reaches_the_database_about_three_times_a_second_and_always_at_the_last_step(
    job, monkeypatch
):
    clock = itertools.count(1000.0, 0.01)  # a fast sampler: a step every 10 ms
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    progress = jobs._Progress(list(job.items.values_list("pk", flat=True)), job.pk)
    job.items.update(status="running")
    with CaptureQueriesContext(connection) as queries:
        for step in range(1, 51):
            progress(step, 50)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    # Half a second of sampling: the first step, one a third of a second later, and the last step.
    assert len(writes) == 3
    assert set(job.items.values_list("step", "steps_total")) == {(50, 50)}


def test_time_left_counts_the_running_batch_at_its_pace_and_the_queued_videos_at_the_finished_pace(job):
    now = timezone.now()
    first, second, third, _queued = job.items.order_by("seed")
    started = now - timedelta(seconds=30)
    for item in (first, second):  # one batch of two seeds took 10 s: 5 s a video
        item.status, item.started_at, item.finished_at = "done", started, started + timedelta(seconds=10)
        item.save()
    third.status, third.started_at, third.step, third.steps_total = (
        "running",
        now - timedelta(seconds=4),
        5,
        10,
    )
    third.save()
    job.started_at = started
    job.save()

    progress = job_progress_get(job_id=job.pk)
    assert (progress.done, progress.running, progress.queued, progress.total) == (2, 1, 1, 4)
    assert (progress.step, progress.steps_total) == (5, 10)
    assert progress.seconds_left == pytest.approx(4 + 5, abs=0.5)  # 4 s for step 5→10, 5 s for the last one
    assert progress.seconds_spent == pytest.approx(30, abs=1)
    assert progress.percent == int(100 * (2 + 0.5) / 4)


def test_durations_read_as_people_say_them():
    assert [duration_text(s) for s in (None, 45.4, 185, 7800)] == ["—", "45 s", "3 min 05 s", "2 h 10 min"]
