"""The study's statistics in Chromium: both intervals and both p-values on the results page, and the power
planner answering in place on the study page."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.studies.conftest import answer_all, build_catalog, make_study, take_part

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp")


def test_an_admin_reads_both_intervals_and_plans_participants_in_place(live_server, page):
    catalog = build_catalog()
    study = make_study(catalog, matchups_per_participant=12)
    for seed in range(4):
        answer_all(take_part(study, seed=seed), pick=seed % 2)
    User.objects.create_user("stats-admin", password="pw-stats-admin", is_staff=True)
    sign_in(page, live_server.url, "stats-admin", "pw-stats-admin")

    page.goto(f"{live_server.url}/studies/{study.pk}/results/")
    assert page.locator("th", has_text="(participants)").count() == 1
    assert page.locator("th", has_text="p (Holm)").count() == 1
    assert "resamples participants" in page.locator(".results-legend").inner_text()
    page.screenshot(path=SHOTS / "study_results_statistics.png", full_page=True, caret="initial")

    page.goto(f"{live_server.url}/studies/{study.pk}/")
    planner = page.locator("#power")
    before = planner.locator('[data-stat="participants-needed"]').inner_text()
    planner.get_by_label("Wanted half-width").fill("0.1")
    planner.get_by_role("button", name="Plan").click()
    expect(page.locator('#power [data-stat="participants-needed"]')).not_to_have_text(before)
    assert int(page.locator('#power [data-stat="participants-needed"]').inner_text()) < int(before)
    assert page.url.endswith(f"/studies/{study.pk}/")  # swapped in place, no navigation
    planner = page.locator("#power")
    planner.get_by_label("Expected win rate").fill("1.5")
    planner.get_by_role("button", name="Plan").click()
    page.locator("#power [role=alert]").wait_for()
    assert "between 0 and 1" in page.locator("#power [role=alert]").inner_text()
    page.screenshot(path=SHOTS / "study_power_error.png", full_page=True, caret="initial")
    planner.get_by_label("Expected win rate").fill("0.6")
    planner.get_by_role("button", name="Plan").click()
    page.locator('#power [data-stat="participants-needed"]').wait_for()
    page.screenshot(path=SHOTS / "study_power.png", full_page=True, caret="initial")
