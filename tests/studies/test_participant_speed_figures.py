"""Speed figures per participant: matchups answered, median time, speeders and straight-lining."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Video
from studies import services
from studies.selectors import participant_speed_figures
from tests.studies.conftest import make_study, take_part
from tests.studies.test_answers_save import criteria_of

START = timezone.now() - timedelta(hours=2)


def answer(participant, position: int, *, seconds: float, picks: list[int]) -> None:
    """Show the page, report both videos played through, answer after ``seconds`` by the server's clock."""
    matchup = participant.matchups.get(position=position)
    shown_at = START + timedelta(minutes=10 * position)
    services.matchup_shown(matchup=matchup, now=shown_at)
    services.matchup_watch_record(
        participant=participant,
        matchup_id=matchup.pk,
        watched={0: 1.0, 1: 1.0},
        now=shown_at + timedelta(minutes=1),
    )
    criteria = criteria_of(matchup)
    services.answers_save(
        participant=participant,
        matchup_id=matchup.pk,
        picks={c: picks[k % len(picks)] for k, c in enumerate(criteria)},
        now=shown_at + timedelta(seconds=seconds),
    )


def test_speed_figures_report_median_time_speeders_and_straight_lining(catalog):
    # No watch rule (or one met at 2× speed): answers can come before the videos' length.
    study = make_study(catalog, min_watch_fraction=0.0, matchups_per_participant=4)
    Video.objects.update(duration=4.0)  # every matchup's videos last 4 s
    careful, speeder, idle = (take_part(study, seed=k) for k in range(3))
    for position, seconds in enumerate([20, 30, 40, 50]):
        answer(careful, position, seconds=seconds, picks=[0, 1])  # mixed sides on every page
    for position, seconds in enumerate([1.5, 2.0, 3.0]):
        answer(speeder, position, seconds=seconds, picks=[0])  # always the left video, before the end
    answer(speeder, 3, seconds=9, picks=[1])

    rows = {row.participant_id: row for row in participant_speed_figures(study=study)}
    assert list(rows) == [careful.pk, speeder.pk, idle.pk]

    assert rows[careful.pk].matchups_answered == 4
    assert rows[careful.pk].median_seconds == pytest.approx(35.0)
    assert rows[careful.pk].faster_than_videos == 0.0
    assert rows[careful.pk].same_side == 0.0

    assert rows[speeder.pk].matchups_answered == 4
    assert rows[speeder.pk].median_seconds == pytest.approx(2.5)
    assert rows[speeder.pk].faster_than_videos == pytest.approx(0.75)
    assert rows[speeder.pk].same_side == 1.0  # the fourth page: all right, still one side

    assert rows[idle.pk].matchups_answered == 0
    assert rows[idle.pk].median_seconds is None and rows[idle.pk].same_side is None


def test_participants_of_another_study_and_those_without_consent_are_left_out(catalog):
    study = make_study(catalog, min_watch_fraction=1.0, matchups_per_participant=2)
    other = make_study(catalog, name="Another", min_watch_fraction=1.0, matchups_per_participant=2)
    answer(take_part(other), 0, seconds=10, picks=[0])
    services.participant_join(study=study)  # read the instructions, never consented
    assert participant_speed_figures(study=study) == []
