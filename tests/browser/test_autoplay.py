"""The next pair starts by itself: vote, watch, vote with the keyboard alone, unless the annotator said no."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from annotate.models import AnnotatorSettings, Judgment, Track
from annotate.selectors import annotator_autoplay_next
from tests.annotate.test_views import make_track_with_references
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

PLAYING = '.ab-player [data-action="play"][data-playing]'


def _panel_for(page, done: int) -> None:
    expect(page.get_by_text(f"{done} done ·")).to_be_visible()


def test_with_the_setting_on_each_pair_plays_by_itself_so_the_keyboard_alone_votes_twice(
    page, live_server, annotator
):
    # Two-second videos under the default watch rule (each played through): a vote needs playback.
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=16)
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    expect(page.get_by_role("checkbox", name="Autoplay")).to_be_checked()  # on by default

    for done, key in ((0, "ArrowLeft"), (1, "ArrowRight")):
        _panel_for(page, done)
        page.locator(PLAYING).wait_for()  # started without a click or a key
        expect(page.get_by_role("button", name="Left", exact=True)).to_be_enabled(timeout=15_000)
        page.keyboard.press(key)
    _panel_for(page, 2)
    page.screenshot(path="/tmp/annotate_autoplay.png", full_page=True)

    assert Judgment.objects.count() == 2
    assert all(j.watched_a > 0.9 and j.watched_b > 0.9 for j in Judgment.objects.all())


def test_turned_off_with_its_key_the_setting_is_stored_and_the_next_pair_waits_for_play(
    page, live_server, annotator
):
    track = make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=16, min_watch_fraction=0
    )
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    page.locator(PLAYING).wait_for()
    page.keyboard.press("a")  # the box is reachable from the keyboard, and saved without a reload
    expect(page.get_by_role("checkbox", name="Autoplay")).not_to_be_checked()
    deadline = time.monotonic() + 10
    while annotator_autoplay_next(user=annotator):
        assert time.monotonic() < deadline, "the setting was not saved"
        time.sleep(0.05)

    page.keyboard.press("ArrowLeft")  # the next pair, in the same page
    _panel_for(page, 1)
    play = page.get_by_role("button", name="Play", exact=True)
    expect(play).to_be_enabled()  # both videos can play, and yet they wait
    page.wait_for_timeout(1000)
    expect(page.locator(PLAYING)).to_have_count(0)
    assert page.locator('video[data-side="left"]').evaluate(
        "video => video.paused && video.currentTime === 0"
    )

    page.reload()  # stored for the user, not only for this page
    expect(page.get_by_role("checkbox", name="Autoplay")).not_to_be_checked()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()
    page.wait_for_timeout(1000)
    expect(page.locator(PLAYING)).to_have_count(0)
    assert AnnotatorSettings.objects.get(user=annotator).autoplay_next is False
