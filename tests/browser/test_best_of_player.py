"""The best-of-all preset (PersonalVideo-style): every video in the synchronized player, one control bar."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studies.models import Participant
from tests.browser.test_study_flow import join_study
from tests.studies.conftest import build_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

VIDEOS = ".study-player video[data-side]"
# Each video's state, read in one go so that the videos are compared at the same instant.
STATES = "videos => videos.map(v => ({ paused: v.paused, time: v.currentTime, controls: v.controls }))"


def test_the_best_of_all_videos_play_and_pause_together_from_one_control_bar(page, live_server, tmp_path):
    catalog = build_catalog(baselines=3, identities=1, prompts=1, real_media=tmp_path)
    study = make_study(catalog, preset="personalvideo", matchups_per_participant=2, min_watch_fraction=1.0)
    served = join_study(page, f"{live_server.url}/s/{study.public_slug}/")
    assert 'value="next" data-vote disabled' in served  # nothing has played yet

    expect(page.locator(VIDEOS)).to_have_count(4)
    expect(page.locator(".ab-controls")).to_have_count(1)
    play = page.locator('.ab-player [data-action="play"]')
    page.locator('.ab-player [data-action="play"][data-playing]').wait_for()  # started by itself, all four
    states = page.locator(VIDEOS).evaluate_all(STATES)
    assert not any(state["controls"] for state in states)  # no video has controls of its own
    assert not any(state["paused"] for state in states)

    page.locator("button[data-vote]:enabled").wait_for()  # the watch rule: all four played through
    matchup = Participant.objects.get().matchups.get(position=0)
    assert len(matchup.watched) == 4 and min(matchup.watched) > 0.96
    page.screenshot(path="/tmp/study_best_of_player.png", full_page=True)
    play.click()
    expect(play).not_to_have_attribute("data-playing", "")
    states = page.locator(VIDEOS).evaluate_all(STATES)
    assert all(state["paused"] for state in states)
    assert len({round(state["time"], 3) for state in states}) == 1  # paused on the same frame

    # One frame forward moves every video by one frame, together.
    before = states[0]["time"]
    page.get_by_role("button", name="One frame forward").click()
    page.wait_for_timeout(200)
    states = page.locator(VIDEOS).evaluate_all(STATES)
    assert len({round(state["time"], 3) for state in states}) == 1
    assert states[0]["time"] != before

    play.click()
    page.locator('.ab-player [data-action="play"][data-playing]').wait_for()
    assert not any(state["paused"] for state in page.locator(VIDEOS).evaluate_all(STATES))
