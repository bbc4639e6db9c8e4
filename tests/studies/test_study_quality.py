"""The quality page of a study: the judgments in method-pair terms, the stored report with the speed
figures and their flags, participants by short id, Exclude and Include again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotate.models import QualityReport
from annotate.quality import JUDGMENT_COLUMNS
from annotate.quality_reports import quality_report_compute
from annotate.tasks import quality_report_compute as quality_report_task
from studies import services
from studies.models import Matchup, Participant, ParticipantDecision, Study
from studies.quality import study_scope
from studies.selectors import study_excluded_raters, study_quality_judgments
from tests.studies.conftest import make_study, take_part
from tests.studies.test_answers_save import criteria_of
from tests.studies.test_study_checks import make_gold

START = timezone.now() - timedelta(hours=3)


def answer_plan(participant: Participant, *, seconds: float, pick=lambda matchup, k: k % 2) -> None:
    """Answer every matchup ``seconds`` after it was shown (the server's clock); ``pick`` gives the display
    position for the k-th question of a matchup."""
    for matchup in participant.matchups.order_by("position"):
        shown = START + timedelta(minutes=matchup.position)
        services.matchup_shown(matchup=matchup, now=shown)
        picks = {c: pick(matchup, k) for k, c in enumerate(criteria_of(matchup))}
        services.answers_save(
            participant=participant,
            matchup_id=matchup.pk,
            picks=picks,
            now=shown + timedelta(seconds=seconds),
        )


@pytest.fixture
def study(catalog) -> Study:
    make_gold(catalog)
    return make_study(
        catalog,
        matchups_per_participant=12,
        gold_matchups_per_participant=2,
        repeat_matchups_per_participant=2,
    )


@pytest.fixture
def people(study):
    """careful (mixed sides, 5 s a page), left (always the left video, 5 s), fast (mixed, 0.1 s), and
    one who withdrew after answering."""
    careful, left, fast, gone = (take_part(study, seed=k) for k in range(4))
    answer_plan(careful, seconds=5)
    answer_plan(left, seconds=5, pick=lambda matchup, k: 0)
    answer_plan(fast, seconds=0.1)
    answer_plan(gone, seconds=5)
    services.participant_withdraw(participant=gone)
    return {"careful": careful, "left": left, "fast": fast, "gone": gone}


def code(participant: Participant) -> str:
    return services.participant_code(study_id=participant.study_id, participant_id=participant.pk)


def test_the_judgments_are_in_method_pair_terms_with_ours_as_a_and_withdrawn_answers_left_out(study, people):
    frame = study_quality_judgments(study=study)
    assert list(frame.columns) == [*JUDGMENT_COLUMNS, "contrast_item"]
    raters = {p.rater_id for p in people.values()}
    assert set(frame["rater"]) == raters - {people["gone"].rater_id}
    real = frame[~frame["is_gold"] & ~frame["is_repeat"]]
    assert set(real["contrast_item"]) <= {b.pk for b in study.baselines.all()}
    left = frame[frame["rater"] == people["left"].rater_id]
    assert (left["choice"] == left["shown_left"]).all()  # the side the participant saw is kept
    # "A" is ours: an answer for A picked our video
    for matchup in Matchup.objects.filter(participant=people["careful"], purpose="real").prefetch_related(
        "answers__judgments", "answers__picked_video"
    ):
        for answer in matchup.answers.all():
            judgment = answer.judgments.get()
            row = real[(real["rater"] == judgment.rater_id) & (real["item"] == judgment.comparison_id)]
            row = row[row["criterion"] == answer.criterion]
            picked_ours = answer.picked_video.method_id == study.ours_id
            assert len(row) == 1
            assert (row["choice"] == ("A" if picked_ours else "B")).all()
    gold = frame[frame["is_gold"]]
    assert len(gold) and gold["gold_answer"].notna().any()
    repeats = left[left["is_repeat"]]
    assert len(repeats) and not repeats["repeat_choice_same"].any()  # always Left, sides swapped
    assert (frame["response_ms"] > 0).all() and (frame["duration_ms"] == 250.0).all()


def test_the_report_flags_straight_lining_and_speeders_by_the_studys_rules(study, people):
    report = quality_report_compute(scope=study_scope(study))
    assert report is not None and report.status == QualityReport.Status.DONE
    rows = {row["rater"]: row for row in report.raters}
    assert people["gone"].rater_id not in rows
    left, fast, careful = (rows[people[k].rater_id] for k in ("left", "fast", "careful"))
    assert left["same_side"] == 1.0 and any(f.startswith("straight-lining") for f in left["flags"])
    assert fast["faster_than_videos"] == 1.0 and any(f.startswith("speeder") for f in fast["flags"])
    assert careful["median_seconds"] == pytest.approx(5.0)
    assert not any(f.startswith(("speeder", "straight")) for f in careful["flags"])
    assert left["code"] == code(people["left"])


def test_the_task_computes_the_study_scope(study, people):
    quality_report_task.apply(args=[study_scope(study)])
    report = QualityReport.objects.get(scope=f"study:{study.pk}")
    assert report.status == QualityReport.Status.DONE and len(report.raters) == 3


def test_the_page_shows_participants_by_short_id_with_their_state_and_no_inline_code(
    admin_client: Client, study, people
):
    quality_report_compute(scope=study_scope(study))
    body = admin_client.get(reverse("studies:quality", args=[study.pk])).content.decode()
    for participant in people.values():
        assert code(participant) in body and participant.token not in body
    assert "withdrawn" in body and "straight-lining" in body and "speeder" in body
    assert "style=" not in body and "<script>" not in body
    assert f'<img src="{reverse("studies:quality_figure", args=[study.pk])}"' in body
    assert "at least 10 answered matchups" in body  # the rule is on the legend
    names = re.findall(r'<tr id="rater-\d*">\s*<td>([0-9a-f]{16})</td>', body)
    assert len(names) == 4 and names[-1] == code(people["gone"])  # no figures: last
    figure = admin_client.get(reverse("studies:quality_figure", args=[study.pk]))
    assert figure.status_code == 200 and figure["Content-Type"] == "image/svg+xml"
    detail = admin_client.get(reverse("studies:study_detail", args=[study.pk])).content.decode()
    assert reverse("studies:quality", args=[study.pk]) in detail


def test_recompute_queues_the_study_scope(
    admin_client: Client, study, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(reverse("studies:quality_recompute", args=[study.pk]))
    assert response.status_code == 302 and len(callbacks) == 1
    assert QualityReport.objects.get(scope=f"study:{study.pk}").status == QualityReport.Status.QUEUED
    fragment = admin_client.get(
        reverse("studies:quality_progress", args=[study.pk]), headers={"HX-Request": "true"}
    )
    assert 'id="quality-progress"' in fragment.content.decode() and "<html" not in fragment.content.decode()


def _post(client: Client, study: Study, action: str, participant_id: int, reason: str = ""):
    url = reverse(f"studies:participant_{action}", args=[study.pk, participant_id])
    return client.post(url, {"reason": reason})


def test_excluding_and_including_again_record_who_when_and_why(admin_client: Client, study, people):
    left = people["left"]
    assert _post(admin_client, study, "exclude", left.pk, "always the left video").status_code == 302
    left.rater.refresh_from_db()
    assert left.rater.excluded and left.rater_id in study_excluded_raters(study=study)
    body = admin_client.get(reverse("studies:quality", args=[study.pk])).content.decode()
    assert "Excluded by study-admin" in body and "always the left video" in body and "Include again" in body
    assert _post(admin_client, study, "include", left.pk).status_code == 302
    left.rater.refresh_from_db()
    assert not left.rater.excluded
    assert list(ParticipantDecision.objects.values_list("action", flat=True)) == ["include", "exclude"]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_excluding_without_a_valid_reason_is_a_400_that_says_so_and_changes_nothing(
    admin_client: Client, study, people, reason
):
    response = _post(admin_client, study, "exclude", people["left"].pk, reason)
    assert response.status_code == 400 and "reason" in response.content.decode()
    people["left"].rater.refresh_from_db()
    assert not people["left"].rater.excluded and not ParticipantDecision.objects.exists()


def test_an_unknown_participant_or_one_of_another_study_is_a_404_and_changes_nothing(
    admin_client: Client, study, people, catalog
):
    other = take_part(make_study(catalog, name="Another"), seed=9)
    assert _post(admin_client, study, "exclude", 999999, "x").status_code == 404
    assert _post(admin_client, study, "exclude", other.pk, "x").status_code == 404
    other.rater.refresh_from_db()
    assert not other.rater.excluded and not ParticipantDecision.objects.exists()


def test_a_withdrawn_participant_cannot_be_included_again(admin_client: Client, study, people):
    response = _post(admin_client, study, "include", people["gone"].pk, "please")
    assert response.status_code == 400 and "withdrew" in response.content.decode()
    people["gone"].rater.refresh_from_db()
    assert people["gone"].rater.excluded and not ParticipantDecision.objects.exists()


def test_including_someone_not_excluded_is_a_400(admin_client: Client, study, people):
    response = _post(admin_client, study, "include", people["careful"].pk)
    assert response.status_code == 400 and "not excluded" in response.content.decode()


@pytest.mark.parametrize("name", ["quality", "quality_progress", "quality_figure"])
def test_outsiders_get_a_404(outsider_client: Client, study, name):
    assert outsider_client.get(reverse(f"studies:{name}", args=[study.pk])).status_code == 404
    response = outsider_client.post(
        reverse("studies:participant_exclude", args=[study.pk, 1]), {"reason": "x"}
    )
    assert response.status_code == 404
