from __future__ import annotations

import itertools

import pytest

from generation.models import GenerationJob, Video
from generation.services import generation_job_cancel, generation_job_create, generation_render, jobs
from tests.factories import IdentityFactory, MethodFactory, PromptFactory

pytestmark = pytest.mark.django_db


def test_cancelling_a_queued_job_cancels_its_videos_and_the_worker_then_renders_nothing(tiny_method):
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=2
    )
    job = generation_job_cancel(job=job)
    assert job.status == GenerationJob.Status.CANCELLED
    assert job.finished_at is not None

    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))
    assert {item.status for item in job.items.all()} == {"cancelled"}
    assert not Video.objects.exists()


def test_a_running_render_stops_at_its_next_progress_report_after_a_cancel(tiny_method, monkeypatch):
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=2
    )
    report = jobs._Progress.__call__
    steps_seen = []

    def report_then_cancel(self, step, total):
        report(self, step, total)
        steps_seen.append(step)
        if step == 1:
            generation_job_cancel(job=job)  # as if a person pressed Cancel during the first step

    monkeypatch.setattr(jobs._Progress, "__call__", report_then_cancel)
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    job.refresh_from_db()
    assert steps_seen == [1, 2]  # the last step's report saw the cancel, and no decoding followed
    assert job.status == GenerationJob.Status.CANCELLED
    assert {item.status for item in job.items.all()} == {"cancelled"}
    assert not Video.objects.exists()


def test_a_cancel_stops_a_procedural_clip_between_frames_not_only_between_seeds(monkeypatch):
    frames = 60
    method = MethodFactory(backend="procedural", settings={"width": 32, "height": 32, "num_frames": frames})
    job = generation_job_create(
        method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    clock = itertools.count(1000.0, 0.2)  # two reports make one write, as a clip of slow frames would
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    report = jobs._Progress.__call__
    steps_seen = []

    def report_then_cancel(self, step, total):
        report(self, step, total)
        steps_seen.append(step)
        if step == 1:
            generation_job_cancel(job=job)  # pressed while the first frame is shown as done

    monkeypatch.setattr(jobs._Progress, "__call__", report_then_cancel)
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    job.refresh_from_db()
    item = job.items.get()
    # The first written report after the cancel read it, and the clip stopped there.
    assert steps_seen == [1, 2, 3]
    assert (item.status, item.step, item.steps_total, item.error) == ("cancelled", 3, frames, "")
    assert job.status == GenerationJob.Status.CANCELLED
    assert not Video.objects.exists()
