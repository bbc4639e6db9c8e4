"""An admin reads how flicker agrees with the demo's visual-quality answers, switches criterion in place
(htmx), and opens a comparison where people and the metric disagree, in Chromium. The demo's videos are
cartoons: this checks the plumbing, not how well any metric tells identity."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from generation.models import Video
from tests.browser.conftest import sign_in
from tests.factories import make_video_metric

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_reads_the_agreement_switches_criterion_and_opens_a_disagreement(page, live_server):
    demo = ("--identities", "2", "--prompts", "2", "--size", "64", "--frames", "8", "--workers", "1")
    call_command("seed_demo", *demo, "--with-votes")
    # Stand-ins for what the metrics worker stores: any value per video will do for the plumbing.
    for video in Video.objects.order_by("pk"):
        make_video_metric(video, "flicker", (video.pk * 37 % 101) / 1000)
        make_video_metric(video, "face_identity", status="no_face", note="no face on any sampled frame")
    sign_in(page, live_server.url, "admin", "admin")  # the demo's study admin

    page.get_by_role("link", name="Rankings", exact=True).click()
    page.get_by_role("link", name="Metrics against people").click()
    expect(page.get_by_role("heading", name="Every criterion with a metric")).to_be_visible()
    expect(page.locator('[data-caveat="cartoons"]')).to_be_visible()

    page.get_by_role("navigation", name="Criterion").get_by_role("link", name="Visual quality").click()
    expect(page.locator("[data-agreement]")).to_be_visible()
    assert page.url.endswith("criterion=visual_quality")  # htmx pushed the tab's own address
    expect(page.locator("img.heatmap-figure")).to_have_js_property("complete", True)
    assert page.locator("img.heatmap-figure").evaluate("img => img.naturalWidth") > 0
    expect(page.locator("form.ranking-options")).to_have_count(1)  # swapped in place, not nested
    page.screenshot(path="/tmp/metric_agreement_visual_quality.png", full_page=True)

    page.get_by_role("navigation", name="Criterion").get_by_role("link", name="Identity fidelity").click()
    expect(page.locator("[data-reason]")).to_contain_text("no face found")

    page.get_by_role("navigation", name="Criterion").get_by_role("link", name="Visual quality").click()
    page.locator("table.disagreements tbody a").first.click()
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    expect(page.locator('tr[data-metric="flicker"]')).to_be_visible()
    page.screenshot(path="/tmp/metric_agreement_comparison.png", full_page=True)
