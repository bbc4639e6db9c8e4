"""bench/annotate_load.py's count of comparisons past their votes, on fixed and adaptive tracks."""

from __future__ import annotations

import pytest

from annotate.adaptive import VoteMode, VotePlan
from annotate.models import TrackItem
from bench.annotate_load import over_needed_count
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def _with_votes(track, votes: list[int], *, needed: int) -> None:
    for item, count in zip(track.items.order_by("pk"), votes, strict=True):
        TrackItem.objects.filter(pk=item.pk).update(votes=count, needed=needed)


def test_on_an_adaptive_track_only_comparisons_past_their_maximum_count():
    track = make_track(plan=VotePlan(mode=VoteMode.ADAPTIVE, min_votes=2, max_votes=4))
    # Needed 2 for all: votes past needed but within the maximum (a late answer on a closed comparison)
    # are allowed; only the 5 is over.
    _with_votes(track, [2, 4, 5], needed=2)
    assert over_needed_count(track) == 1


def test_on_a_fixed_track_comparisons_past_the_tracks_number_count():
    track = make_track(votes_needed=3)
    _with_votes(track, [3, 4, 5], needed=3)
    assert over_needed_count(track) == 2
