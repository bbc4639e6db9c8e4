"""Export runs: start one (the Celery task does the work), execute it into an archive, find the archive,
delete it."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from exports import read
from exports.build import ExportError, export_build
from exports.models import ExportRun
from exports.options import ExportOptions, ExportOptionsError
from exports.versions import Base, ExtendsError, base_check, base_from_archive, options_comparable
from exports.write import write_archive
from lib.hashing import sha256_file

logger = logging.getLogger(__name__)


def exports_root() -> Path:
    return Path(getattr(settings, "EXPORT_ROOT", Path(settings.VAR_DIR) / "exports"))


def _run_folder(run_id: int) -> Path:
    """Where a run builds its snapshot and keeps its archive."""
    return exports_root() / str(run_id)


# The build task (exports.tasks) is sent by its name, as generation's render task is: the task module
# imports this one, and this one need not import it back.
EXPORT_TASK = "exports.tasks.export_run"


def export_run_start(*, options: ExportOptions, user: User) -> ExportRun:
    """Record the run and queue its task once the row is committed (a worker must be able to see it).

    A run the broker would not take is failed at once, with the reason, rather than left queued for a task
    that will never come; the returned run says so when the caller was not in a transaction.
    """
    run = ExportRun.objects.create(options=options.to_json(), created_by=user)

    def send() -> None:
        try:
            current_app.send_task(EXPORT_TASK, args=[run.pk])
        except Exception as error:  # the broker is unreachable: say so on the run, which can be started again
            logger.exception("could not queue export run %s", run.pk)
            message = f"could not queue the export ({error.__class__.__name__}: {error}); retry it later"
            _fail(run.pk, message)
            run.status, run.error = ExportRun.Status.FAILED, message

    transaction.on_commit(send)
    return run


def export_run_list() -> QuerySet[ExportRun]:
    return ExportRun.objects.select_related("created_by").order_by("-created_at", "-id")


def export_run_get(*, run_id: int) -> ExportRun | None:
    return export_run_list().filter(pk=run_id).first()


class ExportRunBusy(Exception):
    """The run is being built right now: it can be deleted once it has finished."""


def export_run_delete(*, run_id: int) -> bool:
    """Delete a run and its archive; False when there is no such run. Refused while it runs.

    A queued run may go: its task, when it comes, finds nothing to claim. The folder is removed once the
    row's deletion is committed, so a rolled-back deletion never leaves a run without its archive.
    """
    with transaction.atomic():
        # Locked: a worker claiming the run now waits, then finds it gone.
        run = ExportRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return False
        if run.status == ExportRun.Status.RUNNING:
            raise ExportRunBusy(
                f"Export {run.pk} is being built right now; it can be deleted once it has finished."
            )
        folder = _run_folder(run.pk)
        run.delete()
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
    return True


def _set_progress(run_id: int, fraction: float, message: str) -> None:
    ExportRun.objects.filter(pk=run_id).update(progress=round(fraction, 4), progress_message=message[:200])


def export_run_execute(*, run_id: int) -> ExportRun | None:
    """Build the snapshot of one run, pack it as ``<name>.tar.gz`` and record the outcome.

    A run is claimed while queued or running: a running one is seen again only when Redis redelivers the
    task of a worker that died (acks_late), and then its half-written folder is cleared and rebuilt.
    """
    claimed = ExportRun.objects.filter(
        Q(status=ExportRun.Status.QUEUED) | Q(status=ExportRun.Status.RUNNING), pk=run_id
    ).update(status=ExportRun.Status.RUNNING, started_at=timezone.now(), progress=0.0, error="")
    if not claimed:
        return None  # finished already, or deleted
    run = ExportRun.objects.get(pk=run_id)
    folder = _run_folder(run.pk)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        options = ExportOptions.from_json(run.options)
        _set_progress(run_id, 0.0, "Finding the export this one extends")
        with _extended_base(run=run, options=options) as base:
            ExportRun.objects.filter(pk=run_id).update(extends_id=base.run_id if base else None)
            result = export_build(
                options=options,
                out_dir=folder / options.name,
                progress=lambda fraction, message: _set_progress(run_id, 0.95 * fraction, message),
                extends=base,
            )
        _set_progress(run_id, 0.96, "Packing the archive")
        archive = folder / f"{options.name}.tar.gz"
        created = result.manifest["created_at"]
        mtime = int(datetime.fromisoformat(created).timestamp()) if created else 0
        write_archive(result.path, archive, mtime=mtime)
        shutil.rmtree(result.path)
    except (ExportError, ExportOptionsError, ExtendsError) as error:
        _fail(run_id, str(error))
        shutil.rmtree(folder, ignore_errors=True)
        return ExportRun.objects.get(pk=run_id)
    except Exception as error:
        _fail(run_id, f"Unexpected error: {error.__class__.__name__}: {error}")
        shutil.rmtree(folder, ignore_errors=True)
        raise
    ExportRun.objects.filter(pk=run_id).update(
        status=ExportRun.Status.DONE,
        progress=1.0,
        progress_message="Done",
        archive=archive.relative_to(exports_root()).as_posix(),
        archive_bytes=archive.stat().st_size,
        archive_sha256=sha256_file(archive),
        counts=result.manifest["counts"],
        finished_at=timezone.now(),
    )
    return ExportRun.objects.get(pk=run_id)


@contextmanager
def _extended_base(*, run: ExportRun, options: ExportOptions) -> Iterator[Base | None]:
    """The snapshot of the newest finished run with the same options (name and schema aside) whose
    archive can still be read; None for a first export. A deleted or unreadable archive is passed over."""
    wanted = options_comparable(options.to_json())
    excluded_count = len(read.raters_resolve(options.exclude_raters))
    earlier = ExportRun.objects.filter(status=ExportRun.Status.DONE).exclude(pk=run.pk)
    with ExitStack() as stack:
        base = None
        for candidate in earlier.order_by("-finished_at", "-id"):
            try:
                if options_comparable(candidate.options) != wanted:
                    continue
            except ExportOptionsError:
                continue  # options an older version of the app wrote, which no longer read
            archive = export_run_archive_path(run=candidate)
            if archive is None:
                continue
            attempt = ExitStack()
            try:
                opened = attempt.enter_context(base_from_archive(archive, run_id=candidate.pk))
                base_check(opened, options=options, excluded_count=excluded_count)
            except ExtendsError as error:
                attempt.close()
                logger.warning("export run %s is not extended by run %s: %s", candidate.pk, run.pk, error)
                continue
            stack.enter_context(attempt)
            base = opened
            break
        yield base


def _fail(run_id: int, message: str) -> None:
    ExportRun.objects.filter(pk=run_id).update(
        status=ExportRun.Status.FAILED, error=message, finished_at=timezone.now()
    )


def export_run_archive_path(*, run: ExportRun) -> Path | None:
    """The archive of a finished run, if it is still on disk (and inside the exports folder)."""
    if run.status != ExportRun.Status.DONE or not run.archive:
        return None
    root = exports_root().resolve()
    path = (root / run.archive).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
