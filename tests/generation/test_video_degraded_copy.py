"""Degraded copies for visual-quality gold comparisons: plainly worse pictures in exactly the same shape."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest

from generation import media
from generation.errors import MediaError
from generation.models import Video
from generation.services import video_create_from_frames, video_degraded_copy, video_shapes_match
from tests.factories import IdentityFactory, MethodFactory, PromptFactory

pytestmark = pytest.mark.django_db


def textured_frames(*, count: int = 12, size: int = 64, seed: int = 0) -> list[np.ndarray]:
    """A sharp random texture sliding by a pixel a frame: detail to blur and motion to freeze."""
    texture = np.random.default_rng(seed).integers(0, 256, size=(size, size + count, 3), dtype=np.uint8)
    return [np.ascontiguousarray(texture[:, index : index + size]) for index in range(count)]


def textured_video(
    *, seed: int = 0, count: int = 12, size: int = 64, method=None, identity=None, prompt=None
):
    return video_create_from_frames(
        method=method or MethodFactory(),
        identity=identity or IdentityFactory(),
        prompt=prompt or PromptFactory(),
        seed=seed,
        frames=textured_frames(count=count, size=size, seed=seed),
        fps=8,
    )


def decoded(video: Video) -> list[np.ndarray]:
    with av.open(str(media.media_path(video.file.name))) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def stream_properties(video: Video) -> dict[str, object]:
    with av.open(str(media.media_path(video.file.name))) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        return {
            "format": container.format.name,
            "codec": context.name,
            "profile": context.profile,
            "pix_fmt": context.pix_fmt,
            "size": (context.width, context.height),
            "rate": stream.average_rate,
            "time_base": stream.time_base,
            "frames": stream.frames,
            "duration": stream.duration,
        }


def laplacian_variance(frame: np.ndarray) -> float:
    gray = frame.astype(np.float64).mean(axis=2)
    lap = gray[1:-1, :-2] + gray[1:-1, 2:] + gray[:-2, 1:-1] + gray[2:, 1:-1] - 4 * gray[1:-1, 1:-1]
    return float(lap.var())


def test_the_copy_has_the_shape_and_encoding_of_its_source() -> None:
    source = textured_video()
    copy = video_degraded_copy(video=source)
    assert copy.is_gold_stimulus and copy.gold_source == source
    assert (copy.method, copy.identity, copy.prompt, copy.seed) == (
        source.method,
        source.identity,
        source.prompt,
        source.seed,
    )
    assert (copy.width, copy.height, copy.num_frames, copy.fps, copy.codec, copy.duration) == (
        source.width,
        source.height,
        source.num_frames,
        source.fps,
        source.codec,
        source.duration,
    )
    assert stream_properties(copy) == stream_properties(source)
    assert video_shapes_match(copy, source)
    assert copy.poster and copy.file.name != source.file.name


def test_the_copy_is_blurrier_than_its_source() -> None:
    source = textured_video()
    copy = video_degraded_copy(video=source)
    sharp = np.mean([laplacian_variance(frame) for frame in decoded(source)])
    blurred = np.mean([laplacian_variance(frame) for frame in decoded(copy)])
    assert blurred < sharp / 2


def test_the_copy_holds_each_picture_for_four_frames() -> None:
    source = textured_video(count=12)
    frames = [frame.astype(np.int16) for frame in decoded(video_degraded_copy(video=source))]
    steps = [float(np.abs(later - earlier).mean()) for earlier, later in itertools.pairwise(frames)]
    held = [step for index, step in enumerate(steps, start=1) if index % 4]
    moved = [step for index, step in enumerate(steps, start=1) if not index % 4]
    assert len(moved) == 2
    # Held frames repeat the picture (up to the encoder's rounding); each fourth frame moves on.
    assert max(held) < 2.0
    assert min(moved) > 10 * max(held, default=0.1)
    # The source itself moves on every frame.
    original = [frame.astype(np.int16) for frame in decoded(source)]
    assert min(float(np.abs(b - a).mean()) for a, b in itertools.pairwise(original)) > 10


def test_a_second_request_returns_the_same_copy() -> None:
    source = textured_video()
    first = video_degraded_copy(video=source)
    assert video_degraded_copy(video=source, seed=5) == first
    assert Video.objects.filter(gold_source=source).count() == 1


def test_a_copy_is_not_degraded_again() -> None:
    copy = video_degraded_copy(video=textured_video())
    with pytest.raises(MediaError, match="is itself a gold stimulus"):
        video_degraded_copy(video=copy)


def test_a_copy_is_no_video_of_its_method() -> None:
    source = textured_video()
    copy = video_degraded_copy(video=source)
    assert list(Video.objects.of_methods().filter(method=source.method)) == [source]
    assert copy in Video.objects.filter(method=source.method)


def test_shapes_differ_when_size_or_frame_count_does() -> None:
    source = textured_video()
    assert not video_shapes_match(source, textured_video(seed=1, size=32))
    assert not video_shapes_match(source, textured_video(seed=2, count=8))
    assert video_shapes_match(source, textured_video(seed=3))
