"""The next pair's videos are fetched while the current pair is watched and opened out of sight (warm
elements), which the next panel then shows; a failed prefetch changes nothing but the wait."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from annotate.models import Assignment, Judgment, Track
from generation.models import Video
from lib.routing import route_url
from studies.models import Matchup
from tests.annotate.test_views import make_track_with_references
from tests.browser.conftest import sign_in
from tests.browser.test_annotate_tracks import NEXT_PANEL_ARRIVED
from tests.browser.test_study_flow import answer_every_question
from tests.studies.conftest import build_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

BOTH_PLAYABLE = """() => {
    const videos = Array.from(document.querySelectorAll('video[data-side]'));
    return videos.length === 2 && videos.every(video => video.readyState >= 4);
}"""


class MediaLog:
    """Chromium's own record of the page's media responses (DevTools protocol): which came over the
    network, which from its HTTP cache, and which finished loading."""

    def __init__(self, page) -> None:
        self.page = page
        self.responses: list[tuple[str, bool]] = []  # (path, served from the cache)
        self.finished: set[str] = set()
        self._urls: dict[str, str] = {}
        session = page.context.new_cdp_session(page)
        session.on("Network.responseReceived", self._received)
        session.on("Network.loadingFinished", self._finished)
        session.send("Network.enable")

    def _received(self, event: dict) -> None:
        response = event["response"]
        path = "/" + response["url"].split("/", 3)[-1]
        if path.startswith("/media/"):
            self._urls[event["requestId"]] = path
            self.responses.append(
                (path, bool(response.get("fromDiskCache") or response.get("fromPrefetchCache")))
            )

    def _finished(self, event: dict) -> None:
        path = self._urls.get(event["requestId"])
        if path is not None:
            self.finished.add(path)

    def wait_until_loaded(self, paths: set[str], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not paths <= self.finished:
            assert time.monotonic() < deadline, f"never loaded: {paths - self.finished}"
            self.page.wait_for_timeout(50)  # lets Playwright deliver the protocol's events


# Marks the hidden warm elements holding these paths, once both exist (the prefetch has finished).
MARK_WARM = """(paths) => {
    const warm = Array.from(document.querySelectorAll('#prefetch-warm video'))
        .filter(video => paths.includes(new URL(video.src).pathname));
    if (warm.length < paths.length) return false;
    warm.forEach(video => { video.dataset.testWarm = "1"; });
    return true;
}"""
SHOWN_ARE_WARM = """() => Array.from(document.querySelectorAll('video[data-side]'))
    .map(video => video.dataset.testWarm === "1" && video.readyState >= 3)"""


def _mark_warm(page, paths: set[str]) -> None:
    page.wait_for_function(MARK_WARM, arg=sorted(paths), timeout=15_000)


def _current_and_reserved(track: Track) -> list[Assignment]:
    return list(
        Assignment.objects.filter(item__track=track, status=Assignment.Status.OPEN)
        .select_related("item__comparison__video_a", "item__comparison__video_b")
        .order_by("position")
    )


def _video_paths(assignment: Assignment) -> set[str]:
    comparison = assignment.item.comparison
    return {route_url("media", video.file.name) for video in (comparison.video_a, comparison.video_b)}


def _wait_reported(assignment: Assignment, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while (wait := Assignment.objects.get(pk=assignment.pk).wait_ms) is None:
        assert time.monotonic() < deadline, "no wait was reported"
        time.sleep(0.05)
    return wait


def test_the_next_pair_is_fetched_before_the_vote_and_plays_from_the_cache_after_it(
    page, live_server, annotator
):
    track = make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], methods=4, frames=16, min_watch_fraction=0
    )
    log = MediaLog(page)
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    current, reserved = _current_and_reserved(track)
    page.wait_for_function(BOTH_PLAYABLE)

    log.wait_until_loaded(_video_paths(reserved))  # fetched before any vote
    _mark_warm(page, _video_paths(reserved))  # and opened out of sight
    assert not Judgment.objects.exists()
    before_vote = len(log.responses)
    page.get_by_role("button", name="Left", exact=True).click()
    page.wait_for_function(NEXT_PANEL_ARRIVED, arg=f"/tracks/{track.pk}/assignments/{current.pk}/vote")
    page.wait_for_function(BOTH_PLAYABLE)

    assert page.locator("form.vote").get_attribute("hx-post").endswith(f"/assignments/{reserved.pk}/vote")
    shown = {page.locator(f'video[data-side="{side}"]').get_attribute("src") for side in ("left", "right")}
    assert shown == _video_paths(reserved)
    after_vote = [path for path, _ in log.responses[before_vote:] if path in shown]
    assert after_vote == []  # nothing was requested again, not even from the cache:
    assert page.evaluate(SHOWN_ARE_WARM) == [True, True]  # the panel shows the warm elements
    still_warm = page.evaluate(
        "() => Array.from(document.querySelectorAll('#prefetch-warm video'))"
        ".map(video => new URL(video.src).pathname)"
    )
    assert not shown & set(still_warm)  # moved into the panel, not copied
    assert 0 <= _wait_reported(reserved) < 10_000
    # The new panel names the comparison reserved after it, which the browser fetches in turn.
    _, following = _current_and_reserved(track)
    log.wait_until_loaded(_video_paths(following))


def test_a_failed_prefetch_still_lets_the_annotator_vote_as_before(page, live_server, annotator):
    track = make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], methods=4, frames=8, min_watch_fraction=0
    )
    aborted: list[str] = []

    def refuse_prefetch(route) -> None:
        if route.request.resource_type == "fetch":
            aborted.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/media/**", refuse_prefetch)
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    page.goto(f"{live_server.url}/tracks/{track.pk}/")
    current, reserved = _current_and_reserved(track)
    page.wait_for_function(BOTH_PLAYABLE)
    deadline = time.monotonic() + 10
    while not aborted:
        assert time.monotonic() < deadline, "no prefetch was tried"
        page.wait_for_timeout(50)

    page.get_by_role("button", name="Left", exact=True).click()
    page.wait_for_function(NEXT_PANEL_ARRIVED, arg=f"/tracks/{track.pk}/assignments/{current.pk}/vote")
    page.wait_for_function(BOTH_PLAYABLE)
    expect(page.get_by_role("button", name="Right", exact=True)).to_be_enabled()
    page.get_by_role("button", name="Right", exact=True).click()
    page.wait_for_function(NEXT_PANEL_ARRIVED, arg=f"/tracks/{track.pk}/assignments/{reserved.pk}/vote")

    assert Judgment.objects.count() == 2
    expect(page.get_by_text("2 done")).to_be_visible()


def test_a_participants_next_matchup_is_fetched_while_the_first_is_watched_and_plays_from_the_cache(
    page, live_server, tmp_path
):
    catalog = build_catalog(baselines=3, identities=2, prompts=2, real_media=tmp_path)
    study = make_study(catalog, name="Prefetch study", matchups_per_participant=3, min_watch_fraction=0)
    log = MediaLog(page)
    page.goto(f"{live_server.url}/s/{study.public_slug}/")
    page.get_by_role("button", name="Continue to consent").click()
    page.get_by_label("I have read the information above and agree").check()
    page.get_by_role("button", name="I agree — start the study").click()
    page.wait_for_url("**/m/1/")
    play = page.locator('.ab-player [data-action="play"]')
    play.and_(page.locator(":enabled")).wait_for()  # both videos of the first matchup can play

    second = Matchup.objects.get(participant__study=study, position=1)
    paths = {route_url("media", video.file.name) for video in Video.objects.filter(pk__in=second.video_ids)}
    log.wait_until_loaded(paths)  # fetched before the first answer
    _mark_warm(page, paths)
    answer_every_question(page, "Left Video")
    before_answer = len(log.responses)
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/m/2/")  # swapped in place: the address follows
    play.and_(page.locator(":enabled")).wait_for()

    expect(page.get_by_text("Matchup 2 of 3")).to_be_visible()
    assert page.title().startswith("Matchup 2 of 3")
    assert [path for path, _ in log.responses[before_answer:] if path in paths] == []
    assert page.evaluate(SHOWN_ARE_WARM) == [True, True]
    answered = list(Matchup.objects.get(participant__study=study, position=0).answers.all())
    assert answered and all(answer.response_ms is not None for answer in answered)
    deadline = time.monotonic() + 10
    while Matchup.objects.get(pk=second.pk).wait_ms is None:
        assert time.monotonic() < deadline, "no wait was reported"
        time.sleep(0.05)
    # The swapped-in form times and sends its own answers.
    answer_every_question(page, "Right Video")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/m/3/")
    answered = list(second.answers.all())
    assert answered and all(answer.response_ms is not None for answer in answered)
