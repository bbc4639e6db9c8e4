"""Celery tasks of studies. Each takes an id and calls the service of the same name."""

from __future__ import annotations

from celery import shared_task

from studies.rankings import RANKING_TASK
from studies.rankings import ranking_run_compute as ranking_run_compute_service


# Celery ships no type information (no celery-types in the environment), so its decorator is untyped.
@shared_task(name=RANKING_TASK, acks_late=True)
def ranking_run_compute(run_id: int) -> None:
    # Progress, outcome and errors are written to the RankingRun row; Celery keeps no result.
    ranking_run_compute_service(run_id=run_id)
