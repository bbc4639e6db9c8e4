"""The quality report of a study (scope ``study:<id>``): annotate.quality's figures over the study's
judgments, joined with each participant's speed figures and the study's own flags for speeders and
straight-lining. Pairwise studies only: a "best of all" page is not one comparison."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd

from annotate.models import QualityReport
from annotate.quality import JUDGMENT_COLUMNS, THRESHOLDS
from annotate.quality_page import STUDY_SORT_KEYS, QualityRow, rows_sorted
from annotate.quality_reports import QualityInput
from studies import selectors
from studies.models import Participant, Study
from studies.services import participant_code

# Counted per matchup here (a matchup asks several questions at once), so annotate.quality's per-answer
# speeder rule is off for studies.
STUDY_THRESHOLDS = dataclasses.replace(THRESHOLDS, speeder_min_timed=2**31)
SPEED_MIN_MATCHUPS = 10
SPEEDER_SHARE = 0.5  # more than this share of matchups answered before the videos could end
SAME_SIDE_SHARE = 0.8  # at least this share of matchups with every question given the same video


def study_scope(study: Study) -> str:
    return f"study:{study.pk}"


def speed_flags(*, answered: int, faster: float | None, same_side: float | None) -> list[str]:
    """The study's rules, in plain words; nothing below :data:`SPEED_MIN_MATCHUPS` answered matchups."""
    if answered < SPEED_MIN_MATCHUPS:
        return []
    flags = []
    if faster is not None and faster > SPEEDER_SHARE:
        flags.append(
            f"speeder: answered {round(faster * answered)} of {answered} matchups before the videos could end"
        )
    if same_side is not None and same_side >= SAME_SIDE_SHARE:
        flags.append(f"straight-lining: every question the same side in {same_side:.0%} of matchups")
    return flags


def study_quality_reader(study_id: int) -> Callable[[], QualityInput] | None:
    study = Study.objects.filter(pk=study_id).first()
    if study is None:
        return None

    def finish(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        speed = {row.participant_id: row for row in selectors.participant_speed_figures(study=study)}
        participants = dict(study.participants.values_list("rater_id", "pk"))
        for row in rows:
            participant_id = participants[row["rater"]]
            figures = speed.get(participant_id)
            row["participant"] = participant_id
            row["code"] = participant_code(study_id=study.pk, participant_id=participant_id)
            row["matchups_answered"] = figures.matchups_answered if figures else 0
            row["median_seconds"] = figures.median_seconds if figures else None
            row["faster_than_videos"] = figures.faster_than_videos if figures else None
            row["same_side"] = figures.same_side if figures else None
            row["flags"] = [
                *(row.get("flags") or []),
                *speed_flags(
                    answered=row["matchups_answered"],
                    faster=row["faster_than_videos"],
                    same_side=row["same_side"],
                ),
            ]
        return rows

    return lambda: QualityInput(
        judgments=(
            selectors.study_quality_judgments(study=study)
            if study.is_pairwise
            else pd.DataFrame(columns=[*JUDGMENT_COLUMNS])
        ),
        excluded=selectors.study_excluded_raters(study=study),
        thresholds=STUDY_THRESHOLDS,
        finish=finish,
    )


def participant_state(participant: Participant) -> str:
    """included / excluded / screened out / withdrawn: how the participant's answers count now."""
    if participant.is_withdrawn:
        return "withdrawn"
    if participant.rater.excluded:
        return "screened out" if participant.is_screened_out else "excluded"
    return "included"


def study_quality_rows(*, study: Study, report: QualityReport | None, sort: str) -> list[QualityRow]:
    """One row per consented participant, by short id: the report's figures where it has them, the
    others (withdrawn, nothing answered yet or since) with none, after them."""
    participants = selectors.participants_with_decisions(study=study)
    rows = []
    for figures in report.raters if report else []:
        participant = participants.pop(figures["rater"], None)
        if participant is None:
            continue  # withdrawn since, or no longer in the study
        rows.append(_row(study, participant, figures))
    rows = rows_sorted(rows, sort, STUDY_SORT_KEYS)
    for participant in participants.values():
        row = _row(study, participant, {})
        row.no_figures_reason = (
            "withdrawn, their answers count nowhere" if participant.is_withdrawn else "not in the last table"
        )
        rows.append(row)
    return rows


def _row(study: Study, participant: Participant, figures: dict[str, Any]) -> QualityRow:
    return QualityRow(
        figures=figures,
        subject=participant,
        name=participant_code(study_id=study.pk, participant_id=participant.pk),
        last_decision=getattr(participant, "last_decision", None),
        excluded=participant.rater.excluded,
        state=participant_state(participant),
    )
