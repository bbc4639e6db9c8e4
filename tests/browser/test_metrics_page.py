"""A study admin reads the demo's metrics, starts a catalog run and watches it finish, in Chromium."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from generation.models import Video
from generation.services import video_metrics_compute
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_reads_the_metrics_and_watches_a_catalog_run_finish(page, live_server):
    call_command("seed_demo", "--identities", "1", "--prompts", "2", "--size", "64", "--frames", "8")
    *computed, last = Video.objects.of_methods().order_by("pk")
    for video in computed:
        video_metrics_compute(video_id=video.pk)
    sign_in(page, live_server.url, "admin", "admin")  # the demo's study admin

    page.get_by_role("link", name="Metrics", exact=True).click()
    expect(page.get_by_role("heading", name="Automatic metrics")).to_be_visible()
    expect(page.locator("table.grid").last).to_contain_text("ours")  # the means per method
    page.get_by_role("button", name="Compute the whole catalog").click()
    runs = page.locator("#metric-runs")
    expect(runs).to_contain_text(f"{len(computed)} / {len(computed) + 1}")
    page.screenshot(path="/tmp/metrics_page.png", full_page=True)

    video_metrics_compute(video_id=last.pk)  # as the worker would

    # The runs panel polls by itself until the run is done, then stops.
    expect(runs).to_contain_text(f"{len(computed) + 1} / {len(computed) + 1}", timeout=10_000)
    expect(runs.locator(".badge")).to_have_text(["Done", "Done"])  # this run and seed_demo's
    expect(runs).not_to_have_attribute("hx-trigger", "every 2s")
