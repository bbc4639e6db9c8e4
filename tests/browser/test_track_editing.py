"""A study admin sees, before saving, how many comparisons a new track makes, what a change of votes per
comparison does to a track, and how videos added to a track differ from its own."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from annotate.models import Track, TrackItem
from annotate.vote_path import assignment_next_for, judgment_submit
from tests.browser.conftest import sign_in
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_track, make_video

pytestmark = pytest.mark.django_db(transaction=True)

# Where to leave screenshots of the pages, for a person to look at (unset: none are taken).
SHOTS = os.environ.get("SCREENSHOT_DIR", "")


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_the_creation_page_counts_the_comparisons_as_methods_are_unticked(page, live_server, study_admin):
    identity, prompt = IdentityFactory(), PromptFactory()
    methods = [MethodFactory() for _ in range(3)]
    for method in methods:
        make_video(method=method, identity=identity, prompt=prompt, frames=2, size=32)
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")

    page.goto(f"{live_server.url}/manage/tracks/new")
    preview = page.locator("#comparisons-preview")
    expect(preview).to_contain_text("These choices make 3 comparisons")
    page.locator(f"#list-methods input[value='{methods[2].pk}']").uncheck()
    expect(preview).to_contain_text("These choices make 1 comparison")
    _shot(page, "track_new_preview")
    page.locator("[data-toggle-all='off'][data-target='list-methods']").click()
    expect(preview).to_contain_text("These choices make no comparison")


def test_the_edit_page_says_what_raising_the_votes_reopens_before_saving(page, live_server, study_admin):
    annotators = [User.objects.create_user(f"voter-{n}") for n in range(2)]
    track = make_track(annotators=annotators, methods=2, votes_needed=2, min_watch_fraction=0)
    for user in annotators:
        assignment = assignment_next_for(track=track, user=user)
        judgment_submit(assignment_id=assignment.pk, user=user, side_choice="left", now=assignment.issued_at)
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")

    page.goto(f"{live_server.url}/manage/tracks/{track.pk}/")
    page.get_by_role("link", name="Edit settings").click()
    consequences = page.locator("#edit-consequences")
    expect(consequences).to_contain_text("Lowering it never deletes a vote")
    page.get_by_label("Fixed: votes per comparison").fill("3")
    page.get_by_label("Fixed: votes per comparison").press("Tab")
    expect(consequences).to_contain_text("1 complete comparison goes back in the pool.")
    _shot(page, "track_edit")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("1 complete comparison needs votes again.")).to_be_visible()
    assert TrackItem.objects.get(track=track).status == "open"
    assert Track.objects.get(pk=track.pk).votes_needed == 3


def test_adding_videos_of_another_size_warns_before_adding(page, live_server, study_admin):
    track = make_track(methods=2)
    comparison = TrackItem.objects.get(track=track).comparison
    new = make_video(
        method=MethodFactory(name="bigger"),
        identity=comparison.identity,
        prompt=comparison.prompt,
        frames=8,
        size=64,
    )
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")

    page.goto(f"{live_server.url}/manage/tracks/{track.pk}/extend")
    page.locator(f"#list-methods input[value='{new.method_id}']").check()
    preview = page.locator("#extend-preview")
    expect(preview).to_contain_text("These videos add 2 comparisons")
    expect(preview).to_contain_text("The new videos are 64×64")
    _shot(page, "track_extend")
