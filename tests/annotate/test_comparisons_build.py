from __future__ import annotations

import pytest

from annotate.models import Comparison
from annotate.services import comparisons_build
from generation.models import Video
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video

pytestmark = pytest.mark.django_db


def test_it_pairs_videos_of_the_same_identity_and_prompt_once_each_in_canonical_order():
    identity, other_identity, prompt = IdentityFactory(), IdentityFactory(), PromptFactory()
    methods = [MethodFactory() for _ in range(3)]
    for method in methods:
        make_video(method=method, identity=identity, prompt=prompt, frames=2, size=16)
    make_video(method=methods[0], identity=other_identity, prompt=prompt, frames=2, size=16)

    built = comparisons_build(videos=Video.objects.all())

    assert len(built) == 3  # C(3, 2); the other identity's lone video pairs with nothing
    for comparison in built:
        assert comparison.video_a_id < comparison.video_b_id
        assert comparison.identity == identity
    assert len(comparisons_build(videos=Video.objects.all())) == 3
    assert Comparison.objects.count() == 3
