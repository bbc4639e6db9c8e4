from __future__ import annotations

import pytest
from django.core.management import call_command

from generation.models import Video
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_seeded_video_plays_on_its_admin_page(page, live_server):
    call_command("seed_demo", "--identities", "1", "--prompts", "1", "--size", "96", "--frames", "16")
    video = Video.objects.filter(method__role="ours").first()

    sign_in(page, live_server.url, "admin", "admin")  # the demo's study admin
    page.goto(f"{live_server.url}/admin/generation/video/{video.pk}/change/")
    player = page.locator("video.admin-player")
    player.wait_for()
    page.wait_for_function("document.querySelector('video.admin-player').readyState >= 2")
    state = player.evaluate(
        "v => ({ready: v.readyState, duration: v.duration, error: v.error && v.error.code})"
    )
    assert state["error"] is None
    assert state["ready"] >= 2
    assert state["duration"] > 0
    page.screenshot(path="/tmp/admin_video.png")
