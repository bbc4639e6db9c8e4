from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from annotate.models import Assignment
from annotate.vote_path import assignment_watch_record


@pytest.fixture
def second_annotator(db: None) -> User:
    return User.objects.create_user("annotator-2", password="pw-annotator-2")


def watch_fully(assignment: Assignment, user: User) -> Assignment:
    """Report both videos watched, at a time late enough for that to be plausible."""
    later = assignment.issued_at + timedelta(seconds=60)
    return assignment_watch_record(
        assignment_id=assignment.pk, user=user, watched_a=1.0, watched_b=1.0, now=later
    )


@pytest.fixture(autouse=True)
def _one_comparison_at_a_time(settings: Any) -> None:
    """Most tests here pin how comparisons are handed out one at a time: the behaviour with
    PREFETCH_NEXT off, which must stay exactly as it was. Tests of prefetching ask for ``prefetch``."""
    settings.PREFETCH_NEXT = False


@pytest.fixture
def prefetch(settings: Any) -> None:
    """The next comparison is reserved while the current one is watched (the default setting)."""
    settings.PREFETCH_NEXT = True
