from __future__ import annotations

import pytest

from annotate.models import Choice, Judgment
from annotate.proportions import half_width_for, participants_needed
from studies.models import Participant, Study
from studies.power import DEFAULT_ICC, study_icc, study_power_plan
from tests.studies.conftest import make_study, take_part


def lean(participant: Participant, *, ours_wins: int, of: int = 10) -> None:
    """``of`` identity-fidelity answers per baseline, ``ours_wins`` of them for ours: a participant's lean."""
    judgments = []
    for baseline in participant.study.baselines.all():
        comparison = participant.matchups.filter(baseline=baseline).first().comparison
        ours, other = (Choice.A, Choice.B) if comparison.video_a.method_id == participant.study.ours_id else (
            Choice.B, Choice.A)  # fmt: skip
        judgments += [
            Judgment(
                comparison=comparison,
                criterion="identity_fidelity",
                rater=participant.rater,
                shown_left="A",
                choice=ours if k < ours_wins else other,
            )
            for k in range(of)
        ]
    Judgment.objects.bulk_create(judgments)


def test_a_study_without_answers_plans_with_the_default_correlation_and_splits_matchups_over_baselines(
    catalog,
):
    study = make_study(catalog, matchups_per_participant=40, gold_matchups_per_participant=2,
                       repeat_matchups_per_participant=2, target_participants=60)  # fmt: skip
    plan = study_power_plan(study=study, rate=0.6, half_width=0.05)
    assert (plan.icc, plan.icc_from_study) == (DEFAULT_ICC, False)
    assert (plan.real_matchups, plan.baselines) == (36, 3)
    fidelity = next(cell for cell in plan.cells if cell.question == "Identity fidelity")
    assert fidelity.answers_per_participant == 12  # 36 real matchups over 3 baselines
    assert fidelity.participants_needed == participants_needed(0.6, 0.05, 12, DEFAULT_ICC)
    element = next(cell for cell in plan.cells if cell.question == "Element consistency")
    assert element.answers_per_participant == 6  # asked only with the 2 of 4 prompts that keep elements
    assert (plan.current_participants, plan.current_is_target) == (60, True)
    assert fidelity.current_half_width == pytest.approx(half_width_for(0.6, 60, 12, DEFAULT_ICC))
    assert plan.participants_needed == max(cell.participants_needed for cell in plan.cells)


def test_a_correlation_given_by_hand_is_used_as_given(catalog):
    study = make_study(catalog)
    plan = study_power_plan(study=study, rate=0.7, half_width=0.1, icc=0.0)
    fidelity = next(cell for cell in plan.cells if cell.question == "Identity fidelity")
    assert fidelity.participants_needed == participants_needed(0.7, 0.1, 4, 0.0)  # 12 matchups, 3 baselines
    assert plan.current_participants == 0 and fidelity.current_half_width is None


def test_the_correlation_is_estimated_from_the_studys_answers_once_it_has_enough_participants(catalog):
    """Half the participants prefer ours in 9 of 10 answers, half in 1 of 10: their answers lean together
    strongly (about 0.64 = the variance of the leanings, 0.16, over that of one answer, 0.25)."""
    study = make_study(catalog)
    participants = [take_part(study, seed=seed) for seed in range(12)]
    for k, participant in enumerate(participants[:9]):
        lean(participant, ours_wins=9 if k % 2 else 1)
    assert study_icc(study=study) is None  # 9 participants: too few
    for k, participant in enumerate(participants[9:]):
        lean(participant, ours_wins=9 if k % 2 else 1)
    estimate = study_icc(study=study)
    assert estimate is not None and estimate.participants == 12
    assert 0.5 < estimate.icc < 0.8
    plan = study_power_plan(study=study, rate=0.6, half_width=0.05)
    assert plan.icc_from_study and plan.icc == estimate.icc
    assert (plan.current_participants, plan.current_is_target) == (12, False)


def test_the_study_page_shows_the_planner_with_its_defaults(catalog, admin_client):
    study = make_study(catalog, status=Study.Status.DRAFT)
    page = admin_client.get(f"/studies/{study.pk}/").content.decode()
    # Identity fidelity: 4 answers per participant and baseline; element consistency is asked only with the
    # 2 of 4 prompts that keep hairstyle or clothing, so 2, and it decides the study's total.
    assert f'<td class="num" data-needed>{participants_needed(0.6, 0.05, 4, DEFAULT_ICC)}<' in page
    expected = participants_needed(0.6, 0.05, 2, DEFAULT_ICC)
    assert 'id="power"' in page and f'data-stat="participants-needed">{expected}<' in page
    assert "the default (this study has too few participants" in page


def test_the_planner_answers_htmx_with_its_fragment_alone(catalog, admin_client):
    study = make_study(catalog)
    response = admin_client.get(
        f"/studies/{study.pk}/power/",
        {"rate": "0.65", "half_width": "0.08", "icc": "0.2"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith("{#") is False
    assert "<html" not in body and body.strip().startswith('<section class="card" id="power">')
    assert f'data-stat="participants-needed">{participants_needed(0.65, 0.08, 2, 0.2)}<' in body
    assert "as entered" in body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", "1", "The expected win rate must lie between 0 and 1, both excluded."),
        ("rate", "0", "The expected win rate must lie between 0 and 1, both excluded."),
        ("rate", "many", "Enter a number."),
        ("half_width", "0.5", "The half-width must lie between 0 and 0.5, both excluded."),
        ("half_width", "-0.1", "The half-width must lie between 0 and 0.5, both excluded."),
        ("icc", "1", "The correlation must be at least 0 and below 1."),
        ("icc", "-0.2", "The correlation must be at least 0 and below 1."),
        ("icc", "nan", "Enter a number."),
    ],
)
def test_impossible_planner_inputs_get_a_400_that_names_them(catalog, admin_client, field, value, message):
    study = make_study(catalog)
    response = admin_client.get(f"/studies/{study.pk}/power/", {field: value}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert message in response.content.decode()
    page = admin_client.get(f"/studies/{study.pk}/", {field: value})
    assert page.status_code == 400 and message in page.content.decode()


def test_without_htmx_the_planner_sends_to_the_study_page_with_its_inputs(catalog, admin_client):
    study = make_study(catalog)
    response = admin_client.get(f"/studies/{study.pk}/power/", {"rate": "0.7"})
    assert response.status_code == 302
    assert response["Location"] == f"/studies/{study.pk}/?rate=0.7#power"


def test_an_outsider_gets_a_404_from_the_planner(catalog, outsider_client):
    study = make_study(catalog)
    assert outsider_client.get(f"/studies/{study.pk}/power/", HTTP_HX_REQUEST="true").status_code == 404
