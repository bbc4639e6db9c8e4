"""Celery tasks of exports. Each takes an id and calls the service of the same name."""

from __future__ import annotations

from celery import shared_task

from exports.runs import EXPORT_TASK, export_run_execute


# Celery ships no type information (no celery-types in the environment), so its decorator is untyped.
@shared_task(name=EXPORT_TASK, acks_late=True)  # type: ignore[untyped-decorator]
def export_run(run_id: int) -> None:
    # Progress, outcome and errors are written to the ExportRun row; Celery keeps no result.
    export_run_execute(run_id=run_id)
