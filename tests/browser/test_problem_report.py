from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotate.models import Assignment, ProblemReport, Track, TrackItem
from annotate.vote_path import assignment_next_for, problem_report_create
from tests.annotate.test_views import SECRET_METHOD_NAMES, make_track_with_references
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

NEXT_PANEL_ARRIVED = """old => {
    const form = document.querySelector('form.vote');
    return form !== null && form.getAttribute('hx-post') !== old;
}"""


def test_cant_judge_stores_a_report_hands_out_the_next_comparison_and_two_take_it_out_of_the_pool(
    page, live_server, annotator, outsider, study_admin
):
    track = make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator, outsider], frames=8, min_watch_fraction=0
    )
    # Another annotator already reported the first comparison; it stays in the pool after one report.
    theirs = assignment_next_for(track=track, user=outsider)
    problem_report_create(track_id=track.pk, assignment_id=theirs.pk, user=outsider, reason="not_loading")

    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    page.evaluate("window.samePageMarker = 'still here'")
    current = Assignment.objects.filter(item__track=track, rater__user=annotator, status="open").order_by(
        "position"
    )[0]
    assert current.item_id == theirs.item_id
    vote_url = f"/tracks/{track.pk}/assignments/{current.pk}/vote"
    assert page.locator("form.vote").get_attribute("hx-post") == vote_url

    # The keyboard flow: open the disclosure, choose a reason, type a note, Enter sends it.
    summary = page.get_by_text("Can't judge this pair?")
    summary.focus()
    page.keyboard.press("Enter")
    reason = page.get_by_label("What is wrong?")
    expect(reason).to_be_visible()
    reason.select_option("broken_video")
    page.get_by_label("Note").fill("the left one freezes at once")
    page.screenshot(path="/tmp/problem_report_open.png", full_page=True)
    page.get_by_label("Note").press("Enter")

    page.wait_for_function(NEXT_PANEL_ARRIVED, arg=vote_url)
    assert page.evaluate("window.samePageMarker") == "still here"  # no page load
    expect(page.get_by_text("your report was stored")).to_be_visible()
    report = ProblemReport.objects.get(rater__user=annotator)
    assert (report.item_id, report.reason, report.note) == (
        current.item_id,
        "broken_video",
        "the left one freezes at once",
    )
    assert not track.judgments.exists()
    assert TrackItem.objects.get(pk=current.item_id).held  # two annotators: out of the pool
    expect(page.get_by_text("0 done")).to_be_visible()

    # The study admin sees it on the track's reports page, with no method named, and removes it.
    page.context.clear_cookies()
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")
    page.goto(f"{live_server.url}/manage/tracks/{track.pk}/")
    page.get_by_role("link", name="1 comparison with open problem reports").click()
    expect(page.get_by_text("out of the pool", exact=True)).to_be_visible()
    expect(page.get_by_text("the left one freezes at once")).to_be_visible()
    html = page.content()
    assert not any(name in html for name in SECRET_METHOD_NAMES)
    page.screenshot(path="/tmp/problem_report_manage.png", full_page=True)
    page.get_by_role("button", name="Remove from the pool").click()
    expect(page.get_by_text("2 reports closed: the comparison is removed from the pool")).to_be_visible()
    assert TrackItem.objects.get(pk=current.item_id).status == "removed"
