from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotate.models import AnnotatorSettings, Assignment, Judgment, Track
from annotate.vote_path import canonical_choice
from tests.annotate.test_views import make_track_with_references
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

NEXT_PANEL_ARRIVED = """old => {
    const form = document.querySelector('form.vote');
    return form !== null && form.getAttribute('hx-post') !== old;
}"""


@pytest.mark.parametrize(
    ("kind", "key", "clicked"),
    [
        (Track.Kind.IDENTITY_FIDELITY, "ArrowLeft", "left"),
        (Track.Kind.PROMPT_CONTROLLABILITY, "ArrowRight", "right"),
    ],
)
def test_an_annotator_plays_both_videos_and_votes_with_the_keyboard(
    page, live_server, annotator, kind, key, clicked
):
    # 16 frames at 8 fps: two-second videos, so the default rule (each played through once) is quick.
    track = make_track_with_references(kind=kind, annotators=[annotator], frames=16)
    prompt = track.comparisons.first().prompt
    # Played by hand here: the next pair does not start by itself (tests/browser/test_autoplay.py).
    AnnotatorSettings.objects.create(user=annotator, autoplay_next=False)

    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")

    if kind == Track.Kind.IDENTITY_FIDELITY:
        expect(page.locator(".gallery-grid .reference")).to_have_count(3)
        expect(page.locator(".gallery-grid video")).to_have_count(1)
        html = page.content().lower()
        for text in (prompt.full_text, prompt.differential_text, prompt.hairstyle, prompt.setting):
            assert text.lower() not in html
    else:
        expect(page.locator(".primary-ref")).to_have_count(1)
        expect(page.locator(".gallery-grid")).to_have_count(0)
        expect(page.locator(".prompt-text")).to_have_text(prompt.differential_text)
    expect(page.get_by_text("0 done · 3 left")).to_be_visible()

    vote_button = page.get_by_role("button", name=clicked.capitalize(), exact=True)
    expect(vote_button).to_be_disabled()  # nothing has played yet
    page.evaluate("window.samePageMarker = 'still here'")
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled()  # both videos loaded

    page.keyboard.press("Space")
    expect(vote_button).to_be_enabled(timeout=15_000)
    page.screenshot(path=f"/tmp/annotate_{kind}.png", full_page=True)

    assignment = Assignment.objects.filter(item__track=track, status=Assignment.Status.OPEN).order_by(
        "position"
    )[0]
    page.keyboard.press(key)
    page.wait_for_function(NEXT_PANEL_ARRIVED, arg=f"/tracks/{track.pk}/assignments/{assignment.pk}/vote")

    assert page.evaluate("window.samePageMarker") == "still here"  # no full page load
    expect(page.get_by_text("1 done · 2 left")).to_be_visible()
    judgment = Judgment.objects.get(assignment=assignment)
    assert judgment.choice == canonical_choice(side_choice=clicked, shown_left=assignment.shown_left)
    assert judgment.shown_left == assignment.shown_left
    assert judgment.response_ms is not None and judgment.response_ms > 1000
    assert judgment.watched_a > 0.9 and judgment.watched_b > 0.9


def test_undo_brings_the_last_comparison_back_and_a_refused_vote_shows_its_reason(
    page, live_server, annotator
):
    # No watch rule here: the vote buttons are open at once, so this test is about the round trips.
    track = make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=8, min_watch_fraction=0
    )
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    page.evaluate("window.samePageMarker = 'still here'")
    first = Assignment.objects.filter(item__track=track, status=Assignment.Status.OPEN).order_by("position")[
        0
    ]
    first_url = f"/tracks/{track.pk}/assignments/{first.pk}/vote"

    page.get_by_role("button", name="Left", exact=True).click()
    page.wait_for_function(NEXT_PANEL_ARRIVED, arg=first_url)
    page.get_by_role("button", name="Undo last vote").click()
    expect(page.get_by_text("Your last vote was taken back")).to_be_visible()
    assert page.locator("form.vote").get_attribute("hx-post") == first_url
    assert not Judgment.objects.exists()

    Track.objects.filter(pk=track.pk).update(is_paused=True)
    # The panel swapped back in by undo unlocks its votes once its videos are ready; a key pressed
    # before that is ignored, as it should be.
    expect(page.get_by_role("button", name="Right", exact=True)).to_be_enabled()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("alert")).to_contain_text("This track is paused; your vote was not stored.")
    expect(page.get_by_role("heading", name="This track is paused")).to_be_visible()
    assert page.evaluate("window.samePageMarker") == "still here"
    assert not Judgment.objects.exists()
    page.screenshot(path="/tmp/annotate_paused.png", full_page=True)
