"""Judgments with a known order for the ranking tests: every rater prefers the method made first."""

from __future__ import annotations

import itertools

from django.contrib.auth.models import User

from annotate.models import Choice, Comparison, Criterion, Judgment, Rater, Track
from generation.models import Method

IF = Criterion.IDENTITY_FIDELITY


def annotator_rater(name: str) -> Rater:
    return Rater.objects.create(kind=Rater.Kind.ANNOTATOR, user=User.objects.create_user(name))


def method_of(comparison: Comparison, side: str) -> Method:
    return (comparison.video_a if side == "A" else comparison.video_b).method


def vote(
    comparison: Comparison, *, winner: Method | None, rater: Rater, criterion: str = IF, **flags
) -> Judgment:
    """A judgment for ``winner`` (a tie with None), in the comparison's own A/B terms."""
    if winner is None:
        choice = Choice.TIE
    else:
        choice = Choice.A if comparison.video_a.method_id == winner.pk else Choice.B
    return Judgment.objects.create(
        comparison=comparison, criterion=criterion, choice=choice, shown_left="A", rater=rater,
        track=flags.pop("track", None), **flags,
    )  # fmt: skip


def strongest_first(track: Track) -> list[Method]:
    methods = {v.method for c in track.comparisons.all() for v in (c.video_a, c.video_b)}
    return sorted(methods, key=lambda m: m.pk)


def vote_by_strength(track: Track, raters: list[Rater], *, criterion: str = IF) -> list[Method]:
    """Every rater prefers the method made first: a clear order, known in advance."""
    methods = strongest_first(track)
    for comparison, rater in itertools.product(track.comparisons.all(), raters):
        better = min(method_of(comparison, "A"), method_of(comparison, "B"), key=lambda m: m.pk)
        vote(comparison, winner=better, rater=rater, criterion=criterion, track=track)
    return methods
