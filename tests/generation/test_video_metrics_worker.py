"""A real Celery worker computes a video's metrics from the queue, and a worker killed in the middle of
them loses nothing: the next worker computes them, once (the render's counterpart:
test_generation_worker.py). No eager mode: the test process queues as the catalog does."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from pytest_django.fixtures import Settings

from generation.metrics.compute import metric_definitions
from generation.models import Video, VideoMetric
from generation.services import video_create_from_frames
from tests.factories import IdentityFactory, MethodFactory, PromptFactory
from tests.processes import Workers, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)

# A queue of this module's own: no other test's metrics task reaches these workers.
QUEUE = f"metrics-worker-test-{os.getpid()}"
STARTED = "computing metrics"  # what the service logs as it starts on a video


@pytest.fixture(scope="module")
def workers(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    pool = Workers(
        worker_environment(METRICS_QUEUE=QUEUE), tmp_path_factory.mktemp("metrics-workers"), queues=QUEUE
    )
    try:
        yield pool
    finally:
        pool.kill_all()


@pytest.fixture(autouse=True)
def _queue(settings: Settings) -> None:
    settings.METRICS_QUEUE = QUEUE


def moving_frames(*, width: int, height: int, count: int) -> list[np.ndarray]:
    """Soft stripes drifting across the frame: cheap to encode, different on every frame."""
    columns = np.arange(width, dtype=np.float32)
    rows = np.arange(height, dtype=np.float32)[:, None]
    frames = []
    for index in range(count):
        wave = np.sin((columns + 6 * index) / 23.0) + np.cos((rows - 3 * index) / 31.0)
        shade = ((wave + 2) * 63).astype(np.uint8)
        frames.append(np.stack([shade, np.roll(shade, index, axis=1), 255 - shade], axis=-1))
    return frames


def new_video(*, width: int, height: int, count: int) -> Video:
    # Committed at once (no test transaction): the catalog queues its metrics task as it would anywhere.
    return video_create_from_frames(
        method=MethodFactory(),
        identity=IdentityFactory(),
        prompt=PromptFactory(),
        seed=0,
        frames=moving_frames(width=width, height=height, count=count),
        fps=16,
    )


def computed(video: Video) -> bool:
    return VideoMetric.objects.filter(video=video).count() == len(metric_definitions())


def test_a_worker_computes_the_metrics_of_a_new_video_from_the_queue(workers):
    workers.running()
    video = new_video(width=64, height=64, count=12)

    workers.wait_for(lambda: computed(video), "the metrics to be stored")

    rows = {row.name: row for row in VideoMetric.objects.filter(video=video)}
    assert rows["flicker"].status == VideoMetric.Status.COMPUTED and rows["flicker"].value > 0
    assert rows["face_identity"].status == VideoMetric.Status.NO_FACE


def test_metrics_whose_worker_is_killed_midway_are_computed_once_by_the_next_worker(workers):
    first = workers.running()
    log = workers.log_path(len(workers.started))
    already = log.read_text(errors="replace").count(STARTED)
    # Large enough that the face detector is still at work when the worker is killed, however fast the
    # machine (about three seconds on a laptop's core).
    video = new_video(width=1280, height=720, count=64)

    workers.wait_for(
        lambda: log.read_text(errors="replace").count(STARTED) > already, "the first worker to start"
    )
    workers.kill(first)
    assert not VideoMetric.objects.filter(video=video).exists()

    # The task was never acknowledged: once its visibility timeout has passed, Redis hands it out again.
    workers.start()
    workers.wait_for(lambda: computed(video), "the second worker to store the metrics")

    rows = VideoMetric.objects.filter(video=video)
    definitions = metric_definitions()
    assert sorted(rows.values_list("definition", flat=True)) == sorted(d.digest for d in definitions.values())
    second_log = workers.log_path(len(workers.started)).read_text(errors="replace")
    assert second_log.count(f"{STARTED} ") == 1, workers.log_tails()
    assert rows.get(name="dynamic_degree").value > 0
