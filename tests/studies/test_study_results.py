from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from annotate.models import Choice, Comparison, Judgment, Rater
from annotate.proportions import clustered_rate_interval
from generation.models import Identity, Method
from studies.models import Matchup, Participant, Study
from studies.results import CLUSTER_ROUNDS, CLUSTER_SEED, answers_csv, results_figure, study_results
from tests.studies.conftest import answer_all, make_study, take_part


def hand_wilson(wins: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = wins / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def _judge(comparison: Comparison, criterion: str, *, ours_wins: bool, ours_is_a: bool, rater: Rater) -> None:
    ours_side, other_side = (Choice.A, Choice.B) if ours_is_a else (Choice.B, Choice.A)
    Judgment.objects.create(
        comparison=comparison, criterion=criterion, rater=rater, shown_left="A",
        choice=ours_side if ours_wins else other_side,
    )  # fmt: skip


def test_results_on_a_known_set_of_answers_equal_hand_computed_numbers(catalog):
    """Baseline 1: ours wins 7 of 10 on identity fidelity, 2 of 8 on visual quality; baseline 2: 9 of 12
    on identity fidelity. A withdrawn participant's 5 wins for baseline 1 count nowhere."""
    study = make_study(catalog, matchups_per_participant=3)
    first, second = catalog.baselines[0], catalog.baselines[1]
    participant = take_part(study)  # a participant of this study: their rater is what results read
    rater = participant.rater
    withdrawn = take_part(study, seed=9)
    withdrawn.rater.excluded = True
    withdrawn.rater.save()
    Participant.objects.filter(pk=withdrawn.pk).update(status=Participant.Status.WITHDRAWN)

    def comparison_with(baseline) -> tuple[Comparison, bool]:
        # The participant's 3 matchups meet each baseline once; their comparisons are ours vs that baseline.
        comparison = participant.matchups.get(baseline=baseline).comparison
        return comparison, comparison.video_a.method_id == catalog.ours.pk

    c1, ours_a1 = comparison_with(first)
    c2, ours_a2 = comparison_with(second)
    for k in range(10):
        _judge(c1, "identity_fidelity", ours_wins=k < 7, ours_is_a=ours_a1, rater=rater)
    for k in range(8):
        _judge(c1, "visual_quality", ours_wins=k < 2, ours_is_a=ours_a1, rater=rater)
    for k in range(12):
        _judge(c2, "identity_fidelity", ours_wins=k < 9, ours_is_a=ours_a2, rater=rater)
    for _ in range(5):
        _judge(c1, "identity_fidelity", ours_wins=True, ours_is_a=ours_a1, rater=withdrawn.rater)

    rows = {(r.baseline, r.criterion): r for r in study_results(study=study).rows}
    fidelity_1 = rows[(first.name, "identity_fidelity")]
    assert (fidelity_1.wins, fidelity_1.n) == (7, 10)
    assert fidelity_1.rate == pytest.approx(0.7)
    assert (round(fidelity_1.low, 4), round(fidelity_1.high, 4)) == (0.3968, 0.8922)
    assert fidelity_1.p_value == pytest.approx(0.34375)

    quality_1 = rows[(first.name, "visual_quality")]
    assert (quality_1.wins, quality_1.n) == (2, 8)
    assert (quality_1.low, quality_1.high) == pytest.approx(hand_wilson(2, 8))
    assert quality_1.p_value == pytest.approx(2 * (1 + 8 + 28) / 256)  # P(X<=2) + P(X>=6)

    fidelity_2 = rows[(second.name, "identity_fidelity")]
    assert (fidelity_2.wins, fidelity_2.n) == (9, 12)
    assert (fidelity_2.low, fidelity_2.high) == pytest.approx(hand_wilson(9, 12))
    assert fidelity_2.p_value == pytest.approx(2 * (1 + 12 + 66 + 220) / 4096)

    untouched = rows[(catalog.baselines[2].name, "identity_fidelity")]
    assert untouched.n == 0 and untouched.rate is None

    # Holm over the three cells with answers, the raw p-values kept beside the adjusted ones.
    tested = [fidelity_1, quality_1, fidelity_2]
    expected = multipletests([row.p_value for row in tested], method="holm")[1]
    assert [row.p_holm for row in tested] == pytest.approx(list(expected))
    assert fidelity_1.p_holm > fidelity_1.p_value
    # One participant alone says nothing about how participants differ: the clustered interval is open.
    assert (fidelity_1.participants, fidelity_1.clustered_low, fidelity_1.clustered_high) == (1, 0.0, 1.0)


def test_the_clustered_interval_resamples_participants_and_is_wider_than_wilson_when_they_disagree(catalog):
    """Three participants meet the same baseline: two prefer ours in 9 of 10 answers, one in 1 of 10.
    Wilson counts 30 independent answers; the clustered interval sees three people who disagree."""
    study = make_study(catalog, matchups_per_participant=3)
    baseline = catalog.baselines[0]
    for seed, ours_wins in ((1, 9), (2, 9), (3, 1)):
        participant = take_part(study, seed=seed)
        comparison = participant.matchups.get(baseline=baseline).comparison
        ours_is_a = comparison.video_a.method_id == catalog.ours.pk
        for k in range(10):
            _judge(comparison, "identity_fidelity", ours_wins=k < ours_wins, ours_is_a=ours_is_a,
                   rater=participant.rater)  # fmt: skip

    row = next(
        r
        for r in study_results(study=study).rows
        if (r.baseline, r.criterion) == (baseline.name, "identity_fidelity")
    )
    assert (row.wins, row.n, row.participants) == (19, 30, 3)
    expected = clustered_rate_interval(
        np.array([9, 9, 1]), np.array([10, 10, 10]), rounds=CLUSTER_ROUNDS, seed=CLUSTER_SEED
    )
    assert (row.clustered_low, row.clustered_high) == pytest.approx(expected)
    assert row.clustered_high - row.clustered_low > 1.5 * (row.high - row.low)


def test_participation_and_timing_numbers(catalog):
    study = make_study(catalog, matchups_per_participant=2)
    answer_all(take_part(study, seed=1), elapsed_ms=4000)
    answer_all(take_part(study, seed=2), elapsed_ms=6000)
    take_part(study, seed=3)
    results = study_results(study=study)
    assert results.participants["started"] == 3
    assert results.participants["completed"] == 2
    assert results.participants["active"] == 1
    assert results.median_matchup_seconds == pytest.approx(5.0)
    assert results.median_participant_minutes is not None


@pytest.mark.parametrize(("fmt", "magic"), [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_the_figure_renders_in_every_format(catalog, fmt, magic):
    study = make_study(catalog, matchups_per_participant=3)
    answer_all(take_part(study))
    content = results_figure(study_results(study=study), fmt=fmt)
    assert content.startswith(magic)
    if fmt == "svg":  # text stays text, so the figure can be edited for the paper
        assert b"fidelity" in content and b"preferred (%)" in content


def test_the_raw_answers_csv_holds_no_personal_data_and_hashes_participants(catalog):
    study = make_study(catalog, matchups_per_participant=2)
    participant = take_part(study, crowd={"PROLIFIC_PID": "pid-that-must-not-leak"})
    answer_all(participant, pick=0)
    text = answers_csv(study=study)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and len(rows) == participant.matchups.values("answers").count()
    assert "pid-that-must-not-leak" not in text and participant.token not in text
    assert participant.crowd_hash not in text
    assert {row["participant"] for row in rows} == {rows[0]["participant"]}
    assert len(rows[0]["participant"]) == 16 and rows[0]["participant"] != str(participant.pk)
    assert {row["picked"] for row in rows} == {"Left Video"}
    assert all(row["picked_method"] == row["videos_shown"].split(" | ")[0] for row in rows)


def test_a_draft_study_has_empty_results_not_an_error(catalog):
    study = make_study(catalog, status=Study.Status.DRAFT)
    results = study_results(study=study)
    assert all(row.n == 0 for row in results.rows)
    assert results_figure(results, fmt="svg").startswith(b"<?xml")


def test_names_that_a_spreadsheet_would_run_as_formulas_are_quoted_and_numbers_are_left_alone(catalog):
    study = make_study(catalog, matchups_per_participant=2)
    answer_all(take_part(study), pick=0)
    for method in Method.objects.all():
        method.name = f'=HYPERLINK("http://evil.example/","{method.name}")'
        method.save(update_fields=["name"])
    identity = Matchup.objects.filter(participant__study=study).first().identity
    Identity.objects.filter(pk=identity.pk).update(slug="-3")
    rows = list(csv.DictReader(io.StringIO(answers_csv(study=study))))
    assert rows and all(row["picked_method"].startswith("'=HYPERLINK(") for row in rows)
    assert all(row["videos_shown"].startswith("'=HYPERLINK(") for row in rows)
    assert "-3" in {row["identity"] for row in rows}
