"""A user study in Chromium: one participant finishes, another withdraws, the admin reads the results."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from annotate.models import Judgment
from studies.models import Answer, Participant
from tests.browser.conftest import sign_in
from tests.studies.conftest import build_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp")


def answer_every_question(page, side: str) -> int:
    """Click ``side`` ("Left Video" / "Right Video") in every question group; return how many."""
    groups = page.locator("fieldset.study-q")
    for k in range(groups.count()):
        groups.nth(k).get_by_text(side, exact=True).click()
    return groups.count()


def join_study(page, study_url: str) -> str:
    """Join the study at ``study_url`` and return its first matchup page as the server sent it."""
    page.goto(study_url)
    page.get_by_role("button", name="Continue to consent").click()
    page.get_by_label("I have read the information above and agree").check()
    with page.expect_response("**/m/1/") as first_matchup:
        page.get_by_role("button", name="I agree — start the study").click()
    page.wait_for_url("**/m/1/")
    return first_matchup.value.text()


def play_through(page) -> None:
    """Let both videos play until the server has recorded them watched and Next / Finish unlock."""
    # The player starts both videos by itself once both can play (a locator wait: no script evaluated
    # under the CSP).
    page.locator('.ab-player [data-action="play"]:enabled').wait_for()
    page.locator("button[data-vote]:enabled").wait_for()
    assert page.locator('[data-role="lock-hint"]').is_hidden()


def test_a_participant_finishes_another_withdraws_and_the_admin_sees_both(
    page, chromium, csp_watch, live_server, tmp_path
):
    catalog = build_catalog(baselines=3, identities=2, prompts=2, real_media=tmp_path)
    study = make_study(
        catalog,
        name="Portrait video study",
        matchups_per_participant=3,
        completion_code="THANKS-3F9A",
        min_watch_fraction=1.0,
    )
    join_url = f"{live_server.url}/s/{study.public_slug}/"

    # --- the first participant: instructions, consent (blocked until confirmed), three matchups ---
    page.goto(join_url + "?PROLIFIC_PID=browser-test-pid&STUDY_ID=s1&SESSION_ID=x1")
    page.get_by_role("heading", name="About this study").wait_for()
    page.screenshot(path=SHOTS / "study_instructions.png", full_page=True)
    page.get_by_role("button", name="Continue to consent").click()

    page.get_by_role("button", name="I agree — start the study").click()
    page.get_by_role("alert").filter(has_text="Please tick the box").wait_for()
    assert page.url.endswith("/consent/")
    assert not Participant.objects.get(crowd_hash__gt="").has_plan
    page.screenshot(path=SHOTS / "study_consent_blocked.png", full_page=True)
    page.get_by_label("I have read the information above and agree").check()
    with page.expect_response("**/m/1/") as first_matchup:
        page.get_by_role("button", name="I agree — start the study").click()

    page.wait_for_url("**/m/1/")
    # The watch rule: nothing has played yet, so Next waits and the page says what is missing.
    served = first_matchup.value.text()
    assert "Play the left and right videos to the end before answering." in served
    assert 'value="next" data-vote disabled' in served
    # The shared synchronized player starts both videos by itself, muted, and drives them from one bar.
    play = page.locator('.ab-player [data-action="play"]')
    # Locator waits only: a string predicate polled in the page would be eval, which the CSP refuses.
    page.locator('.ab-player [data-action="play"][data-playing]').wait_for()
    page.locator("button[data-vote]:enabled").wait_for()  # the server recorded both played through
    play.click()
    page.get_by_text("Matchup 1 of 3").wait_for()
    asked_first = answer_every_question(page, "Left Video")
    page.screenshot(path=SHOTS / "study_matchup.png", full_page=True)
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/m/2/")
    play_through(page)
    asked_second = answer_every_question(page, "Right Video")
    page.get_by_role("button", name="Previous").click()

    # Back on the first matchup: the answers are kept; change the first one.
    page.wait_for_url("**/m/1/")
    first_group = page.locator("fieldset.study-q").first
    assert first_group.get_by_label("Left Video").is_checked()
    first_group.get_by_text("Right Video", exact=True).click()
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/m/2/")
    assert page.locator("fieldset.study-q").first.get_by_label("Right Video").is_checked()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/m/3/")
    play_through(page)
    asked_third = answer_every_question(page, "Left Video")
    page.get_by_role("button", name="Finish").click()

    page.wait_for_url("**/done/")
    assert page.locator("#completion-code").inner_text() == "THANKS-3F9A"
    page.screenshot(path=SHOTS / "study_done.png", full_page=True)

    finisher = Participant.objects.get(status=Participant.Status.COMPLETED)
    assert Judgment.objects.filter(rater=finisher.rater).count() == asked_first + asked_second + asked_third
    first_matchup = finisher.matchups.get(position=0)
    # Every answer waited for both videos, by the server's record and clock.
    for matchup in finisher.matchups.all():
        assert min(matchup.watched) > 0.96 and matchup.response_ms > 0
    first_criterion = study.questions.order_by("position").first().criterion
    assert Answer.objects.get(matchup=first_matchup, criterion=first_criterion).picked == 1

    # --- a second participant withdraws midway ---
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    csp_watch.watch(context)
    other = context.new_page()
    other.goto(join_url)
    other.get_by_role("button", name="Continue to consent").click()
    other.get_by_label("I have read the information above and agree").check()
    other.get_by_role("button", name="I agree — start the study").click()
    other.wait_for_url("**/m/1/")
    play_through(other)
    answer_every_question(other, "Left Video")
    other.get_by_role("button", name="Next").click()
    other.wait_for_url("**/m/2/")
    other.get_by_role("link", name="Withdraw").click()
    other.get_by_role("heading", name="Withdraw from the study?").wait_for()
    other.screenshot(path=SHOTS / "study_withdraw_confirm.png", full_page=True)
    other.get_by_role("button", name="Yes, withdraw and exclude my answers").click()
    other.get_by_role("heading", name="You have withdrawn").wait_for()
    other.screenshot(path=SHOTS / "study_withdrawn.png", full_page=True)
    context.close()

    # --- the admin's results ---
    User.objects.create_user("study-admin-b", password="pw-study-admin-b", is_staff=True)
    admin_context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    csp_watch.watch(admin_context)
    admin = admin_context.new_page()
    sign_in(admin, live_server.url, "study-admin-b", "pw-study-admin-b")
    admin.goto(f"{live_server.url}/studies/{study.pk}/results/")
    assert admin.locator('[data-stat="completed"]').inner_text() == "1"
    assert admin.locator('[data-stat="withdrawn"]').inner_text() == "1"
    admin.wait_for_function("document.querySelector('img.results-figure').naturalWidth > 0")
    admin.screenshot(path=SHOTS / "study_results.png", full_page=True)
    for fmt, magic in (("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")):
        with admin.expect_download() as download_info:
            admin.locator(f'a[data-format="{fmt}"]').click()
        download = download_info.value
        assert download.suggested_filename.endswith(f".{fmt}")
        assert Path(download.path()).read_bytes().startswith(magic)
    admin.goto(f"{live_server.url}/studies/{study.pk}/")
    admin.screenshot(path=SHOTS / "study_detail.png", full_page=True)
    admin.goto(f"{live_server.url}/studies/{study.pk}/edit/")
    admin.screenshot(path=SHOTS / "study_edit.png", full_page=True)
    admin_context.close()


def test_a_best_of_all_page_unlocks_next_once_every_video_has_played(page, live_server, tmp_path):
    catalog = build_catalog(baselines=3, identities=1, prompts=1, real_media=tmp_path)
    study = make_study(catalog, preset="personalvideo", matchups_per_participant=2, min_watch_fraction=1.0)
    served = join_study(page, f"{live_server.url}/s/{study.public_slug}/")
    assert "Play Video 1, Video 2, Video 3 and Video 4 to the end before answering." in served
    assert 'value="next" data-vote disabled' in served

    # The synchronized player starts all four by itself; Next unlocks once the server recorded them.
    page.locator("button[data-vote]:enabled").wait_for()
    assert page.locator('[data-role="lock-hint"]').is_hidden()
    answer_every_question(page, "Video 2")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/m/2/")
    first = Participant.objects.get().matchups.get(position=0)
    assert min(first.watched) > 0.96 and first.answered_at is not None
