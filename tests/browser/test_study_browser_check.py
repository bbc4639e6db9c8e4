"""The browser check on a study's first page: a clip must play and the window must be desktop-sized
before consent is offered."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.models import Participant
from tests.studies.conftest import build_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp")


@pytest.fixture
def join_url(live_server) -> str:
    study = make_study(build_catalog(baselines=1, identities=1, prompts=1), matchups_per_participant=2)
    return f"{live_server.url}/s/{study.public_slug}/"


def test_a_too_narrow_window_is_told_it_cannot_take_part(chromium, csp_watch, join_url):
    context = chromium.new_context(viewport={"width": 800, "height": 700})
    csp_watch.watch(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(join_url)
    problem = page.get_by_role("alert").filter(has_text="You cannot take part with this browser or window")
    problem.wait_for()
    assert "make the window wider" in problem.inner_text()
    assert "800 pixels wide" in page.locator("[data-check=window]").inner_text()
    page.locator("[data-check=video][data-state=ok]").wait_for()  # the clip itself plays
    assert page.get_by_role("button", name="Continue to consent").is_hidden()
    page.screenshot(path=SHOTS / "study_browser_check_narrow.png", full_page=True)

    # Widening the window is enough: the page checks again by itself.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Continue to consent").wait_for()
    assert problem.is_hidden()
    context.close()


def test_a_desktop_window_that_plays_the_clip_gets_to_consent(page, join_url):
    page.goto(join_url)
    page.locator("[data-browser-check][data-result=passed]").wait_for()
    assert page.locator("[data-check=video]").get_attribute("data-state") == "ok"
    page.screenshot(path=SHOTS / "study_browser_check_passed.png", full_page=True)
    page.get_by_role("button", name="Continue to consent").click()
    page.get_by_role("heading", name="Your consent").wait_for()
    assert Participant.objects.filter(status=Participant.Status.JOINED).count() == 1


def test_without_javascript_the_page_says_javascript_is_needed_and_offers_no_consent(chromium, join_url):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    page.goto(join_url)
    assert page.get_by_text("This study needs JavaScript.").is_visible()
    assert page.get_by_role("button", name="Continue to consent").is_hidden()
    context.close()
