"""The stored quality report of a track or a study: queue its computation (a Celery task does the work),
compute it.

A report's scope names what it is about: ``track:<id>`` (read here) or ``study:<id>`` (read by the
studies app, which registers its reader with :func:`register_quality_scope`: this layer does not know
studies). The page always shows the last finished table with its time; a computation running meanwhile
shows its progress beside it and replaces the table when it is done.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from celery import current_app
from django.db import connection, transaction
from django.utils import timezone

from annotate import selectors
from annotate.adaptive import reliability_weight
from annotate.models import QualityReport, Track
from annotate.quality import THRESHOLDS, Thresholds, quality_fit

logger = logging.getLogger(__name__)

# Sent by name, as the other tasks are: annotate.tasks imports this module, not the other way round.
QUALITY_TASK = "annotate.tasks.quality_report_compute"


@dataclass(frozen=True)
class QualityInput:
    """What one scope gives the computation: its judgments (annotate.quality's ``JUDGMENT_COLUMNS``), the
    raters passed as excluded, the thresholds, and ``finish``, which may add the scope's own columns and
    flags to the stored rows (one dict per rater, JSON-safe)."""

    judgments: pd.DataFrame
    excluded: list[int]
    thresholds: Thresholds = THRESHOLDS
    finish: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None


# A scope's kind -> given the id, None when that object is gone, else the reader of its input.
ScopeReader = Callable[[int], Callable[[], QualityInput] | None]
_SCOPES: dict[str, ScopeReader] = {}


def register_quality_scope(kind: str, reader: ScopeReader) -> None:
    _SCOPES[kind] = reader


def track_scope(track: Track) -> str:
    return f"track:{track.pk}"


def _track_reader(track_id: int) -> Callable[[], QualityInput] | None:
    track = Track.objects.filter(pk=track_id).first()
    if track is None:
        return None
    return lambda: QualityInput(
        judgments=selectors.track_quality_judgments(track=track),
        excluded=selectors.track_excluded_raters(track=track),
        finish=lambda rows: _vote_weights_stored(track, rows),
    )


def _vote_weights_stored(track: Track, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each seat's vote weight from its Dawid–Skene reliability in the table just computed, which a
    track weighting votes by reliability counts from its next vote on (annotate.adaptive)."""
    weights = {row["rater"]: reliability_weight(row.get("ds_reliability")) for row in rows}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE annotate_trackseat AS s SET vote_weight = w.weight
            FROM unnest(%(raters)s::bigint[], %(weights)s::float8[]) AS w(rater_id, weight)
            WHERE s.track_id = %(track)s AND s.rater_id = w.rater_id
            """,
            {"track": track.pk, "raters": list(weights), "weights": list(weights.values())},
        )
    return rows


register_quality_scope("track", _track_reader)


def _parse_scope(scope: str) -> tuple[str, int]:
    kind, _, ident = scope.partition(":")
    if kind not in _SCOPES or not ident.isdigit():
        raise ValueError(f"unknown quality scope {scope!r}")
    return kind, int(ident)


def quality_report_start(*, scope: str) -> QualityReport:
    """Mark the scope's report as queued and send its task once that is committed. A computation that
    the broker would not take fails at once with the reason (the last finished table stays)."""
    _parse_scope(scope)
    report, _ = QualityReport.objects.get_or_create(scope=scope)
    QualityReport.objects.filter(pk=report.pk).update(
        status=QualityReport.Status.QUEUED,
        progress=0.0,
        step="Waiting for a worker",
        error="",
        requested_at=timezone.now(),
    )
    report.refresh_from_db()

    def send() -> None:
        try:
            current_app.send_task(QUALITY_TASK, args=[report.scope])
        except Exception as error:  # the broker is unreachable: say so, it can be started again
            logger.exception("could not queue the quality report of %s", report.scope)
            message = f"could not queue the computation ({error.__class__.__name__}: {error}); retry it later"
            _fail(report.scope, message)
            report.status, report.error = QualityReport.Status.FAILED, message

    transaction.on_commit(send)
    return report


def _step(scope: str, fraction: float, step: str) -> None:
    QualityReport.objects.filter(scope=scope).update(progress=fraction, step=step)


def _fail(scope: str, message: str) -> None:
    QualityReport.objects.filter(scope=scope).update(status=QualityReport.Status.FAILED, error=message)


def _json_safe(value: Any) -> Any:
    """NaN, NA and infinities (no figure) become null; numpy numbers plain numbers; lists stay lists."""
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def quality_report_compute(*, scope: str) -> QualityReport | None:
    """Read the scope's judgments, fit the quality figures (annotate.quality) and store the rater rows;
    None (and no report) when the track or study is gone.

    Claimed whatever its status (a page may ask again while an old computation's task is late): the
    last writer wins, and each run writes a whole table."""
    kind, ident = _parse_scope(scope)
    read = _SCOPES[kind](ident)
    if read is None:
        QualityReport.objects.filter(scope=scope).delete()
        return None
    QualityReport.objects.get_or_create(scope=scope)
    QualityReport.objects.filter(scope=scope).update(
        status=QualityReport.Status.RUNNING, progress=0.05, step="Reading the judgments", error=""
    )
    try:
        given = read()
        judgments = given.judgments
        _step(scope, 0.3, f"Fitting the quality figures over {len(judgments)} judgments")
        raters = (
            quality_fit(judgments, excluded=given.excluded, thresholds=given.thresholds).raters
            if len(judgments)
            else None
        )
        _step(scope, 0.9, "Storing the table")
        rows = (
            []
            if raters is None
            else [
                {name: _json_safe(value) for name, value in row.items()} for row in raters.to_dict("records")
            ]
        )
        if given.finish is not None:
            rows = given.finish(rows)
    except Exception as error:
        _fail(scope, f"Unexpected error: {error.__class__.__name__}: {error}")
        raise
    QualityReport.objects.filter(scope=scope).update(
        status=QualityReport.Status.DONE,
        progress=1.0,
        step="Done",
        raters=rows,
        judgments=len(judgments),
        computed_at=timezone.now(),
    )
    return QualityReport.objects.get(scope=scope)
