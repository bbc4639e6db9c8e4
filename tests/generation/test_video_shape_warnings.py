from __future__ import annotations

import uuid

import pytest

from generation.models import Method, Video
from generation.selectors import video_shape_warnings
from tests.factories import IdentityFactory, MethodFactory, PromptFactory

pytestmark = pytest.mark.django_db


def video_row(
    method: Method, *, width: int = 768, height: int = 432, fps: float = 16, duration: float = 5.0
) -> Video:
    """A catalog row without a media file: the warning reads only the probed shape."""
    return Video.objects.create(
        method=method, identity=IdentityFactory(slug="ada"), prompt=PromptFactory(slug="p1"),
        seed=Video.objects.count(), file=f"fake/{uuid.uuid4().hex}.mp4", sha256=uuid.uuid4().hex * 2,
        bytes=1, width=width, height=height, num_frames=int(fps * duration), fps=fps, duration=duration,
        codec="h264",
    )  # fmt: skip


def test_videos_of_the_same_shape_give_no_warning():
    video_row(MethodFactory(name="A"))
    video_row(MethodFactory(name="B"), fps=16.02, duration=5.04)

    assert video_shape_warnings(videos=Video.objects.all()) == []


def test_a_method_whose_videos_have_another_size_is_named_with_both_sizes():
    video_row(MethodFactory(name="A"))
    video_row(MethodFactory(name="B"), width=512, height=512)

    assert video_shape_warnings(videos=Video.objects.all()) == [
        "Method B's videos are 512×512 while method A's are 768×432; a rater can tell them apart by that."
    ]


def test_frame_rate_and_duration_beyond_the_tolerance_are_named():
    video_row(MethodFactory(name="A"))
    video_row(MethodFactory(name="B"), fps=24, duration=4.0)
    video_row(MethodFactory(name="C"), duration=3.0)

    assert video_shape_warnings(videos=Video.objects.all()) == [
        "Method B's videos are 24 fps, 4.0 s long while method A's are 16 fps, 5.0 s long; "
        "a rater can tell them apart by that.",
        "Method C's videos are 3.0 s long while method A's are 5.0 s long; "
        "a rater can tell them apart by that.",
    ]


def test_the_reference_method_is_the_one_given():
    a = MethodFactory(name="A")
    video_row(a)
    ours = MethodFactory(name="ours")
    video_row(ours, width=512, height=512)

    assert video_shape_warnings(videos=Video.objects.all(), reference_method_id=ours.pk) == [
        "Method A's videos are 768×432 while method ours's are 512×512; a rater can tell them apart by that."
    ]


def test_only_the_videos_given_are_compared():
    video_row(MethodFactory(name="A"))
    video_row(MethodFactory(name="B"), width=512, height=512)

    assert video_shape_warnings(videos=Video.objects.filter(method__name="A")) == []
