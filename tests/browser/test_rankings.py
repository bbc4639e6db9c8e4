"""An admin reads the demo's leaderboard, switches criterion, downloads the figure, and compares two
methods head to head, in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_reads_the_leaderboard_and_compares_two_demo_methods(page, live_server, tmp_path: Path):
    demo = ("--identities", "2", "--prompts", "3", "--size", "64", "--frames", "8", "--workers", "1")
    call_command("seed_demo", *demo, "--with-votes")
    sign_in(page, live_server.url, "admin", "admin")  # the demo's study admin

    page.get_by_role("link", name="Rankings", exact=True).click()
    expect(page.get_by_role("heading", name="All criteria")).to_be_visible()
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(3)  # ours and the two demo baselines
    expect(page.locator("table.leaderboard")).to_contain_text("ours")
    page.screenshot(path="/tmp/rankings_all.png", full_page=True)

    page.get_by_role("navigation", name="Criterion").get_by_role("link", name="Identity fidelity").click()
    board = page.locator('table.leaderboard[data-criterion="identity_fidelity"]')
    expect(board).to_be_visible()
    expect(board.locator("tbody tr")).to_have_count(3)  # ours and the two demo baselines
    expect(page.locator(".fragility")).to_contain_text("judgments")
    expect(page.locator("table.win-matrix tbody th").first).to_have_text("ours")
    # The heatmap is drawn: its image loaded, with a size.
    expect(page.locator("img.heatmap-figure")).to_have_js_property("complete", True)
    assert page.locator("img.heatmap-figure").evaluate("img => img.naturalWidth") > 0
    page.screenshot(path="/tmp/rankings_identity.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="SVG").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "win-rates-identity_fidelity.svg"
    assert saved.read_text().startswith("<?xml") and "ours" in saved.read_text()

    page.get_by_role("link", name="Checkpoint against checkpoint").click()
    page.get_by_label("New method").select_option(label="ours")
    page.get_by_label("Against (old)").select_option(label="baseline-rigid")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="ours against baseline-rigid")).to_be_visible()
    row = page.locator('table.checkpoint-table tr[data-criterion="identity_fidelity"]')
    expect(row).to_be_visible()
    page.screenshot(path="/tmp/rankings_checkpoints.png", full_page=True)
