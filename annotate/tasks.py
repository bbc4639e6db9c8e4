"""Celery tasks of annotation. Each takes an id (here a scope) and calls the service of the same name."""

from __future__ import annotations

from celery import shared_task

from annotate.quality_reports import QUALITY_TASK
from annotate.quality_reports import quality_report_compute as quality_report_compute_service


# Celery ships no type information (no celery-types in the environment), so its decorator is untyped.
@shared_task(name=QUALITY_TASK, acks_late=True)
def quality_report_compute(scope: str) -> None:
    # Progress, outcome and errors are written to the QualityReport row; Celery keeps no result.
    quality_report_compute_service(scope=scope)
