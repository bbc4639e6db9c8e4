"""A track larger than one INSERT can carry: PostgreSQL takes at most 65,535 parameters a statement."""

from __future__ import annotations

import pytest

from annotate.models import Comparison, TrackItem
from annotate.services import track_create
from generation.models import Video
from tests.factories import IdentityFactory, MethodFactory, PromptFactory

pytestmark = pytest.mark.django_db

SEEDS = 150  # one case, every pair of its 150 videos: 11,175 comparisons


def test_a_track_of_eleven_thousand_comparisons_is_created_whole():
    identity, prompt, method = IdentityFactory(), PromptFactory(), MethodFactory()
    # Rows only (no media): the track is built from the catalog's rows.
    Video.objects.bulk_create(
        Video(
            method=method,
            identity=identity,
            prompt=prompt,
            seed=seed,
            file=f"videos/large-{seed}.mp4",
            sha256=f"{seed:064x}",
            bytes=1,
            width=32,
            height=32,
            num_frames=5,
            fps=8,
            duration=0.625,
            codec="h264",
        )
        for seed in range(SEEDS)
    )

    track = track_create(
        name="large", kind="identity_fidelity", identities=[identity], prompts=[prompt], methods=[method]
    )

    pairs = SEEDS * (SEEDS - 1) // 2
    assert Comparison.objects.count() == pairs
    assert TrackItem.objects.filter(track=track).count() == track.items_total == pairs
