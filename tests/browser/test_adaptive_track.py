"""A study admin makes an adaptive track in the browser and reads where its comparisons stand."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from annotate.models import Track
from tests.browser.conftest import sign_in
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video

pytestmark = pytest.mark.django_db(transaction=True)

# Where to leave screenshots of the pages, for a person to look at (unset: none are taken).
SHOTS = os.environ.get("SCREENSHOT_DIR", "")


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_study_admin_makes_an_adaptive_track_and_sees_its_comparisons(page, live_server, study_admin):
    identity, prompt = IdentityFactory(), PromptFactory()
    for _ in range(3):
        make_video(method=MethodFactory(), identity=identity, prompt=prompt, frames=2, size=32)
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")

    page.goto(f"{live_server.url}/manage/tracks/new")
    page.get_by_label("Name").fill("Adaptive fidelity")
    page.get_by_label("Until decided", exact=True).check()
    page.get_by_label("Until decided: at least").fill("2")
    page.get_by_label("Until decided: at most").fill("1")
    _shot(page, "track_new_adaptive")
    page.get_by_role("button", name="Create track and build comparisons").click()
    # A minimum above the maximum: refused, naming both, and nothing made.
    expect(page.get_by_role("alert")).to_contain_text(
        "The minimum number of votes (2) is above the maximum (1)."
    )
    assert not Track.objects.exists()

    page.get_by_label("Until decided: at most").fill("5")
    page.get_by_role("button", name="Create track and build comparisons").click()
    expect(page.locator("dl.settings")).to_contain_text("until decided (posterior error < 0.2), 2 to 5 votes")
    expect(page.locator("#track-status")).to_contain_text("0 / 3")
    _shot(page, "track_detail_adaptive")

    page.get_by_role("link", name="Comparisons:").click()
    expect(page.locator("table.grid tbody tr")).to_have_count(3)
    expect(page.locator(".badge.open")).to_have_count(3)
    page.get_by_role("link", name="Decided (0)").click()
    expect(page.get_by_text("No comparison with this status.")).to_be_visible()
    _shot(page, "track_comparisons")
