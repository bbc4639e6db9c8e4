"""Prefetching for study participants: the page names the next matchup's media, and the wait report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from generation.models import Video
from lib.routing import route_url
from studies import selectors, services
from studies.models import Matchup, Study
from tests.studies.conftest import make_study, take_part
from tests.studies.test_answers_save import criteria_of, first_matchup
from tests.studies.test_watch_rule import start

pytestmark = pytest.mark.django_db


def _names(matchup: Matchup) -> set[str]:
    return {str(video.file.name) for video in Video.objects.filter(pk__in=matchup.video_ids)}


def test_a_matchup_page_names_the_media_of_the_participants_next_matchup(catalog):
    participant = take_part(make_study(catalog, matchups_per_participant=3))

    page = selectors.matchup_page(participant=participant, position=0)

    second = participant.matchups.get(position=1)
    assert page is not None and _names(second) <= set(page.next_media)


def test_the_last_matchup_names_nothing_and_the_switch_turns_it_off(catalog, settings):
    participant = take_part(make_study(catalog, matchups_per_participant=3))
    last = selectors.matchup_page(participant=participant, position=2)
    assert last is not None and last.next_media == []

    settings.PREFETCH_NEXT = False
    first = selectors.matchup_page(participant=participant, position=0)
    assert first is not None and first.next_media == []


def test_the_page_gives_the_browser_the_next_matchups_opaque_media_urls(catalog, client):
    study = make_study(catalog, matchups_per_participant=3)
    base, participant = start(client, study)

    html = client.get(f"{base}m/1/").content.decode()

    for name in _names(participant.matchups.get(position=1)):
        assert route_url("media", name) in html
    assert f'data-wait-url="{base}m/1/wait"' in html


def test_a_wait_report_is_clipped_to_what_is_plausible(catalog):
    participant = take_part(make_study(catalog, matchups_per_participant=3))
    matchup = services.matchup_shown(matchup=participant.matchups.get(position=1))
    later = matchup.shown_at + timedelta(seconds=1)

    assert (
        services.matchup_wait_record(
            participant=participant, matchup_id=matchup.pk, wait_ms=-40, now=later
        ).wait_ms
        == 0
    )
    other = services.matchup_shown(matchup=participant.matchups.get(position=2))
    absurd = services.matchup_wait_record(
        participant=participant, matchup_id=other.pk, wait_ms=1e15, now=other.shown_at + timedelta(days=1)
    )
    assert absurd.wait_ms == services.WAIT_CEILING_SECONDS * 1000


@pytest.mark.parametrize("value", ["soon", "nan", ""])
def test_a_wait_that_is_not_a_number_is_a_clear_400_that_records_nothing(catalog, client, value):
    study = make_study(catalog, matchups_per_participant=3)
    base, participant = start(client, study)
    client.get(f"{base}m/1/")

    response = client.post(f"{base}m/1/wait", {"wait_ms": value})

    assert response.status_code == 400
    assert response.json() == {"error": "wait_ms must be a number of milliseconds."}
    assert participant.matchups.get(position=0).wait_ms is None


def test_a_plausible_wait_is_stored_through_the_page(catalog, client):
    study = make_study(catalog, matchups_per_participant=3)
    base, participant = start(client, study)
    client.get(f"{base}m/1/")

    assert client.post(f"{base}m/1/wait", {"wait_ms": "180"}).json() == {"wait_ms": 180}
    assert participant.matchups.get(position=0).wait_ms == 180


def _answers(matchup: Matchup, go: str) -> dict[str, object]:
    return {"matchup": matchup.pk, "go": go, **{f"q_{c}": "0" for c in criteria_of(matchup)}}


def test_an_answer_sent_by_htmx_goes_on_to_the_next_matchup_in_place(catalog, client):
    study = make_study(catalog, matchups_per_participant=2, min_watch_fraction=0)
    base, participant = start(client, study)
    client.get(f"{base}m/1/")

    response = client.post(
        f"{base}m/1/", _answers(first_matchup(participant), "next"), HTTP_HX_REQUEST="true"
    )

    # The answer carries the next matchup, whose <main> htmx swaps in, and its address for the history.
    assert response.status_code == 200 and response["HX-Push-Url"] == f"{base}m/2/"
    assert "Matchup 2 of 2" in response.content.decode()
    assert participant.matchups.get(position=1).shown_at is not None


def test_an_answer_by_htmx_that_ends_the_study_loads_the_end_page_whole(catalog, client):
    study = make_study(catalog, matchups_per_participant=2, min_watch_fraction=0)
    base, participant = start(client, study)
    for number, go in ((1, "next"), (2, "finish")):
        client.get(f"{base}m/{number}/")
        response = client.post(
            f"{base}m/{number}/",
            _answers(participant.matchups.get(position=number - 1), go),
            HTTP_HX_REQUEST="true",
        )

    assert response.status_code == 200 and response["HX-Redirect"] == f"{base}done/"


def test_a_refused_answer_by_htmx_is_the_page_again_with_the_reason(catalog, client):
    study = make_study(catalog, matchups_per_participant=2, min_watch_fraction=0)
    base, participant = start(client, study)
    client.get(f"{base}m/1/")

    response = client.post(
        f"{base}m/1/", {"matchup": first_matchup(participant).pk, "go": "next"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400 and 'class="alert error" role="alert"' in response.content.decode()
    assert not participant.matchups.get(position=0).answers.exists()


def test_an_answer_by_htmx_to_a_closed_study_reloads_the_address_to_show_the_notice(catalog, client):
    study = make_study(catalog, matchups_per_participant=2, min_watch_fraction=0)
    base, participant = start(client, study)
    client.get(f"{base}m/1/")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)

    response = client.post(
        f"{base}m/1/", _answers(first_matchup(participant), "next"), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200 and response["HX-Refresh"] == "true"
    assert not participant.matchups.get(position=0).answers.exists()
