"""The demo study: an open four-question study over the demo catalog, for ``seed_demo``."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from annotate.gold import make_gold_pairs
from annotate.models import Choice, Criterion
from generation.models import Identity, Method, Prompt, Story, StoryRendering, Video
from studies import services
from studies.errors import StudyError
from studies.models import Matchup, Study

DEMO_STUDY_NAME = "Demo study: ours against the baselines"
# What participants read: nothing in it may tell which method is the studied one.
DEMO_STUDY_TITLE = "Video comparison study"
DEMO_STUDY_SLUG = "demo"
# Fewer than the protocol's 40, so that a newcomer can finish the demo study in a few minutes.
DEMO_MATCHUPS = 10
# Quality checks per participant: a quarter of the matchups at most, so 2 of the demo's 10 each.
DEMO_GOLD_MATCHUPS = 2
DEMO_REPEAT_MATCHUPS = 2
# Gold pairs of visual quality (a video against its degraded copy) made for the study's question.
DEMO_VISUAL_GOLD = 3


@transaction.atomic
def seed_demo_study() -> Study | None:
    """Create (once) and open the demo study; None when the catalog has no "ours" or no baseline yet.

    Idempotent: a second run finds the study by its slug and leaves its design alone.
    """
    study = Study.objects.filter(public_slug=DEMO_STUDY_SLUG).first()
    if study is None:
        ours = Method.objects.filter(role=Method.Role.OURS).order_by("pk").first()
        baselines = list(Method.objects.filter(role=Method.Role.BASELINE))
        if ours is None or not baselines:
            return None
        study = services.study_create(
            name=DEMO_STUDY_NAME,
            public_title=DEMO_STUDY_TITLE,
            ours=ours,
            baselines=baselines,
            identities=Identity.objects.all(),
            prompts=Prompt.objects.all(),
            matchups_per_participant=DEMO_MATCHUPS,
            completion_code="DEMO-THANKS",
            gold_matchups_per_participant=DEMO_GOLD_MATCHUPS,
            repeat_matchups_per_participant=DEMO_REPEAT_MATCHUPS,
            screened_out_code="DEMO-SCREENED",
            contact="the platform's maintainers (this is a demo: answers are not used)",
        )
        Study.objects.filter(pk=study.pk).update(public_slug=DEMO_STUDY_SLUG)
        study.refresh_from_db()
    elif not study.public_title:  # seeded before studies had a title of their own
        study = services.study_update(study=study, public_title=DEMO_STUDY_TITLE)
    if study.status != Study.Status.OPEN:
        try:
            study = services.study_status_set(study=study, status=Study.Status.OPEN)
        except StudyError:
            return study  # the catalog has no videos yet: the study stays a draft until it has
    return study


def seed_demo_study_gold(*, seed: int = 0) -> int:
    """Gold pairs of visual quality for the demo study (identity and prompt gold comes with the demo
    tracks' and serves the study's questions too); returns how many there are. Idempotent."""
    videos = Video.objects.of_methods().filter(method__role=Method.Role.OURS)
    return len(
        make_gold_pairs(criterion=Criterion.VISUAL_QUALITY, videos=videos, limit=DEMO_VISUAL_GOLD, seed=seed)
    )


DEMO_STORY_STUDY_NAME = "Demo study: stories, shot by shot"
DEMO_STORY_STUDY_SLUG = "demo-stories"
DEMO_STORY_MATCHUPS = 4


@transaction.atomic
def seed_demo_story_study() -> Study | None:
    """Create (once) and open the demo's narrative study (the sequential narrative preset over the demo's
    stories: ours against the baseline that rendered them); None while no story has renderings."""
    study = Study.objects.filter(public_slug=DEMO_STORY_STUDY_SLUG).first()
    if study is None:
        rendered = StoryRendering.objects.values_list("method_id", flat=True)
        ours = Method.objects.filter(role=Method.Role.OURS, pk__in=rendered).order_by("pk").first()
        baselines = list(Method.objects.filter(role=Method.Role.BASELINE, pk__in=rendered))
        stories = Story.objects.filter(renderings__isnull=False).distinct()
        if ours is None or not baselines:
            return None
        study = services.study_create(
            name=DEMO_STORY_STUDY_NAME,
            public_title="Short stories: which video keeps the person?",
            ours=ours,
            baselines=baselines,
            stories=stories,
            preset="narrative",
            matchups_per_participant=DEMO_STORY_MATCHUPS,
            gold_matchups_per_participant=0,  # gold pairs are clips: a story study has none
            repeat_matchups_per_participant=0,
            completion_code="DEMO-THANKS",
            contact="the platform's maintainers (this is a demo: answers are not used)",
        )
        Study.objects.filter(pk=study.pk).update(public_slug=DEMO_STORY_STUDY_SLUG)
        study.refresh_from_db()
    if study.status != Study.Status.OPEN:
        try:
            study = services.study_status_set(study=study, status=Study.Status.OPEN)
        except StudyError:
            return study
    return study


def demo_story_study_join_path() -> str | None:
    study = Study.objects.filter(public_slug=DEMO_STORY_STUDY_SLUG, status=Study.Status.OPEN).first()
    return f"/s/{study.public_slug}/" if study else None


def demo_study_join_path() -> str | None:
    """The demo study's public join path, or None when there is no open demo study."""
    study = Study.objects.filter(public_slug=DEMO_STUDY_SLUG, status=Study.Status.OPEN).first()
    return f"/s/{study.public_slug}/" if study else None


def _picks(
    *, study: Study, matchup: Matchup, ours_videos: set[int], careless: bool, rng: random.Random
) -> dict[str, int]:
    """One participant's picks on a page. A careful one picks "ours" about 70% of the time and a gold
    pair's right video 80% of the time; a careless one picks at random."""
    known = {}
    if matchup.purpose == Matchup.Purpose.GOLD and matchup.comparison is not None:
        comparison = matchup.comparison
        known = {
            gold.criterion: comparison.video_a_id if gold.answer == Choice.A else comparison.video_b_id
            for gold in comparison.gold_answers.all()
        }
    ours_position = next((i for i, video_id in enumerate(matchup.video_ids) if video_id in ours_videos), 0)
    picks = {}
    for question in study.questions.all():
        if question.is_element_consistency and not matchup.asks_element_consistency:
            continue
        positions = range(len(matchup.video_ids))
        if careless:
            picks[question.criterion] = rng.choice(positions)
            continue
        best = ours_position
        if question.criterion in known:
            best = matchup.video_ids.index(known[question.criterion])
        others = [i for i in positions if i != best]
        accuracy = 0.8 if question.criterion in known else 0.7
        picks[question.criterion] = best if rng.random() < accuracy else rng.choice(others)
    return picks


def simulate_participants(
    *, study: Study, completed: int, withdrawn: int, seed: int, careless: int = 0
) -> int:
    """Simulated participants take the study through the real services; returns the answers stored.

    "Ours" is picked about 70% of the time on every question, so the results page shows real intervals;
    a gold matchup's right video 80% of the time. Each participant in ``withdrawn`` stops halfway and
    withdraws, so their answers count nowhere. The ``careless`` ones join from a crowd platform (with a
    crowd id) and pick at random: failing gold matchups, they may be screened out on the way.
    """
    rng = random.Random(seed)
    answered = 0
    total = completed + withdrawn + careless
    # Simulated time runs forward from a past hour per participant, so that no answer lies in the future.
    clock = timezone.now() - timedelta(hours=total)
    ours_videos = set(study.ours.videos.values_list("pk", flat=True))
    for index in range(total):
        sloppy = index >= completed + withdrawn
        crowd = {"PROLIFIC_PID": f"demo-careless-{index}", "STUDY_ID": "demo", "SESSION_ID": f"s{index}"}
        participant = services.participant_join(study=study, crowd_params=crowd if sloppy else None)
        participant = services.participant_consent(participant=participant, confirmed=True, rng=rng)
        matchups = list(
            participant.matchups.select_related("comparison")
            .prefetch_related("comparison__gold_answers")
            .order_by("position")
        )
        stop_at = len(matchups) // 2 if completed <= index < completed + withdrawn else len(matchups)
        for matchup in matchups[:stop_at]:
            picks = _picks(study=study, matchup=matchup, ours_videos=ours_videos, careless=sloppy, rng=rng)
            # The page is shown, both videos play through (the watch rule), then the answers come.
            elapsed_ms = rng.randint(8000, 40000)
            services.matchup_shown(matchup=matchup, now=clock)
            services.matchup_watch_record(
                participant=participant,
                matchup_id=matchup.pk,
                watched=dict.fromkeys(range(len(matchup.video_ids)), 1.0),
                now=clock + timedelta(milliseconds=elapsed_ms * 0.9),
            )
            clock += timedelta(milliseconds=elapsed_ms)
            services.answers_save(
                participant=participant,
                matchup_id=matchup.pk,
                picks=picks,
                elapsed_ms=elapsed_ms,
                now=clock,
            )
            answered += len(picks)
            participant.refresh_from_db(fields=["status"])
            if participant.is_screened_out:
                break  # the rule ended the participation: the page thanks them and asks no more
        if participant.is_screened_out:
            continue
        if completed <= index < completed + withdrawn:
            services.participant_withdraw(participant=participant)
        else:
            services.participant_finish(participant=participant)
    return answered
