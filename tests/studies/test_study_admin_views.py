from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import Method, Video
from studies.models import Question, Study
from studies.results import study_results
from tests.studies.conftest import answer_all, make_study, take_part


def design_post(catalog, **overrides) -> dict:
    data = {
        "name": "Spring study",
        "preset": "anyid",
        "ours": catalog.ours.pk,
        "baselines": [b.pk for b in catalog.baselines],
        "identities": [i.pk for i in getattr(catalog, "identities", [])],
        "prompts": [p.pk for p in getattr(catalog, "prompts", [])],
        "stories": [s.pk for s in getattr(catalog, "stories", [])],
        "matchups_per_participant": 40,
        "element_policy": "where_applies",
        "element_percent": 50,
        "min_watch_fraction": 1,
        "gold_matchups_per_participant": 2,
        "repeat_matchups_per_participant": 2,
        "screen_out_after_failed_gold": 2,
        "screened_out_code": "",
        "public_join": "on",
        "completion_code": "",
        "redirect_url": "",
        "contact": "",
        "target_participants": "",
    }
    data.update(overrides)
    return data


def edit_post(study: Study, catalog, **overrides) -> dict:
    data = design_post(catalog, instructions=study.instructions, consent_text=study.consent_text)
    for question in study.questions.all():
        data[f"q_{question.criterion}_text"] = question.text
        data[f"q_{question.criterion}_hint"] = question.hint
    data.update(overrides)
    return data


@pytest.mark.parametrize("url", ["/studies/", "/studies/new/"])
def test_study_pages_are_for_staff_only(catalog, outsider_client, url):
    assert Client().get(url)["Location"].startswith("/accounts/login/")
    assert outsider_client.get(url).status_code == 404


def test_an_outsider_gets_a_404_for_every_page_of_a_study(catalog, outsider_client):
    study = make_study(catalog)
    suffixes = ("", "edit/", "results/", "results/figure.svg", "results/answers.csv", "results/table.csv")
    for suffix in (*suffixes, "links.csv"):
        assert outsider_client.get(f"/studies/{study.pk}/{suffix}").status_code == 404
    assert outsider_client.post(f"/studies/{study.pk}/status/", {"status": "closed"}).status_code == 404


def test_the_new_study_form_starts_from_the_catalog_roles(catalog, admin_client):
    page = admin_client.get("/studies/new/").content.decode()
    assert f'value="{catalog.ours.pk}" selected' in page or f'value="{catalog.ours.pk}"  selected' in page
    assert "Four questions (AnyID-style)" in page and "PersonalVideo" in page and "Concat-ID" in page


def test_creating_a_study_gives_a_draft_with_the_presets_questions_and_default_texts(catalog, admin_client):
    response = admin_client.post("/studies/new/", design_post(catalog, preset="concatid"))
    study = Study.objects.get()
    assert response["Location"] == f"/studies/{study.pk}/"
    assert study.status == Study.Status.DRAFT and study.format == Study.Format.PAIRWISE
    assert list(study.questions.values_list("criterion", flat=True)) == [
        "identity_consistency",
        "facial_motion_alignment",
        "facial_motion_naturalness",
    ]
    assert "withdraw" in study.instructions and "voluntary" in study.instructions.lower()
    assert "agree" in study.consent_text


def test_the_form_refuses_ours_as_its_own_baseline(catalog, admin_client):
    response = admin_client.post("/studies/new/", design_post(catalog, baselines=[catalog.ours.pk]))
    assert response.status_code == 200 and not Study.objects.exists()
    assert b"cannot also be a baseline" in response.content


def test_changing_the_kind_of_a_draft_brings_its_questions(catalog, admin_client):
    study = make_study(catalog, status=Study.Status.DRAFT)
    admin_client.post(f"/studies/{study.pk}/edit/", edit_post(study, catalog, preset="personalvideo"))
    study.refresh_from_db()
    assert study.format == Study.Format.BEST_OF_ALL
    assert "dynamic_degree" in study.questions.values_list("criterion", flat=True)


def test_an_open_studys_design_is_frozen_with_a_clear_message(catalog, admin_client):
    study = make_study(catalog)
    page = admin_client.get(f"/studies/{study.pk}/edit/").content.decode()
    assert "design (methods, questions, cases and" in page
    for field in ("matchups_per_participant", "baselines", "preset"):
        assert f'name="{field}"' in page and "disabled" in page
    # A hand-made post that changes the design is ignored by the form (disabled fields keep their value)...
    admin_client.post(
        f"/studies/{study.pk}/edit/",
        edit_post(study, catalog, matchups_per_participant=5, baselines=[catalog.baselines[0].pk]),
    )
    study.refresh_from_db()
    assert study.matchups_per_participant == 12 and study.baselines.count() == 3


def test_the_service_refuses_to_change_an_open_design(catalog):
    from studies import services
    from studies.errors import StudyFrozen

    study = make_study(catalog)
    with pytest.raises(StudyFrozen, match="cannot change"):
        services.study_update(study=study, matchups_per_participant=5)
    with pytest.raises(StudyFrozen):
        services.study_update(study=study, baselines=catalog.baselines[:1])


def test_texts_of_an_open_study_may_still_be_fixed(catalog, admin_client):
    study = make_study(catalog)
    question = study.questions.get(criterion="visual_quality")
    response = admin_client.post(
        f"/studies/{study.pk}/edit/",
        edit_post(
            study,
            catalog,
            instructions="Fixed instructions: {matchups} pages.",
            completion_code="NEWCODE",
            q_visual_quality_text="Which video looks sharper and moves more smoothly?",
        ),
    )
    assert response.status_code == 302
    study.refresh_from_db()
    question.refresh_from_db()
    assert study.instructions.startswith("Fixed instructions")
    assert study.completion_code == "NEWCODE"
    assert question.text == "Which video looks sharper and moves more smoothly?"


def test_a_study_cannot_open_without_videos_for_its_baselines(catalog, admin_client):
    lonely = Method.objects.create(name="no-videos", role=Method.Role.BASELINE)
    study = make_study(catalog, status=Study.Status.DRAFT)
    study.baselines.add(lonely)
    page = admin_client.get(f"/studies/{study.pk}/").content.decode()
    assert "No case has videos of ours" in page.replace("&quot;", '"') or "No case has videos" in page
    admin_client.post(f"/studies/{study.pk}/status/", {"status": "open"})
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT


def test_opening_and_closing_a_study(catalog, admin_client):
    study = make_study(catalog, status=Study.Status.DRAFT)
    admin_client.post(f"/studies/{study.pk}/status/", {"status": "open"})
    study.refresh_from_db()
    assert study.status == Study.Status.OPEN and study.opened_at
    admin_client.post(f"/studies/{study.pk}/status/", {"status": "closed", "confirmed": "yes"})
    study.refresh_from_db()
    assert study.status == Study.Status.CLOSED
    response = admin_client.post(f"/studies/{study.pk}/status/", {"status": "draft"}, follow=True)
    assert b"cannot go back to draft" in response.content
    assert admin_client.post(f"/studies/{study.pk}/status/", {"status": "nonsense"}).status_code == 302


def test_personal_links_come_back_as_a_fragment_for_htmx(catalog, admin_client):
    study = make_study(catalog)
    response = admin_client.post(f"/studies/{study.pk}/links/", {"count": "3"}, HTTP_HX_REQUEST="true")
    text = response.content.decode()
    assert response.status_code == 200
    assert text.lstrip().startswith("{#") is False and 'id="personal-links"' in text
    assert "<html" not in text and text.count("/s/i/") == 3
    assert study.participants.filter(personal_link=True).count() == 3
    bad = admin_client.post(f"/studies/{study.pk}/links/", {"count": "0"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and b"between 1 and 1000" in bad.content


def test_personal_links_download_as_csv(catalog, admin_client):
    study = make_study(catalog)
    admin_client.post(f"/studies/{study.pk}/links/", {"count": "2"})
    response = admin_client.get(f"/studies/{study.pk}/links.csv")
    assert response["Content-Type"] == "text/csv"
    assert response.content.decode().count("http://testserver/s/i/") == 2


def test_the_results_page_shows_numbers_the_figure_and_downloads(catalog, admin_client):
    study = make_study(catalog, matchups_per_participant=3)
    answer_all(take_part(study))
    page = admin_client.get(f"/studies/{study.pk}/results/").content.decode()
    assert 'data-stat="completed">1<' in page
    assert "figure.svg?inline=1" in page and "figure.pdf" in page and "answers.csv" in page
    for fmt, kind in (("svg", "image/svg+xml"), ("png", "image/png"), ("pdf", "application/pdf")):
        response = admin_client.get(f"/studies/{study.pk}/results/figure.{fmt}")
        assert response.status_code == 200 and response["Content-Type"] == kind
        assert response["Content-Disposition"].startswith("attachment")
    assert admin_client.get(f"/studies/{study.pk}/results/figure.gif").status_code == 404
    csv_response = admin_client.get(f"/studies/{study.pk}/results/answers.csv")
    assert csv_response.content.decode().startswith("participant,matchup,")


def test_the_results_table_shows_both_intervals_both_p_values_and_says_what_they_are(catalog, admin_client):
    study = make_study(catalog, matchups_per_participant=3)
    for seed in (1, 2, 3):
        answer_all(take_part(study, seed=seed), pick=seed % 2)
    page = admin_client.get(f"/studies/{study.pk}/results/").content.decode()
    assert "95% interval<br>(Wilson)" in page and "95% interval<br>(participants)" in page
    assert "p (binomial)" in page and "p (Holm)" in page
    assert "resamples participants (1000 seeded rounds)" in page
    assert 'data-col="clustered">0.' in page or 'data-col="clustered">1.' in page
    answered = [row for row in study_results(study=study).rows if row.n]
    assert f"for the {len(answered)} baseline × question tests" in page

    response = admin_client.get(f"/studies/{study.pk}/results/table.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == len(study_results(study=study).rows)
    by_key = {(r.question, r.baseline): r for r in answered}
    for row in rows:
        if (row["question"], row["baseline"]) in by_key:
            expected = by_key[(row["question"], row["baseline"])]
            assert float(row["wilson_low"]) == pytest.approx(expected.low, abs=1e-6)
            assert float(row["p_holm"]) == pytest.approx(expected.p_holm, rel=1e-5)
            assert int(row["participants"]) == expected.participants


def test_the_study_list_counts_participants(catalog, admin_client):
    study = make_study(catalog, matchups_per_participant=2)
    answer_all(take_part(study))
    page = admin_client.get("/studies/").content.decode()
    assert study.name in page and "Open" in page


def test_an_unknown_study_is_a_404(admin_client, db):
    assert admin_client.get("/studies/999999/").status_code == 404
    assert admin_client.get("/s/no-such-study/").status_code == 404


def test_questions_keep_their_order(catalog):
    study = make_study(catalog)
    assert list(Question.objects.filter(study=study).values_list("position", flat=True)) == [0, 1, 2, 3]


def test_an_open_studys_title_for_participants_can_be_set_and_replaces_its_name_on_their_pages(
    catalog, admin_client, client
):
    study = make_study(catalog)
    response = admin_client.post(
        f"/studies/{study.pk}/edit/", edit_post(study, catalog, public_title="A short video study")
    )
    assert response.status_code == 302
    study.refresh_from_db()
    assert (study.name, study.public_title) == ("Spring study", "A short video study")
    page = client.get(f"/s/{study.public_slug}/").content.decode()
    assert "A short video study" in page and "Spring study" not in page


@pytest.mark.parametrize("target", ["99999999999999999999", "9999999999", "4294967297", "2147483648"])
def test_a_target_beyond_what_the_column_holds_is_a_form_error(catalog, admin_client, target):
    response = admin_client.post("/studies/new/", design_post(catalog, target_participants=target))
    assert response.status_code == 200 and not Study.objects.exists()
    assert "less than or equal to 2147483647" in response.context["form"].errors["target_participants"][0]


def test_an_edit_with_a_target_beyond_what_the_column_holds_changes_nothing(catalog, admin_client):
    study = make_study(catalog)
    before = study.target_participants
    response = admin_client.post(
        f"/studies/{study.pk}/edit/", edit_post(study, catalog, target_participants="99999999999999999999")
    )
    assert response.status_code == 400 and "target_participants" in response.context["form"].errors
    study.refresh_from_db()
    assert study.target_participants == before


def test_the_largest_target_the_column_holds_is_kept(catalog, admin_client):
    admin_client.post("/studies/new/", design_post(catalog, target_participants="2147483647"))
    assert Study.objects.get().target_participants == 2147483647


def test_the_study_page_warns_when_a_baseline_differs_from_ours_in_size(admin_client, catalog):
    study = make_study(catalog)
    url = reverse("studies:study_detail", args=[study.pk])
    assert "a rater can tell them apart" not in admin_client.get(url).content.decode()
    baseline = catalog.baselines[1]
    Video.objects.filter(method=baseline).update(width=24, height=24)

    page = admin_client.get(url).content.decode()

    assert (
        f"Method {baseline.name}&#x27;s videos are 24×24 while method {catalog.ours.name}&#x27;s are 16×16"
        in page
    )
    assert page.count("a rater can tell them apart") == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", "cannot be above 1"),
        ("-0.2", "cannot be below 0: use 0 for no rule"),
        ("nan", "Enter a number"),
    ],
)
def test_a_watch_rule_outside_zero_to_one_is_a_form_error(catalog, admin_client, value, message):
    response = admin_client.post("/studies/new/", design_post(catalog, min_watch_fraction=value))
    assert response.status_code == 200 and not Study.objects.exists()
    assert message in response.context["form"].errors["min_watch_fraction"][0]


def test_the_watch_rule_is_set_on_the_form_and_shown_on_the_study_page(catalog, admin_client):
    admin_client.post("/studies/new/", design_post(catalog, min_watch_fraction="0.5"))
    study = Study.objects.get()
    assert study.min_watch_fraction == 0.5
    page = admin_client.get(f"/studies/{study.pk}/").content.decode()
    assert "Watch before answering" in page and "50% of each video" in page
