"""Who a participant is (their session) and what media they may see (their own matchups only).

Participants never log in. The session cookie carries, per study, the random token of the participant
it belongs to; nothing else about them is kept.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from generation.models import Reference, Video
from studies.models import Matchup, Participant, Study
from studies.selectors import LOOK_CRITERIA

SESSION_KEY = "study_participants"


def session_bind(session: SessionBase, participant: Participant) -> None:
    bound = dict(session.get(SESSION_KEY, {}))
    bound[str(participant.study_id)] = participant.token
    session[SESSION_KEY] = bound


def session_participant(session: SessionBase, study: Study) -> Participant | None:
    token = session.get(SESSION_KEY, {}).get(str(study.pk))
    if not token:
        return None
    return Participant.objects.select_related("rater").filter(study=study, token=token).first()


def _active_tokens(request: HttpRequest) -> list[str]:
    session = getattr(request, "session", None)
    if session is None:
        return []
    bound = session.get(SESSION_KEY) or {}
    return [token for token in bound.values() if isinstance(token, str)]


def participant_may_view(request: HttpRequest, owner: Any) -> bool:
    """A participant answering a study sees the videos and the primary reference of their own
    matchups (in a narrative study with identity or body questions, every reference of the person, as
    the page shows them by viewpoint), and nothing else of the catalog."""
    tokens = _active_tokens(request)
    if not tokens:
        return False
    matchups = Matchup.objects.filter(
        participant__token__in=tokens, participant__status=Participant.Status.ACTIVE
    )
    if isinstance(owner, Video):
        return matchups.filter(video_ids__contains=[owner.pk]).exists()
    if isinstance(owner, Reference):
        mine = matchups.filter(identity_id=owner.identity_id)
        if not owner.is_primary:
            mine = mine.filter(
                participant__study__kind=Study.Kind.NARRATIVE,
                participant__study__questions__criterion__in=LOOK_CRITERIA,
            )
        return mine.exists()
    return False
