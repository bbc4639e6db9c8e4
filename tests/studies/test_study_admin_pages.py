"""The study admin's pages: closing asks first, personal links to copy, times that fit the study, how
answers are counted, flash messages that go away."""

from __future__ import annotations

from studies import presets, selectors
from studies.models import Study
from tests.studies.conftest import make_study, take_part


def test_closing_a_study_asks_for_confirmation_and_states_the_consequences(catalog, admin_client):
    study = make_study(catalog)
    take_part(study)
    detail = admin_client.get(f"/studies/{study.pk}/").content.decode()
    assert f'href="/studies/{study.pk}/close/"' in detail

    unconfirmed = admin_client.post(f"/studies/{study.pk}/status/", {"status": "closed"})
    assert unconfirmed["Location"] == f"/studies/{study.pk}/close/"
    assert Study.objects.get(pk=study.pk).status == Study.Status.OPEN

    page = admin_client.get(f"/studies/{study.pk}/close/").content.decode()
    assert "turns away anyone who opens its public or personal links" in page
    assert "<strong>1</strong> participant still answering" in page
    assert "keeps every answer given so far" in page and "You can reopen it later" in page

    admin_client.post(f"/studies/{study.pk}/status/", {"status": "closed", "confirmed": "yes"})
    assert Study.objects.get(pk=study.pk).status == Study.Status.CLOSED
    assert admin_client.get(f"/studies/{study.pk}/close/")["Location"] == f"/studies/{study.pk}/"


def test_personal_links_are_shown_as_full_addresses_with_a_copy_button(catalog, admin_client):
    study = make_study(catalog)
    admin_client.post(f"/studies/{study.pk}/links/", {"count": 2})
    page = admin_client.get(f"/studies/{study.pk}/").content.decode()
    for participant in study.participants.all():
        assert f'value="http://testserver/s/i/{participant.token}/"' in page
        assert f'data-copy="link-{participant.pk}"' in page
    fragment = admin_client.post(f"/studies/{study.pk}/links/", {"count": 1}, HTTP_HX_REQUEST="true")
    assert b'value="http://testserver/s/i/' in fragment.content and b"<html" not in fragment.content


def test_the_time_estimate_follows_the_number_of_matchups_and_the_videos_length(catalog, admin_client):
    assert presets.minutes_estimate(40) == "20–30"
    assert presets.minutes_estimate(12) == "6–9"
    assert presets.minutes_estimate(10, watch_seconds=60) == "13–20"  # long videos take longer
    study = make_study(catalog, matchups_per_participant=12)
    assert "About 6–9 minutes" in selectors.study_texts(study=study)["instructions"]
    edit = admin_client.get(f"/studies/{study.pk}/edit/").content.decode()
    assert "This study&#x27;s 12 take about 6–9 minutes" in edit
    assert "20–30" not in edit
    assert "20–30" not in admin_client.get("/studies/new/").content.decode()


def test_the_results_page_explains_how_answers_are_counted_and_joined(catalog, admin_client):
    study = make_study(catalog)
    page = admin_client.get(f"/studies/{study.pk}/results/").content.decode()
    assert "How answers are counted and joined" in page
    assert "answers to gold and repeated matchups" in page


def test_a_flash_message_is_shown_once_and_can_be_dismissed(catalog, admin_client):
    study = make_study(catalog, status=Study.Status.DRAFT)
    shown = admin_client.post(f"/studies/{study.pk}/status/", {"status": "open"}, follow=True)
    page = shown.content.decode()
    assert "The study is now open." in page and "data-dismiss" in page and "js/messages.js" in page
    assert "The study is now open." not in admin_client.get(f"/studies/{study.pk}/").content.decode()
