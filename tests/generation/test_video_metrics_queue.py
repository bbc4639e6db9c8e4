"""A video that joins the catalog has its metrics queued once its row is committed: generated, imported
(once for the whole import) or uploaded; never a gold copy."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.models import Method, Video
from generation.services import (
    METRICS_TASK,
    catalog_import,
    generation_job_create,
    generation_render,
    video_degraded_copy,
    video_metrics_queue,
    video_upload,
)
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video
from tests.generation.test_import_catalog import good_manifest, write_manifest, write_mp4
from tests.processes import queued_tasks

pytestmark = pytest.mark.django_db


def test_a_generated_video_queues_its_metrics_once_committed(
    metrics_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        video = make_video()
    assert queued_tasks(metrics_queue) == []  # nothing before the commit

    for callback in callbacks:
        callback()

    assert queued_tasks(metrics_queue) == [(METRICS_TASK, [video.pk])]


def test_the_video_a_job_renders_queues_its_metrics(metrics_queue, django_capture_on_commit_callbacks):
    method = MethodFactory(
        backend=Method.Backend.PROCEDURAL, settings={"width": 32, "height": 32, "num_frames": 4}
    )
    job = generation_job_create(
        method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )

    with django_capture_on_commit_callbacks(execute=True):
        generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    video = Video.objects.get(generation_items__job=job)
    assert queued_tasks(metrics_queue) == [(METRICS_TASK, [video.pk])]


def test_an_import_queues_the_metrics_of_all_its_videos_after_the_batch(
    tmp_path, metrics_queue, django_capture_on_commit_callbacks
):
    write_manifest(tmp_path, good_manifest(tmp_path))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        catalog_import(manifest_path=tmp_path)

    videos = sorted(Video.objects.values_list("pk", flat=True))
    assert len(videos) == 2
    assert len(callbacks) == 1  # one for the whole import, not one a video
    assert sorted(queued_tasks(metrics_queue)) == [(METRICS_TASK, [pk]) for pk in videos]


def test_an_uploaded_video_queues_its_metrics(tmp_path, metrics_queue, django_capture_on_commit_callbacks):
    path = write_mp4(tmp_path / "baseline.mp4", shade=40)
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/mp4")

    with django_capture_on_commit_callbacks(execute=True):
        video = video_upload(
            upload=upload, method=MethodFactory(), identity=IdentityFactory(), prompt=PromptFactory(), seed=1
        )

    assert queued_tasks(metrics_queue) == [(METRICS_TASK, [video.pk])]


def test_a_gold_copy_queues_no_metrics(metrics_queue, django_capture_on_commit_callbacks):
    video = make_video()

    with django_capture_on_commit_callbacks() as callbacks:
        video_degraded_copy(video=video)

    assert callbacks == []


def test_queueing_no_video_waits_for_no_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        video_metrics_queue(video_ids=[])
    assert callbacks == []
