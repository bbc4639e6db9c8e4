"""The demo study: an open four-question study over the demo catalog, for ``seed_demo``."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from generation.models import Identity, Method, Prompt
from studies import services
from studies.errors import StudyError
from studies.models import Study

DEMO_STUDY_NAME = "Demo study: ours against the baselines"
# What participants read: nothing in it may tell which method is the studied one.
DEMO_STUDY_TITLE = "Video comparison study"
DEMO_STUDY_SLUG = "demo"
# Fewer than the protocol's 40, so that a newcomer can finish the demo study in a few minutes.
DEMO_MATCHUPS = 10


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


def demo_study_join_path() -> str | None:
    """The demo study's public join path, or None when there is no open demo study."""
    study = Study.objects.filter(public_slug=DEMO_STUDY_SLUG, status=Study.Status.OPEN).first()
    return f"/s/{study.public_slug}/" if study else None


def simulate_participants(*, study: Study, completed: int, withdrawn: int, seed: int) -> int:
    """Simulated participants take the study through the real services; returns the answers stored.

    "Ours" is picked about 70% of the time on every question, so the results page shows real intervals.
    Each participant in ``withdrawn`` stops halfway and withdraws, so their answers count nowhere.
    """
    rng = random.Random(seed)
    answered = 0
    # Simulated time runs forward from a past hour per participant, so that no answer lies in the future.
    clock = timezone.now() - timedelta(hours=completed + withdrawn)
    for index in range(completed + withdrawn):
        participant = services.participant_join(study=study)
        participant = services.participant_consent(participant=participant, confirmed=True, rng=rng)
        matchups = list(participant.matchups.prefetch_related(None).order_by("position"))
        stop_at = len(matchups) // 2 if index >= completed else len(matchups)
        ours_videos = set(study.ours.videos.values_list("pk", flat=True))
        for matchup in matchups[:stop_at]:
            ours_position = next(
                (i for i, video_id in enumerate(matchup.video_ids) if video_id in ours_videos), 0
            )
            picks = {}
            for question in study.questions.all():
                if question.is_element_consistency and not matchup.asks_element_consistency:
                    continue
                others = [i for i in range(len(matchup.video_ids)) if i != ours_position]
                picks[question.criterion] = ours_position if rng.random() < 0.7 else rng.choice(others)
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
        if index >= completed:
            services.participant_withdraw(participant=participant)
        else:
            services.participant_finish(participant=participant)
    return answered
