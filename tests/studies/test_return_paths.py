"""A study's return paths to the crowd platform for participants who withdraw or are screened out."""

from __future__ import annotations

import pytest

from studies import services
from studies.errors import StudySetupError
from studies.models import Participant, Study
from tests.studies.conftest import make_study
from tests.studies.test_study_admin_views import edit_post
from tests.studies.test_study_checks import CROWD, answer_failing_gold, checked_study, make_gold


def test_a_withdrawing_participant_gets_the_withdrawal_code_and_is_sent_back(catalog, client):
    study = make_study(
        catalog, withdrawn_code="RETURNED-7", withdrawn_redirect_url="https://crowd.example/return?c=R7"
    )
    base = f"/s/{study.public_slug}/"
    client.post(base, CROWD)
    client.post(f"{base}consent/", {"agree": "on"})
    assert b"RETURNED-7" not in client.get(f"{base}withdraw/").content  # not before withdrawing
    page = client.post(f"{base}withdraw/").content.decode()
    assert "You have withdrawn" in page and "RETURNED-7" in page
    assert 'href="https://crowd.example/return?c=R7"' in page
    assert 'content="15;url=https://crowd.example/return?c=R7"' in page
    assert "You may close this page" not in page


def test_without_a_return_path_the_withdrawn_page_says_the_page_may_be_closed(catalog, client):
    study = make_study(catalog, completion_code="DONE-1", redirect_url="https://crowd.example/done")
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    page = client.post(f"{base}withdraw/").content.decode()
    assert "You may close this page" in page
    assert "DONE-1" not in page and "crowd.example" not in page  # the completion path is not theirs


def test_a_screened_out_participant_is_sent_back_by_the_screened_out_path(catalog, client):
    make_gold(catalog)
    study = checked_study(
        catalog,
        screened_out_code="SCREENED-42",
        screened_out_redirect_url="https://crowd.example/screened",
        completion_code="DONE-1",
        redirect_url="https://crowd.example/done",
    )
    base = f"/s/{study.public_slug}/"
    client.post(base, CROWD)
    client.post(f"{base}consent/", {"agree": "on"})
    participant = Participant.objects.get()
    answer_failing_gold(participant)
    assert participant.status == Participant.Status.SCREENED_OUT
    page = client.get(f"{base}done/").content.decode()
    assert "SCREENED-42" in page and 'href="https://crowd.example/screened"' in page
    assert 'content="15;url=https://crowd.example/screened"' in page
    assert "DONE-1" not in page and "crowd.example/done" not in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("withdrawn_code", "RETURN ED", "Withdrawal code: Use only letters, digits"),
        ("screened_out_code", "SCREEN<42>", "Screened-out code: Use only letters, digits"),
        (
            "withdrawn_redirect_url",
            "ftp://crowd.example/r",
            "Redirect after withdrawing: Enter a web address",
        ),
        (
            "screened_out_redirect_url",
            "javascript:alert(1)",
            "Redirect when screened out: Enter a web address",
        ),
    ],
)
def test_the_service_refuses_a_bad_return_path_and_names_it(catalog, field, value, message):
    study = make_study(catalog)
    with pytest.raises(StudySetupError) as raised:
        services.study_update(study=study, **{field: value})
    assert raised.value.message.startswith(message)
    assert getattr(Study.objects.get(pk=study.pk), field) == ""
    with pytest.raises(StudySetupError):
        make_study(catalog, **{field: value})


def test_the_edit_form_saves_return_paths_and_explains_bad_ones(catalog, admin_client):
    study = make_study(catalog)
    url = f"/studies/{study.pk}/edit/"
    bad = edit_post(
        study, catalog, withdrawn_code="no spaces please", withdrawn_redirect_url="ftp://x.example/"
    )
    response = admin_client.post(url, bad)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Use only letters, digits, “-” and “_” in a code" in page
    assert "Enter a web address starting with https:// or http://." in page
    assert Study.objects.get(pk=study.pk).withdrawn_code == ""

    good = edit_post(
        study,
        catalog,
        withdrawn_code="RETURNED-7",
        withdrawn_redirect_url="crowd.example/return",
        screened_out_redirect_url="https://crowd.example/screened",
    )
    assert admin_client.post(url, good).status_code == 302
    study.refresh_from_db()
    assert study.withdrawn_code == "RETURNED-7"
    assert study.withdrawn_redirect_url == "https://crowd.example/return"
    assert study.screened_out_redirect_url == "https://crowd.example/screened"
    detail = admin_client.get(f"/studies/{study.pk}/").content.decode()
    assert "RETURNED-7" in detail and "https://crowd.example/screened" in detail
