"""The quality table of a track: its judgments as annotate.quality reads them, the stored report, its task."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from django.contrib.auth.models import User

from annotate import selectors
from annotate.models import GoldAnswer, Judgment, QualityReport, TrackItem, TrackSeat
from annotate.quality import JUDGMENT_COLUMNS
from annotate.quality_reports import quality_report_compute, track_scope
from annotate.tasks import quality_report_compute as quality_report_task
from annotate.vote_path import assignment_next_for, judgment_submit, track_seat_exclude
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def _vote(track, user: User, side: str = "left", response_ms: int = 9100) -> Judgment:
    assignment = assignment_next_for(track=track, user=user)
    return judgment_submit(
        assignment_id=assignment.pk,
        user=user,
        side_choice=side,
        response_ms=response_ms,
        now=assignment.issued_at,
    ).judgment


@pytest.fixture
def voted(study_admin):
    """amy and ben vote on every comparison of three; amy answers one gold comparison and one repeat."""
    amy, ben = User.objects.create_user("amy"), User.objects.create_user("ben")
    track = make_track(annotators=[amy, ben], methods=3, votes_needed=2, min_watch_fraction=0)
    first = [_vote(track, amy) for _ in range(3)]
    for _ in range(3):
        _vote(track, ben, side="right")
    gold_comparison = TrackItem.objects.filter(track=track).first().comparison
    GoldAnswer.objects.create(
        comparison=gold_comparison, criterion=track.criterion, answer="B", source="admin"
    )
    amy_rater = first[0].rater
    Judgment.objects.create(
        comparison=gold_comparison,
        criterion=track.criterion,
        choice="A",
        shown_left="A",
        rater=amy_rater,
        track=track,
        is_gold=True,
        response_ms=8000,
    )
    original = first[1]
    Judgment.objects.create(
        comparison_id=original.comparison_id,
        criterion=track.criterion,
        choice=original.choice,
        shown_left="B" if original.shown_left == "A" else "A",
        rater=amy_rater,
        track=track,
        is_repeat=True,
        repeat_of=original,
    )
    return track, amy, ben, first


def test_the_judgments_frame_has_the_quality_columns_in_the_order_given(voted, django_assert_num_queries):
    track, _amy, _ben, first = voted
    with django_assert_num_queries(1):
        frame = selectors.track_quality_judgments(track=track)

    assert list(frame.columns) == list(JUDGMENT_COLUMNS)
    assert len(frame) == 8
    amy_rows = frame[frame["rater"] == first[0].rater_id]
    assert list(amy_rows["item"][:3]) == [j.comparison_id for j in first]  # chronological
    gold = frame[frame["is_gold"]]
    assert list(gold["gold_answer"]) == ["B"] and gold["choice"].item() == "A"
    assert frame[~frame["is_gold"]]["gold_answer"].isna().all()
    repeat = frame[frame["is_repeat"]]
    assert repeat["repeat_choice_same"].tolist() == [True]
    assert frame[~frame["is_repeat"]]["repeat_choice_same"].isna().all()
    assert (frame["duration_ms"] > 0).all() and frame["response_ms"].iloc[0] == 9100.0


def test_the_report_stores_every_rater_with_json_safe_figures(voted, study_admin):
    track, _amy, ben, first = voted
    track_seat_exclude(seat=TrackSeat.objects.get(track=track, user=ben), by=study_admin, reason="checked")

    report = quality_report_compute(scope=track_scope(track))

    assert (report.status, report.progress, report.judgments) == (QualityReport.Status.DONE, 1.0, 8)
    assert report.computed_at is not None
    rows = {row["rater"]: row for row in report.raters}
    amy_row, ben_row = rows[first[0].rater_id], rows[TrackSeat.objects.get(user=ben).rater_id]
    assert (amy_row["gold_n"], amy_row["gold_correct"], amy_row["repeats_same"]) == (1, 0, 1)
    assert ben_row["excluded"] is True and amy_row["excluded"] is False
    assert ben_row["gold_accuracy"] is None  # NaN (no gold answered) stored as null
    json.dumps(report.raters, allow_nan=False)  # strict JSON: no NaN anywhere
    assert not any(isinstance(v, float) and math.isnan(v) for row in report.raters for v in row.values())


def test_a_track_without_judgments_gets_an_empty_table(study_admin):
    track = make_track(methods=2)
    report = quality_report_compute(scope=track_scope(track))
    assert (report.status, report.raters, report.judgments) == ("done", [], 0)


def test_the_task_computes_the_report_of_its_scope(voted):
    track = voted[0]
    quality_report_task.apply(args=[f"track:{track.pk}"])
    report = QualityReport.objects.get(scope=f"track:{track.pk}")
    assert report.status == QualityReport.Status.DONE and len(report.raters) == 2


def test_the_frame_reads_pandas_types_quality_fit_accepts(voted):
    frame = selectors.track_quality_judgments(track=voted[0])
    assert frame["is_gold"].dtype == bool and frame["repeat_choice_same"].dtype == pd.BooleanDtype()
