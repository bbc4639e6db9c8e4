"""The ML team launches story renderings from the job form and finds each rendering's shots on the job
page."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from generation.models import GenerationJob, Method
from generation.services import generation_render
from tests.browser.conftest import sign_in
from tests.factories import MethodFactory
from tests.generation.test_story_render import story_make

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("SCREENSHOT_DIR", "")


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_story_job_is_launched_from_the_form_and_its_page_lists_the_shots(page, live_server, study_admin):
    method = MethodFactory(
        name="cartoon",
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 12},
    )
    story = story_make("rain", shots=3)
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")

    page.goto(f"{live_server.url}/generation/new/")
    page.get_by_label("Method", exact=True).select_option(str(method.pk))
    page.locator(f"input[name='stories'][value='{story.pk}']").check()
    page.get_by_label("Story mode").select_option("autoregressive")
    page.get_by_label("Seeds", exact=True).fill("1")
    _shot(page, "story_job_new")
    page.get_by_role("button", name="Queue the videos").click()
    expect(page.locator("body")).to_contain_text("queued: 1 story renderings")

    job = GenerationJob.objects.get()
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))
    page.reload()
    rendering = page.locator(".rendering-videos")
    expect(rendering).to_contain_text("shot 1")
    expect(rendering).to_contain_text("shot 3")
    expect(rendering).to_contain_text("joined")
    _shot(page, "story_job_detail")
