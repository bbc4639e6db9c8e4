"""The demo study: an open four-question study over the demo catalog, for ``seed_demo``."""

from __future__ import annotations

from django.db import transaction

from generation.models import Identity, Method, Prompt
from studies import services
from studies.errors import StudyError
from studies.models import Study

DEMO_STUDY_NAME = "Demo study: ours against the baselines"
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
