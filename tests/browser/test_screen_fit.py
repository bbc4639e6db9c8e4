"""Everything needed to vote fits the screen: at laptop sizes the vote buttons (tracks) and the first
question (studies) are in view without scrolling, and on a large screen the videos grow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tests.factories
from annotate.models import Track
from tests.annotate.test_views import make_track_with_references
from tests.browser.conftest import sign_in
from tests.studies.conftest import build_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp/screen_fit")
# 1366×768 and 1280×720 screens leave about this much page inside a browser window; and a large screen.
LAPTOPS = [(1366, 657), (1280, 650)]
LARGE = (1920, 1080)


def shaped_frames(*, tall: bool):
    """Frames shaped like the demo's portrait videos (704×1280), or like a landscape one, small."""

    def frames(*, count: int = 8, size: int = 64, shade: int = 0) -> list[np.ndarray]:
        long, short = size * 4, round(size * 4 * 704 / 1280 / 2) * 2
        height, width = (long, short) if tall else (short, long)
        made = []
        for index in range(count):
            frame = np.zeros((height, width, 3), dtype=np.uint8)
            frame[..., 0] = (np.arange(width) * 3 + index * 7 + shade) % 256
            frame[..., 1] = (index * 20 + shade) % 256
            frame[..., 2] = (np.arange(height)[:, None] + shade) % 256
            made.append(frame)
        return made

    return frames


@pytest.fixture(params=["portrait", "landscape"])
def orientation(request, monkeypatch) -> str:
    monkeypatch.setattr(tests.factories, "gradient_frames", shaped_frames(tall=request.param == "portrait"))
    return request.param


def in_view_without_scrolling(page, locator) -> tuple[bool, str]:
    box = locator.bounding_box()
    viewport = page.viewport_size
    scrolled = page.evaluate("[window.scrollX, window.scrollY]")
    inside = (
        box is not None
        and scrolled == [0, 0]
        and box["y"] >= 0
        and box["x"] >= 0
        and box["y"] + box["height"] <= viewport["height"]
        and box["x"] + box["width"] <= viewport["width"]
    )
    return inside, f"{box} in {viewport} scrolled {scrolled}"


def close_instructions(page) -> None:
    """Close the instructions and wait until the choice is stored: the details' toggle event stores it
    after the click, and a reload before it would show them open again, above the vote."""
    page.locator("details.instructions summary").click()
    page.wait_for_function(
        "() => Object.keys(localStorage).some(k => k.startsWith('open:') && localStorage[k] === 'closed')"
    )


def video_area(page) -> float:
    boxes = [page.locator(".ab-videos video").nth(k).bounding_box() for k in range(2)]
    return sum(box["width"] * box["height"] for box in boxes if box)


def measure_at_every_size(page, target, name: str) -> None:
    """Loads the page at each size; the target in view at laptop sizes, the videos larger on a big screen."""
    SHOTS.mkdir(exist_ok=True)
    areas = {}
    for width, height in [*LAPTOPS, LARGE]:
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        page.locator(".ab-videos video").first.wait_for()
        page.wait_for_load_state("load")
        page.screenshot(path=SHOTS / f"{name}_{width}x{height}.png")
        areas[(width, height)] = video_area(page)
        if (width, height) in LAPTOPS:
            inside, where = in_view_without_scrolling(page, target())
            assert inside, f"{name} at {width}×{height}: {where}"
    assert areas[LARGE] > 1.5 * areas[LAPTOPS[0]], areas


@pytest.mark.parametrize("kind", [Track.Kind.IDENTITY_FIDELITY, Track.Kind.PROMPT_CONTROLLABILITY])
def test_the_vote_buttons_of_a_track_are_in_view_at_laptop_sizes(
    page, live_server, annotator, orientation, kind
):
    track = make_track_with_references(
        kind=kind, annotators=[annotator], frames=8, allow_tie=True, allow_both_bad=True
    )
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    # The first visit shows how to judge; closed once read, it stays closed on later visits.
    instructions = page.locator("details.instructions")
    assert instructions.get_attribute("open") is not None
    close_instructions(page)
    page.reload()
    assert instructions.get_attribute("open") is None

    def vote_buttons():
        return page.locator(".vote-buttons")

    measure_at_every_size(page, vote_buttons, f"track_{kind}_{orientation}")

    # The references stay within reach: one tabbed to grows over the page.
    reference = page.locator(".reference, .primary-ref").first
    small = reference.locator("img, video").first.bounding_box()
    reference.focus()
    page.wait_for_timeout(400)  # the growth is animated
    large = reference.locator("img, video").first.bounding_box()
    assert large["width"] > 1.8 * small["width"], (small, large)


@pytest.mark.parametrize("kind", [Track.Kind.IDENTITY_CONSISTENCY, Track.Kind.NARRATIVE_ADHERENCE])
@pytest.mark.parametrize("tall", [True, False], ids=["portrait", "landscape"])
def test_a_narrative_comparison_with_its_shot_strip_fits_at_laptop_sizes(
    page, live_server, annotator, kind, tall
):
    shape = (256, 140) if tall else (140, 256)
    track = tests.factories.make_narrative_track(kind=kind, annotators=[annotator], shape=shape)
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    close_instructions(page)  # read once, closed from then on

    for target in (".shot-strip", ".vote-buttons"):
        measure_at_every_size(
            page, lambda t=target: page.locator(t), f"narrative_{kind}_{'tall' if tall else 'wide'}"
        )


@pytest.mark.parametrize("preset", ["pairwise", "personalvideo"])
def test_the_first_question_of_a_matchup_is_in_view_at_laptop_sizes(
    page, live_server, tmp_path, orientation, preset
):
    catalog = build_catalog(baselines=3, identities=1, prompts=1, real_media=tmp_path)
    options = {} if preset == "pairwise" else {"preset": preset}
    study = make_study(catalog, matchups_per_participant=2, min_watch_fraction=1.0, **options)
    page.goto(f"{live_server.url}/s/{study.public_slug}/")
    page.get_by_role("button", name="Continue to consent").click()
    page.get_by_label("I have read the information above and agree").check()
    page.get_by_role("button", name="I agree — start the study").click()
    page.wait_for_url("**/m/1/")

    def first_question():
        return page.locator("fieldset.study-q").first

    measure_at_every_size(page, first_question, f"study_{preset}_{orientation}")
