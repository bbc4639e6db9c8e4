"""A study admin previews a study in Chromium, page by page, and nothing is stored; the study page's
links and the close confirmation are seen as the admin sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from annotate.models import Judgment
from studies import services
from studies.models import Answer, Matchup, Participant, Study
from tests.browser.conftest import sign_in
from tests.studies.conftest import build_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp")


def test_an_admin_previews_every_page_and_nothing_is_stored(page, live_server, tmp_path):
    catalog = build_catalog(baselines=1, identities=1, prompts=2, real_media=tmp_path)
    study = make_study(catalog, name="Preview study", matchups_per_participant=2, completion_code="DONE-7")
    services.invitations_create(study=study, count=2)
    User.objects.create_user("study-admin-p", password="pw-study-admin-p", is_staff=True)
    sign_in(page, live_server.url, "study-admin-p", "pw-study-admin-p")
    invited = Participant.objects.count()

    page.goto(f"{live_server.url}/studies/{study.pk}/")
    page.get_by_role("button", name="Copy").first.wait_for()
    page.screenshot(path=SHOTS / "study_detail_links.png", full_page=True)
    page.get_by_role("link", name="Preview").click()

    page.get_by_role("note").filter(has_text="Preview").wait_for()
    page.get_by_role("button", name="Continue to consent").click()  # shown once the browser check passed
    page.get_by_role("heading", name="Your consent").wait_for()
    page.get_by_label("I have read the information above and agree").check()
    page.get_by_role("button", name="I agree — start the study").click()
    for number in (1, 2):
        page.get_by_text(f"Matchup {number} of 2").wait_for()
        page.locator("fieldset.study-q").first.get_by_text("Left Video", exact=True).click()
        if number == 1:
            page.screenshot(path=SHOTS / "study_preview_matchup.png", full_page=True)
        page.locator("button[data-vote]:enabled").click()  # no watch rule to wait for in a preview
    page.get_by_role("heading", name="Thank you!").wait_for()
    assert page.locator("#completion-code").inner_text() == "DONE-7"
    assert Participant.objects.count() == invited
    assert not Matchup.objects.exists() and not Answer.objects.exists() and not Judgment.objects.exists()

    page.goto(f"{live_server.url}/studies/{study.pk}/")
    page.get_by_role("link", name="Close the study…").click()
    page.get_by_role("heading", name="Close “Preview study”?").wait_for()
    page.screenshot(path=SHOTS / "study_close_confirm.png", full_page=True)
    page.get_by_role("button", name="Yes, close the study").click()
    page.get_by_text("The study is now closed.").wait_for()
    assert Study.objects.get(pk=study.pk).status == Study.Status.CLOSED
    page.screenshot(path=SHOTS / "study_closed_message.png")
    page.get_by_role("button", name="Dismiss this message").click()
    assert page.get_by_text("The study is now closed.").count() == 0
