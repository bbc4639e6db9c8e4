"""Export runs: the service that builds the archive, and the Celery task that calls it."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from exports.models import ExportRun
from exports.options import ExportOptions
from exports.runs import export_run_archive_path, export_run_execute, export_run_start
from exports.tasks import export_run
from tests.exports.export_world import World, build_world


@pytest.fixture
def world(db: None, tmp_path: Path, settings) -> World:
    settings.EXPORT_ROOT = tmp_path / "exports"
    return build_world(tmp_path)


def test_executing_a_run_packs_the_snapshot_into_an_archive(world: World, study_admin: User) -> None:
    run = ExportRun.objects.create(options=ExportOptions(name="prefs").to_json(), created_by=study_admin)
    done = export_run_execute(run_id=run.pk)
    assert done is not None and done.status == ExportRun.Status.DONE
    assert done.progress == 1.0
    assert done.counts["votes"] == 23
    archive = export_run_archive_path(run=done)
    assert archive is not None and archive.name == "prefs.tar.gz"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"prefs/manifest.json", "prefs/README.md", "prefs/data/votes.parquet"} <= names
    assert not (archive.parent / "prefs").exists()  # only the archive is kept


def test_a_run_with_a_bad_option_fails_with_its_message(world: World) -> None:
    run = ExportRun.objects.create(options={"tracks": [999_999]})
    failed = export_run_execute(run_id=run.pk)
    assert failed is not None and failed.status == ExportRun.Status.FAILED
    assert "tracks" in failed.error
    assert export_run_archive_path(run=failed) is None


def test_a_finished_run_is_not_executed_twice(world: World) -> None:
    run = ExportRun.objects.create(options={}, status=ExportRun.Status.DONE)
    assert export_run_execute(run_id=run.pk) is None


def test_starting_a_run_queues_its_task_once_committed(
    world: World, study_admin: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = export_run_start(options=ExportOptions(), user=study_admin)
    assert run.status == ExportRun.Status.QUEUED
    assert len(callbacks) == 1


def test_the_task_runs_the_export(world: World) -> None:
    run = ExportRun.objects.create(options=ExportOptions().to_json())
    export_run.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == ExportRun.Status.DONE
    assert export_run_archive_path(run=run) is not None


def test_a_run_outside_any_transaction_reports_progress_and_finishes(
    transactional_db: None, tmp_path: Path, settings
) -> None:
    """As in a worker: no test transaction around it, so the reads take their read-only snapshot, and the
    progress written meanwhile must not go through that snapshot's transaction."""
    settings.EXPORT_ROOT = tmp_path / "exports"
    build_world(tmp_path)
    run = ExportRun.objects.create(options=ExportOptions(name="prefs").to_json())
    done = export_run_execute(run_id=run.pk)
    assert done is not None
    assert (done.status, done.error) == (ExportRun.Status.DONE, "")
    assert done.counts["votes"] == 23
    assert export_run_archive_path(run=done) is not None
