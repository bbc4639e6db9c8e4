"""Catalog runs: every video lacking a current metric is queued, and the run counts its videos done."""

from __future__ import annotations

import pytest

from generation.metrics.compute import metric_definitions
from generation.models import MetricRun, VideoMetric
from generation.selectors import metric_run_progress_get
from generation.services import METRICS_TASK, metric_run_create, video_degraded_copy, video_metrics_compute
from generation.tasks import video_metrics_compute as video_metrics_compute_task
from tests.factories import make_video
from tests.processes import queued_tasks

pytestmark = pytest.mark.django_db


def test_a_run_queues_every_video_that_lacks_a_current_metric(
    study_admin, metrics_queue, django_capture_on_commit_callbacks
):
    done, lacking, partly = make_video(), make_video(), make_video()
    video_metrics_compute(video_id=done.pk)
    video_metrics_compute(video_id=partly.pk)
    VideoMetric.objects.filter(video=partly, name="flicker").delete()
    video_degraded_copy(video=lacking)  # a gold copy is never queued
    queued_tasks(metrics_queue)

    with django_capture_on_commit_callbacks(execute=True):
        run = metric_run_create(created_by=study_admin)

    assert sorted(queued_tasks(metrics_queue)) == sorted(
        [(METRICS_TASK, [lacking.pk]), (METRICS_TASK, [partly.pk])]
    )
    assert (run.status, run.video_count, run.created_by) == (MetricRun.Status.RUNNING, 3, study_admin)
    assert run.definitions == {name: d.digest for name, d in metric_definitions().items()}


def test_a_run_counts_its_videos_done_and_the_last_task_marks_it_done(study_admin):
    first, second = make_video(), make_video()
    run = metric_run_create(created_by=study_admin)
    assert (metric_run_progress_get(run_id=run.pk).done, metric_run_progress_get(run_id=run.pk).total) == (
        0,
        2,
    )

    video_metrics_compute(video_id=first.pk)
    progress = metric_run_progress_get(run_id=run.pk)
    assert (progress.done, progress.total, progress.percent, progress.finished) == (1, 2, 50, False)
    assert MetricRun.objects.get(pk=run.pk).status == MetricRun.Status.RUNNING

    video_metrics_compute_task.apply(args=[second.pk])  # through the task, as a worker runs it

    run.refresh_from_db()
    assert (run.status, run.finished_at is not None) == (MetricRun.Status.DONE, True)
    progress = metric_run_progress_get(run_id=run.pk)
    assert (progress.done, progress.total, progress.percent, progress.finished) == (2, 2, 100, True)


def test_a_run_with_nothing_to_compute_is_done_at_once(study_admin, django_capture_on_commit_callbacks):
    video = make_video()
    video_metrics_compute(video_id=video.pk)

    with django_capture_on_commit_callbacks() as callbacks:
        run = metric_run_create(created_by=None)

    assert callbacks == []
    assert MetricRun.objects.get(pk=run.pk).status == MetricRun.Status.DONE


def test_a_run_computes_the_failed_metrics_again(
    study_admin, metrics_queue, django_capture_on_commit_callbacks
):
    video = make_video()
    video_metrics_compute(video_id=video.pk)
    VideoMetric.objects.filter(video=video, name="flicker").update(
        status=VideoMetric.Status.FAILED, value=None, note="RuntimeError: out of memory"
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = metric_run_create(created_by=study_admin)
    assert queued_tasks(metrics_queue) == [(METRICS_TASK, [video.pk])]
    assert metric_run_progress_get(run_id=run.pk).done == 0

    video_metrics_compute(video_id=video.pk)

    assert VideoMetric.objects.get(video=video, name="flicker").status == VideoMetric.Status.COMPUTED
    assert MetricRun.objects.get(pk=run.pk).status == MetricRun.Status.DONE


def test_a_video_that_joins_after_the_run_is_not_counted_by_it(study_admin):
    video = make_video()
    run = metric_run_create(created_by=study_admin)
    video_metrics_compute(video_id=make_video().pk)

    video_metrics_compute(video_id=video.pk)

    assert metric_run_progress_get(run_id=run.pk).total == 1
    assert MetricRun.objects.get(pk=run.pk).status == MetricRun.Status.DONE
