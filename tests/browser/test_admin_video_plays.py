from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from generation.models import Video
from tests.browser.conftest import sign_in
from tests.factories import make_video

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_seeded_video_plays_on_its_admin_page(page, live_server):
    User.objects.create_user("admin-b", password="pw-admin-b", is_staff=True, is_superuser=True)
    make_video(frames=16, size=64)
    video = Video.objects.get()

    sign_in(page, live_server.url, "admin-b", "pw-admin-b")
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
