"""The identity track's gallery grouped by viewpoint, as an annotator sees it on a laptop screen."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from PIL import Image

from annotate.models import Track
from generation.models import Reference
from generation.services import reference_create
from tests.annotate.test_views import make_track_with_references
from tests.browser.conftest import sign_in
from tests.browser.test_screen_fit import in_view_without_scrolling

pytestmark = pytest.mark.django_db(transaction=True)

SHOT = Path("/tmp/reference_gallery_1366x768.png")


def test_the_gallery_shows_each_viewpoint_under_its_label_with_the_vote_in_view(page, live_server, annotator):
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=8)
    identity = track.comparisons.first().identity
    Reference.objects.filter(identity=identity, kind="face").update(viewpoint="front")
    Reference.objects.filter(identity=identity, kind="portrait").update(viewpoint="three_quarter_left")
    with tempfile.TemporaryDirectory() as folder:
        for position, (viewpoint, colour) in enumerate(
            [("front", (90, 160, 90)), ("profile_right", (160, 90, 160)), ("back", (90, 90, 160))], start=3
        ):
            path = Path(folder) / f"{viewpoint}.png"
            Image.new("RGB", (40, 96), colour).save(path)
            reference_create(
                identity=identity,
                kind="full_body",
                viewpoint=viewpoint,
                in_three_view=True,
                source=path,
                position=position,
            )
    page.set_viewport_size({"width": 1366, "height": 657})  # a 1366×768 screen less the browser's bars
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    page.locator("details.instructions summary").click()
    page.locator(".ab-videos video").first.wait_for()
    page.wait_for_load_state("load")
    page.screenshot(path=SHOT)

    labels = page.locator(".references .view-label")
    assert labels.all_inner_texts() == ["Front", "Three-quarter", "Profile", "Back", "Other"]
    assert page.locator(".references .reference").count() == 6
    # Each group's pictures stand below its label.
    front = labels.nth(0).bounding_box()
    first_reference = page.locator(".references .reference").first.bounding_box()
    assert front["y"] < first_reference["y"]
    inside, where = in_view_without_scrolling(page, page.locator(".vote-buttons"))
    assert inside, where
