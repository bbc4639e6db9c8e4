"""Real Celery worker processes on the real (embedded) Redis broker, rendering with the tiny model.

No eager mode: the test process queues tasks as the web server would, and a worker started with the
production command line takes them from Redis and writes to the test database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from django.conf import settings
from pytest_django.fixtures import Settings

from generation.media import probe_video
from generation.models import GenerationItem, GenerationJob, Video
from generation.services import generation_job_create
from tests.factories import IdentityFactory, MethodFactory, PromptFactory
from tests.processes import process_database_url

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
# A queue of this run's own: another checkout's test run on the same Redis never takes these tasks.
QUEUE = f"gpu-test-{os.getpid()}"
VISIBILITY_TIMEOUT = 5
WAIT_SECONDS = 120
STEPS = 40  # for the render that is killed


class Workers:
    """Worker processes started by this module; every one is killed at the end, whatever happens."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.started) + 1
        log = open(self.logs / f"worker-{number}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--queues", QUEUE, "--concurrency", "1", "--pool", "prefork",
            "--hostname", f"test-worker-{number}-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
        ]  # fmt: skip
        # A session of its own, so that the worker and its pool child can be killed as one group.
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def kill_all(self) -> None:
        for process in self.started:
            self.kill(process)

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.logs.glob("worker-*.log"))
        )


@pytest.fixture(scope="module")
def workers(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": process_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "GENERATION_QUEUE": QUEUE,
        # A killed worker's task comes back after this many seconds, looked for every second.
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CELERY_UNACKED_RESTORE_SECONDS": "1",
        "HF_HUB_OFFLINE": "1",
        "CONN_MAX_AGE": "0",
    }
    pool = Workers(env, tmp_path_factory.mktemp("workers"))
    try:
        yield pool
    finally:
        pool.kill_all()


@pytest.fixture(autouse=True)
def _queue(settings: Settings) -> None:
    settings.GENERATION_QUEUE = QUEUE


def _wait_for(
    condition: Callable[[], bool], workers: Workers, what: str, seconds: float = WAIT_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}\n{workers.log_tails()}")
        time.sleep(0.1)


def _decoded_frames(video: Video) -> int:
    with av.open(str(Path(settings.MEDIA_ROOT) / video.file.name)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_worker_renders_a_job_of_two_seeds_from_the_queue(workers, tiny_method):
    workers.start()
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=2
    )

    _wait_for(lambda: GenerationJob.objects.get(pk=job.pk).is_finished, workers, "the job to finish")

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
    first = workers.started[-1] if workers.started and workers.started[-1].poll() is None else workers.start()
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=2
    )
    items = GenerationItem.objects.filter(job=job)

    def sampling() -> bool:
        return items.filter(status="running", step__gte=1).count() == 2

    _wait_for(sampling, workers, "the first worker to report a sampling step")
    progress = list(items.values_list("step", "steps_total"))
    workers.kill(first)
    assert all(1 <= step < total == STEPS for step, total in progress), progress
    assert not Video.objects.exists()

    # The task was never acknowledged: once its visibility timeout has passed, Redis hands it out again.
    workers.start()
    _wait_for(
        lambda: GenerationJob.objects.get(pk=job.pk).is_finished, workers, "the second worker to finish"
    )

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, workers.log_tails()
    assert Video.objects.filter(generation_items__job=job).count() == 2
    for item in items:
        assert (item.status, item.attempts, item.step, item.steps_total) == ("done", 2, STEPS, STEPS)
        assert item.worker.startswith(f"test-worker-{len(workers.started)}-")


def test_a_worker_renders_with_the_procedural_backend_the_demo_app_registers(workers):
    # Registered in DemoConfig.ready(): the worker gets it because Celery's Django fixup sets Django up.
    method = MethodFactory(backend="procedural", settings={"width": 32, "height": 32, "num_frames": 4})
    if not workers.started or workers.started[-1].poll() is not None:
        workers.start()
    job = generation_job_create(
        method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )

    _wait_for(lambda: GenerationJob.objects.get(pk=job.pk).is_finished, workers, "the job to finish")

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, workers.log_tails()
    video = Video.objects.get(generation_items__job=job)
    assert (video.settings["backend"], video.width, video.num_frames) == ("procedural", 32, 4)
