"""Real Celery worker processes on the real (embedded) Redis broker, rendering with the tiny model.

No eager mode: the test process queues tasks as the web server would, and a worker started with the
production command line takes them from Redis and writes to the test database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from django.conf import settings
from pytest_django.fixtures import Settings

from generation.media import probe_video
from generation.models import GenerationItem, GenerationJob, Video
from generation.services import generation_job_create
from tests.factories import IdentityFactory, MethodFactory, PromptFactory
from tests.processes import Workers, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)

# A queue of this run's own: another checkout's test run on the same Redis never takes these tasks.
QUEUE = f"gpu-test-{os.getpid()}"
STEPS = 40  # for the render that is killed


@pytest.fixture(scope="module")
def workers(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    pool = Workers(
        worker_environment(GENERATION_QUEUE=QUEUE), tmp_path_factory.mktemp("workers"), queues=QUEUE
    )
    try:
        yield pool
    finally:
        pool.kill_all()


@pytest.fixture(autouse=True)
def _queue(settings: Settings) -> None:
    settings.GENERATION_QUEUE = QUEUE


def _decoded_frames(video: Video) -> int:
    with av.open(str(Path(settings.MEDIA_ROOT) / video.file.name)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_worker_renders_a_job_of_two_seeds_from_the_queue(workers, tiny_method):
    workers.start()
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=2
    )

    workers.wait_for(lambda: GenerationJob.objects.get(pk=job.pk).is_finished, "the job to finish")

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, workers.log_tails()
    videos = list(Video.objects.filter(generation_items__job=job).order_by("seed"))
    assert [video.seed for video in videos] == [0, 1]
    for video in videos:
        info = probe_video(Path(settings.MEDIA_ROOT) / video.file.name)
        assert (info.codec, info.width, info.height, info.num_frames) == ("h264", 32, 32, 9)
        assert _decoded_frames(video) == 9  # playable to the end, not only probed
        assert video.settings["scheduler"] == "UniPCMultistepScheduler"
        assert (video.settings["num_inference_steps"], video.settings["seed"]) == (2, video.seed)
    for item in GenerationItem.objects.filter(job=job):
        # The last step was reported, between the start and the end of the render, by the worker process.
        assert (item.step, item.steps_total, item.attempts) == (2, 2, 1)
        assert item.started_at <= item.progress_at <= item.finished_at
        assert item.worker.startswith("test-worker-1-")


def test_a_job_whose_worker_is_killed_mid_render_completes_on_the_next_worker(workers, tiny_method):
    # Enough steps that the render is still sampling when the worker is killed, however fast the machine.
    tiny_method.settings = {**tiny_method.settings, "num_inference_steps": STEPS}
    tiny_method.save()
    first = workers.running()
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=2
    )
    items = GenerationItem.objects.filter(job=job)

    def sampling() -> bool:
        return items.filter(status="running", step__gte=1).count() == 2

    workers.wait_for(sampling, "the first worker to report a sampling step")
    progress = list(items.values_list("step", "steps_total"))
    workers.kill(first)
    assert all(1 <= step < total == STEPS for step, total in progress), progress
    assert not Video.objects.exists()

    # The task was never acknowledged: once its visibility timeout has passed, Redis hands it out again.
    workers.start()
    workers.wait_for(lambda: GenerationJob.objects.get(pk=job.pk).is_finished, "the second worker to finish")

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, workers.log_tails()
    assert Video.objects.filter(generation_items__job=job).count() == 2
    for item in items:
        assert (item.status, item.attempts, item.step, item.steps_total) == ("done", 2, STEPS, STEPS)
        assert item.worker.startswith(f"test-worker-{len(workers.started)}-")


def test_a_worker_renders_with_the_procedural_backend_the_demo_app_registers(workers):
    # Registered in DemoConfig.ready(): the worker gets it because Celery's Django fixup sets Django up.
    method = MethodFactory(backend="procedural", settings={"width": 32, "height": 32, "num_frames": 4})
    workers.running()
    job = generation_job_create(
        method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )

    workers.wait_for(lambda: GenerationJob.objects.get(pk=job.pk).is_finished, "the job to finish")

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, workers.log_tails()
    video = Video.objects.get(generation_items__job=job)
    assert (video.settings["backend"], video.width, video.num_frames) == ("procedural", 32, 4)
