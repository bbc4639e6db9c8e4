"""The watch rule of studies: an answer counts only once the matchup's videos have played enough."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Judgment
from generation.models import Video
from studies import services
from studies.errors import StudySetupError, WatchRuleNotMet
from studies.models import Answer, Matchup, Participant, Study
from tests.studies.conftest import make_study, take_part
from tests.studies.test_answers_save import criteria_of, first_matchup

SHOWN = timezone.now() - timedelta(hours=1)


def shown(matchup: Matchup) -> Matchup:
    return services.matchup_shown(matchup=matchup, now=SHOWN)


def report(participant: Participant, matchup: Matchup, *fractions: float, after: float = 60.0) -> Matchup:
    return services.matchup_watch_record(
        participant=participant,
        matchup_id=matchup.pk,
        watched=dict(enumerate(fractions)),
        now=SHOWN + timedelta(seconds=after),
    )


def test_an_answer_before_the_videos_played_is_refused_with_what_is_missing_and_nothing_is_stored(catalog):
    participant = take_part(make_study(catalog, min_watch_fraction=1.0))
    matchup = shown(first_matchup(participant))
    report(participant, matchup, 1.0, 0.4)  # the left one played through, the right one not

    with pytest.raises(WatchRuleNotMet) as refused:
        services.answers_save(
            participant=participant, matchup_id=matchup.pk, picks=dict.fromkeys(criteria_of(matchup), 0)
        )
    assert refused.value.message == "Play the right video to the end before answering."
    assert not Answer.objects.exists() and not Judgment.objects.exists()
    matchup.refresh_from_db()
    assert matchup.answered_at is None and matchup.response_ms is None


def test_after_the_watch_reports_the_answer_is_stored_with_the_watch_record_and_server_time(catalog):
    participant = take_part(make_study(catalog, min_watch_fraction=1.0))
    matchup = shown(first_matchup(participant))
    report(participant, matchup, 1.0, 1.0, after=5)
    criteria = criteria_of(matchup)
    services.answers_save(
        participant=participant,
        matchup_id=matchup.pk,
        picks=dict.fromkeys(criteria, 0),
        elapsed_ms=1,  # the page's own timer may say anything: the server's clocks are kept apart
        now=SHOWN + timedelta(seconds=7.5),
    )
    matchup.refresh_from_db()
    assert matchup.response_ms == 7500 and matchup.watched == [1.0, 1.0]
    assert [a.watched for a in Answer.objects.all()] == [[1.0, 1.0]] * len(criteria)
    assert all(j.watched_a == 1.0 and j.watched_b == 1.0 for j in Judgment.objects.all())


def test_a_rule_below_one_asks_for_that_share_of_each_video(catalog):
    participant = take_part(make_study(catalog, min_watch_fraction=0.5))
    matchup = shown(first_matchup(participant))
    report(participant, matchup, 0.2, 0.3)
    with pytest.raises(WatchRuleNotMet, match=r"^Play at least 50% of the left and right videos before"):
        services.answers_save(
            participant=participant, matchup_id=matchup.pk, picks={criteria_of(matchup)[0]: 1}
        )
    report(participant, matchup, 0.5, 0.5)
    services.answers_save(
        participant=participant, matchup_id=matchup.pk, picks={criteria_of(matchup)[0]: 1}, require_all=False
    )
    assert Answer.objects.count() == 1


def test_a_rule_of_zero_accepts_an_answer_at_once(catalog):
    participant = take_part(make_study(catalog, min_watch_fraction=0.0))
    matchup = first_matchup(participant)
    services.answers_save(
        participant=participant, matchup_id=matchup.pk, picks=dict.fromkeys(criteria_of(matchup), 1)
    )
    assert Answer.objects.count() == len(criteria_of(matchup))


def test_a_watch_report_cannot_claim_more_than_the_time_since_the_page_was_shown(catalog, tmp_path):
    participant = take_part(make_study(catalog, min_watch_fraction=1.0))
    matchup = shown(first_matchup(participant))
    duration = 4.0  # seconds: at 2× at most, 0.5 s after showing can have played (0.5·2 + 0.5) / 4
    Video.objects.filter(pk__in=matchup.video_ids).update(duration=duration)
    recorded = report(participant, matchup, 1.0, 1.0, after=0.5)
    assert recorded.watched == [pytest.approx(0.375), pytest.approx(0.375)]
    # A later, smaller report never lowers the record; a later, plausible one raises it.
    assert report(participant, matchup, 0.1, 0.1, after=0.6).watched == [pytest.approx(0.375)] * 2
    assert report(participant, matchup, 1.0, 0.9, after=30).watched == [1.0, 0.9]


def test_a_watch_report_for_a_page_never_shown_records_nothing(catalog):
    participant = take_part(make_study(catalog, min_watch_fraction=1.0))
    matchup = first_matchup(participant)
    recorded = services.matchup_watch_record(
        participant=participant, matchup_id=matchup.pk, watched={0: 1, 1: 1}
    )
    assert recorded.watched == [] and recorded.shown_at is None


def test_a_best_of_all_matchup_names_the_videos_still_to_play(catalog):
    participant = take_part(make_study(catalog, preset="personalvideo", min_watch_fraction=1.0))
    matchup = shown(first_matchup(participant))
    assert len(matchup.video_ids) == 4
    report(participant, matchup, 1.0, 0.2, 1.0, 0.0)
    with pytest.raises(WatchRuleNotMet, match=r"^Play Video 2 and Video 4 to the end before answering\.$"):
        services.answers_save(
            participant=participant, matchup_id=matchup.pk, picks=dict.fromkeys(criteria_of(matchup), 0)
        )


def test_new_studies_ask_for_each_video_played_through_by_default(catalog):
    study = services.study_create(
        name="Defaults", ours=catalog.ours, baselines=catalog.baselines, identities=catalog.identities,
        prompts=catalog.prompts,
    )  # fmt: skip
    assert study.min_watch_fraction == 1.0


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_the_service_refuses_a_rule_outside_zero_to_one(catalog, fraction):
    with pytest.raises(StudySetupError, match="from 0 \\(no rule\\) to 1"):
        make_study(catalog, min_watch_fraction=fraction)
    assert not Study.objects.exists()


# --- through the participant's pages ----------------------------------------------------------------


def start(client, study: Study) -> tuple[str, Participant]:
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    return base, Participant.objects.get()


def test_the_page_refuses_an_unwatched_answer_with_the_message_and_stores_nothing(catalog, client):
    study = make_study(catalog, min_watch_fraction=1.0)
    base, participant = start(client, study)
    page = client.get(f"{base}m/1/").content.decode()
    assert "Play the left and right videos to the end before answering." in page
    assert 'value="next" data-vote disabled' in page
    matchup = first_matchup(participant)
    data = {"matchup": matchup.pk, "go": "next", **{f"q_{c}": "0" for c in criteria_of(matchup)}}
    response = client.post(f"{base}m/1/", data)
    assert response.status_code == 400
    assert "Play the left and right videos to the end before answering." in response.content.decode()
    assert not Answer.objects.exists() and not Judgment.objects.exists()

    # The player reports; the server caps it by the time since the page was first shown.
    Matchup.objects.filter(pk=matchup.pk).update(shown_at=timezone.now() - timedelta(minutes=1))
    reported = client.post(f"{base}m/1/watch", {"watched_left": "1", "watched_right": "0.99"}).json()
    assert reported["watched"] == [1.0, 0.99] and reported["missing"] == ""
    assert client.post(f"{base}m/1/", data)["Location"] == f"{base}m/2/"
    assert Answer.objects.count() == len(criteria_of(matchup))
    matchup.refresh_from_db()
    assert matchup.response_ms is not None and matchup.response_ms >= 60_000


def test_previous_is_allowed_before_the_videos_played_and_keeps_no_pick(catalog, client):
    study = make_study(catalog, min_watch_fraction=1.0, matchups_per_participant=3)
    base, participant = start(client, study)
    matchup = participant.matchups.get(position=0)
    Matchup.objects.filter(pk=matchup.pk).update(shown_at=timezone.now() - timedelta(minutes=1))
    client.post(f"{base}m/1/watch", {"watched_left": "1", "watched_right": "1"})
    data = {"matchup": matchup.pk, "go": "next", **{f"q_{c}": "0" for c in criteria_of(matchup)}}
    assert client.post(f"{base}m/1/", data)["Location"] == f"{base}m/2/"
    second = participant.matchups.get(position=1)
    data = {"matchup": second.pk, "go": "previous", **{f"q_{c}": "1" for c in criteria_of(second)}}
    assert client.post(f"{base}m/2/", data)["Location"] == f"{base}m/1/"
    assert not Answer.objects.filter(matchup=second).exists()


@pytest.mark.parametrize("value", ["1.5", "-1", "nan", "lots"])
def test_a_bad_watch_report_is_a_clear_400_that_records_nothing(catalog, client, value):
    study = make_study(catalog, min_watch_fraction=1.0)
    base, participant = start(client, study)
    client.get(f"{base}m/1/")
    response = client.post(f"{base}m/1/watch", {"watched_left": value, "watched_right": "0"})
    assert response.status_code == 400
    assert response.json() == {"error": "watched_left must be a fraction from 0 to 1."}
    assert first_matchup(participant).watched == []


def test_a_watch_report_without_a_participant_session_is_a_404(catalog, client):
    study = make_study(catalog, min_watch_fraction=1.0)
    assert client.post(f"/s/{study.public_slug}/m/1/watch", {"watched_left": "1"}).status_code == 404


def test_the_matchup_page_and_its_urls_name_no_method(catalog, client):
    study = make_study(catalog, min_watch_fraction=1.0)
    base, _ = start(client, study)
    page = client.get(f"{base}m/1/").content.decode()
    assert f'data-watch-url="{base}m/1/watch"' in page
    for method in [catalog.ours, *catalog.baselines]:
        assert method.name not in page
