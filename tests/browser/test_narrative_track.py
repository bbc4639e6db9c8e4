"""An annotator on a narrative track: two renderings of one story play shot by shot in lockstep."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from annotate.models import AnnotatorSettings, Assignment, Judgment, Track
from annotate.vote_path import canonical_choice
from tests.browser.conftest import sign_in
from tests.factories import make_narrative_track

pytestmark = pytest.mark.django_db(transaction=True)

# Every animation frame: the shot the strip marks and both sides' times, until stopped.
SAMPLE = """() => {
    window.samples = [];
    window.sampling = true;
    const left = document.querySelector('video[data-side=left]');
    const right = document.querySelector('video[data-side=right]');
    const step = () => {
        const current = document.querySelector('.shot-strip [aria-current]');
        window.samples.push([parseInt(current.dataset.shot, 10), left.currentTime, right.currentTime]);
        if (window.sampling) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
}"""

PLAYING = "() => document.querySelector('[data-action=play]').hasAttribute('data-playing')"
STOPPED = "() => !document.querySelector('[data-action=play]').hasAttribute('data-playing')"


def _starts(page, side: str) -> list[float]:
    return [float(t) for t in page.get_attribute("[data-ab-player]", f"data-shots-{side}").split()]


def _times(page) -> tuple[float, float]:
    return tuple(page.evaluate("[...document.querySelectorAll('video[data-side]')].map(v => v.currentTime)"))


def test_both_sides_play_shot_by_shot_together_and_voting_waits_for_every_shot(page, live_server, annotator):
    # Shots of 1, 1, 1 s against 0.5, 1, 1.5 s (8 fps). A rule of half of each video: the server's
    # record alone is met by shots 2 and 3; every shot must still have played on both sides.
    track = make_narrative_track(
        kind=Track.Kind.NARRATIVE_ADHERENCE, annotators=[annotator], min_watch_fraction=0.5, votes_needed=1
    )
    prompts = track.comparisons.get().video_a.rendering.story.shot_prompts()
    AnnotatorSettings.objects.create(user=annotator, autoplay_next=False)
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")

    strip = page.locator(".shot-strip button")
    expect(strip).to_have_text(["Shot 1", "Shot 2", "Shot 3"])
    expect(page.locator(".story-prompts li")).to_have_count(3)
    for item, prompt in zip(page.locator(".story-prompts li").all(), prompts, strict=True):
        expect(item).to_contain_text(prompt.full_text)
    html = page.content()
    for method in Track.objects.get().comparisons.values_list(
        "video_a__method__name", "video_b__method__name"
    ):
        assert method[0] not in html and method[1] not in html
    vote = page.get_by_role("button", name="Left", exact=True)
    expect(vote).to_be_disabled()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()
    left, right = _starts(page, "left"), _starts(page, "right")
    assert left != right  # the two renderings' shots differ in length

    # Jumping to shot 2 moves both sides to the start of their own shot 2, and the strip and prompts follow.
    page.keyboard.press("2")
    expect(strip.nth(1)).to_have_attribute("aria-current", "step")
    expect(page.locator(".story-prompts li.current")).to_contain_text(prompts[1].full_text)
    assert _times(page) == pytest.approx((left[1], right[1]), abs=0.01)

    page.evaluate(SAMPLE)
    page.keyboard.press("Space")
    page.wait_for_function(PLAYING)
    page.wait_for_function(STOPPED, timeout=15_000)
    page.evaluate("window.sampling = false")
    samples = page.evaluate("window.samples")

    shots_seen = [shot for n, (shot, _, _) in enumerate(samples) if n == 0 or samples[n - 1][0] != shot]
    assert shots_seen == [1, 2]  # shot 2, then shot 3: the strip followed
    ends = {"left": [*left[1:], 3.0], "right": [*right[1:], 3.0]}
    for shot, at_left, at_right in samples:
        # Each side inside its own shot that the strip marks, never a frame ahead into the next one.
        assert left[shot] - 0.01 <= at_left <= ends["left"][shot] + 0.01
        assert right[shot] - 0.01 <= at_right <= ends["right"][shot] + 0.01
        into_left, into_right = at_left - left[shot], at_right - right[shot]
        shorter = min(ends["left"][shot] - left[shot], ends["right"][shot] - right[shot])
        if max(into_left, into_right) < shorter - 0.15:  # both still playing the shot: together
            assert abs(into_left - into_right) < 0.15

    # Shots 2 and 3 are more than half of each video: the server's record is met, shot 1 is missing.
    assignment = Assignment.objects.get(item__track=track, status=Assignment.Status.OPEN)
    deadline = time.monotonic() + 10
    while (
        min(assignment.watched_a, assignment.watched_b) < track.watch_needed and time.monotonic() < deadline
    ):
        time.sleep(0.2)
        assignment.refresh_from_db()
    assert min(assignment.watched_a, assignment.watched_b) >= track.watch_needed
    page.wait_for_timeout(500)
    expect(vote).to_be_disabled()
    expect(page.locator("[data-role=lock-hint]")).to_have_text(
        "Voting unlocks when every shot of both videos has played."
    )
    page.screenshot(path="/tmp/narrative_track_locked.png")

    strip.nth(0).click()
    expect(strip.nth(0)).to_have_attribute("aria-current", "step")
    assert _times(page) == pytest.approx((0.0, 0.0), abs=0.01)
    page.keyboard.press("Space")
    expect(vote).to_be_enabled(timeout=15_000)
    page.screenshot(path="/tmp/narrative_track_unlocked.png")

    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("heading", name="All done — thank you!")).to_be_visible()  # its one comparison
    judgment = Judgment.objects.get(assignment=assignment)
    assert judgment.choice == canonical_choice(side_choice="left", shown_left=assignment.shown_left)
    assert judgment.shown_left == assignment.shown_left
    assert judgment.criterion == Track.Kind.NARRATIVE_ADHERENCE


def test_the_creation_page_counts_narrative_comparisons_when_a_narrative_kind_is_chosen(
    page, live_server, study_admin
):
    from tests.factories import MethodFactory, make_story, make_story_rendering

    story = make_story()
    for method in (MethodFactory(), MethodFactory()):
        make_story_rendering(story=story, method=method)
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")
    page.goto(f"{live_server.url}/manage/tracks/new")
    preview = page.locator("#comparisons-preview")
    expect(preview).to_contain_text("These choices make no comparison")  # clip kinds pair no rendering

    page.get_by_label("Narrative: continuity").check()
    expect(preview).to_contain_text("These choices make 1 narrative comparison")
    page.screenshot(path="/tmp/narrative_track_new.png", full_page=True)
