"""The study detection check: 30 participants take a pairwise study through the real participant services
(join, consent, plan with gold and repeated matchups, answers), 3 of them careless: one always picks the
left video, one picks at random, one picks at random before the videos could have played. The stored
report's flags name exactly those 3, for five seeds."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Choice, GoldAnswer
from annotate.quality_reports import quality_report_compute
from studies import services
from studies.models import Matchup, Participant
from studies.quality import study_scope
from tests.studies.conftest import build_catalog, make_study
from tests.studies.test_answers_save import criteria_of
from tests.studies.test_study_checks import make_gold

PARTICIPANTS = 30
KINDS = ["careful"] * (PARTICIPANTS - 3) + ["always_left", "random", "speeder"]
ACCURACY = 0.8


def _picks(kind: str, matchup: Matchup, truth: dict, known: dict, ours: set[int], rng: random.Random) -> dict:
    """A careful participant picks the true video 80 % of the time (a gold pair's known one, else the
    simulated truth of the comparison and question: ours with probability 0.65)."""
    picks = {}
    for criterion in criteria_of(matchup):
        if kind == "always_left":
            picks[criterion] = 0
            continue
        if kind in ("random", "speeder"):
            picks[criterion] = rng.randrange(2)
            continue
        right = known.get((matchup.comparison_id, criterion))
        if right is None:
            key = (matchup.comparison_id, criterion)
            truth.setdefault(key, rng.random() < 0.65)
            ours_video = next((v for v in matchup.video_ids if v in ours), matchup.video_ids[0])
            other = next(v for v in matchup.video_ids if v != ours_video)
            right = ours_video if truth[key] else other
        best = matchup.video_ids.index(right)
        picks[criterion] = best if rng.random() < ACCURACY else 1 - best
    return picks


@pytest.mark.parametrize("seed", range(5))
def test_the_flags_name_exactly_the_careless_participants(db, seed, capsys):
    catalog = build_catalog(baselines=2, identities=5, prompts=10)
    make_gold(catalog, limit=8)
    study = make_study(
        catalog,
        matchups_per_participant=40,
        gold_matchups_per_participant=4,
        repeat_matchups_per_participant=4,
    )
    rng = random.Random(seed)
    known = {
        (gold.comparison_id, gold.criterion): (
            gold.comparison.video_a_id if gold.answer == Choice.A else gold.comparison.video_b_id
        )
        for gold in GoldAnswer.objects.select_related("comparison")
    }
    ours = set(catalog.ours.videos.values_list("pk", flat=True))
    truth: dict = {}
    kinds = KINDS[:]
    rng.shuffle(kinds)
    clock = timezone.now() - timedelta(days=2)
    started = time.monotonic()
    kind_of = {}
    for kind in kinds:
        participant = services.participant_join(study=study)
        participant = services.participant_consent(participant=participant, confirmed=True, rng=rng)
        kind_of[participant.pk] = kind
        for matchup in participant.matchups.order_by("position"):
            seconds = rng.uniform(0.05, 0.2) if kind == "speeder" else rng.uniform(4, 30)
            services.matchup_shown(matchup=matchup, now=clock)
            clock += timedelta(seconds=seconds)
            picks = _picks(kind, matchup, truth, known, ours, rng)
            services.answers_save(participant=participant, matchup_id=matchup.pk, picks=picks, now=clock)
        services.participant_finish(participant=participant)
    answering = time.monotonic() - started
    assert Matchup.objects.filter(participant__study=study, purpose="gold").count() == 4 * PARTICIPANTS
    assert Matchup.objects.filter(participant__study=study, purpose="repeat").count() == 4 * PARTICIPANTS

    report = quality_report_compute(scope=study_scope(study))
    assert report is not None
    table = time.monotonic() - started - answering
    participants = dict(Participant.objects.filter(study=study).values_list("rater_id", "pk"))
    flagged = {kind_of[participants[row["rater"]]]: row["flags"] for row in report.raters if row["flags"]}
    with capsys.disabled():
        print(
            f"\nseed {seed}: {report.judgments} judgments answered in {answering:.1f} s,"
            f" table in {table:.1f} s"
        )
        for row in report.raters:
            kind = kind_of[participants[row["rater"]]]
            if kind != "careful" or row["flags"]:
                print(
                    f"  {kind}: gold {row['gold_correct']}/{row['gold_n']} e={row['contradiction_e']:.2f}"
                    f" rel={row['ds_reliability']:.2f} left={row['left_share']:.2f} flags={row['flags']}"
                )
        careful = [r for r in report.raters if kind_of[participants[r["rater"]]] == "careful"]
        print(
            f"  careful margins: highest e {max(r['contradiction_e'] or 0 for r in careful):.2f},"
            f" lowest reliability {min(r['ds_reliability'] for r in careful):.2f},"
            f" highest faster share {max(r['faster_than_videos'] for r in careful):.2f},"
            f" highest same-side share {max(r['same_side'] for r in careful):.2f}"
        )
    assert set(flagged) == {"always_left", "random", "speeder"}, flagged
