"""Celery tasks of exports. Each takes an id and calls the service of the same name."""

from __future__ import annotations

from celery import shared_task

from exports.runs import EXPORT_TASK, export_run_execute


@shared_task(name=EXPORT_TASK, acks_late=True)
def export_run(run_id: int) -> None:
    # Progress, outcome and errors are written to the ExportRun row; Celery keeps no result.
    export_run_execute(run_id=run_id)
