from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
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


def test_the_first_step_is_written_with_its_time_and_later_steps_leave_it_alone(job, monkeypatch):
    clock = itertools.count(1000.0, 1.0)  # a step a second: every step is written
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    progress = jobs._Progress(list(job.items.values_list("pk", flat=True)), job.pk)
    job.items.update(status="running")
    progress(1, 50)
    first = job.items.first()
    assert first.step == 1 and first.first_step_at == first.progress_at
    progress(2, 50)
    later = job.items.get(pk=first.pk)
    assert later.step == 2 and later.first_step_at == first.first_step_at < later.progress_at


def _running(job, *, loading: float, first_step_ago: float, step: int, steps_total: int = 50):
    """Make one item of ``job`` run: taken ``loading`` + ``first_step_ago`` seconds ago, its first step
    ended ``first_step_ago`` seconds ago and step ``step`` just now."""
    now = timezone.now()
    item = job.items.order_by("seed").first()
    item.status, item.step, item.steps_total = "running", step, steps_total
    item.started_at = now - timedelta(seconds=loading + first_step_ago)
    item.first_step_at = now - timedelta(seconds=first_step_ago)
    item.progress_at = now
    item.save()
    job.started_at = item.started_at
    job.save()
    return item


def test_the_pace_and_the_time_left_come_from_the_measured_steps_not_from_the_loading(job):
    # 80 s of loading and compiling, then steps 1 to 10 in 18 s: 2 s a step, 40 steps to go.
    _running(job, loading=80, first_step_ago=18, step=10)
    job.items.exclude(status="running").update(status="cancelled")
    progress = job_progress_get(job_id=job.pk)
    assert progress.seconds_per_step == pytest.approx(2.0, abs=0.01)
    assert progress.seconds_left == pytest.approx(80, abs=1)  # not (98 s / 10 steps) × 40 = 392 s
    assert "2.00 s a step" in progress.summary()


def test_with_one_step_done_the_pace_is_still_being_measured(job):
    item = _running(job, loading=30, first_step_ago=0, step=1)
    job.items.exclude(pk=item.pk).update(status="cancelled")
    progress = job_progress_get(job_id=job.pk)
    assert progress.seconds_per_step is None
    assert progress.pace_text == "measuring…"
    # Until a second step ends, the time since the worker took the item stands for a step.
    assert progress.seconds_left == pytest.approx(30 * 49, abs=5)


def test_the_job_page_shows_the_seconds_per_step_and_the_time_left_from_them(admin_client, job):
    item = _running(job, loading=80, first_step_ago=18, step=10)
    job.items.exclude(pk=item.pk).update(status="cancelled")
    html = admin_client.get(reverse("generation:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    text = " ".join(html.content.decode().split())
    assert "<b>2.00 s</b><small>per sampling step (measured)</small>" in text
    assert re.search(r"<b>1 min (19|20) s</b><small>time left</small>", text)
    assert '10 / 50 <span class="muted">· 2.00 s a step</span>' in text
