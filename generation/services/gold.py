"""Videos made for gold comparisons (comparisons with a known answer): degraded copies of catalog videos.

A degraded copy is the picture of its source made plainly worse (heavy blur, frames that freeze, strong
noise) and encoded exactly as every stored video: same encoder settings, size, frame count and frame rate,
so that only the picture tells it from its source. Pairing videos into comparisons is annotate's work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction

import av
import numpy as np
from django.db import transaction
from PIL import Image, ImageFilter

from generation import media
from generation.errors import MediaError
from generation.models import Video
from generation.services.catalog import _video_record

# Each frame is held this many frames (a stall every few frames), the rest of the motion is lost.
HOLD_FRAMES = 4
# Gaussian noise on 0–255 values: plainly visible, yet the picture is still recognisable.
NOISE_SIGMA = 24.0
# A blur radius of about 1/24 of the shorter side, never under 2 pixels: heavy at any size.
BLUR_FRACTION = 1 / 24
MIN_BLUR_RADIUS = 2.0


def video_shapes_match(first: Video, second: Video) -> bool:
    """Whether two videos share everything a rater could tell them apart by besides the picture."""
    return (first.width, first.height, first.num_frames, first.fps, first.codec) == (
        second.width,
        second.height,
        second.num_frames,
        second.fps,
        second.codec,
    )


def degrade_frames(
    frames: Iterable[np.ndarray], *, rng: np.random.Generator, hold: int = HOLD_FRAMES
) -> Iterator[np.ndarray]:
    """Blur, freeze and add noise to RGB uint8 frames, one at a time; as many frames come out as went in.

    Frame ``i`` shows the degraded frame ``i - i % hold``: the noise is held with it, so the held frames
    are the same picture, as in a stalled video.
    """
    held: np.ndarray | None = None
    for index, frame in enumerate(frames):
        if index % hold == 0 or held is None:
            radius = max(MIN_BLUR_RADIUS, min(frame.shape[:2]) * BLUR_FRACTION)
            blurred = np.asarray(Image.fromarray(frame).filter(ImageFilter.GaussianBlur(radius)), np.float32)
            noisy = blurred + rng.normal(0.0, NOISE_SIGMA, size=blurred.shape).astype(np.float32)
            held = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        yield held


def video_degraded_copy(*, video: Video, seed: int = 0) -> Video:
    """The degraded copy of ``video`` (blurred, frozen every few frames, noisy), made once and reused.

    The copy is recorded as a gold stimulus of the same method, identity, prompt and seed, encoded at the
    source's exact frame rate. Raises MediaError when the source cannot be decoded or the copy would not
    have the source's shape (nothing is then left on disk or in the database).
    """
    if video.is_gold_stimulus:
        raise MediaError(f"video {video.pk} is itself a gold stimulus; degrade a video of a method")
    existing = Video.objects.filter(gold_source=video).first()
    if existing is not None:
        return existing
    rng = np.random.default_rng([seed, video.pk])
    try:
        with av.open(str(media.media_path(str(video.file.name)))) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if not rate:
                raise MediaError(f"video {video.pk} has no frame rate to keep")
            decoded = (frame.to_ndarray(format="rgb24") for frame in container.decode(stream))
            name = media.encode_mp4(degrade_frames(decoded, rng=rng), fps=Fraction(rate))
    except av.FFmpegError as error:
        raise MediaError(f"video {video.pk} could not be decoded ({error.__class__.__name__})") from error
    with transaction.atomic():
        copy = _video_record(
            name=name,
            method=video.method,
            identity=video.identity,
            prompt=video.prompt,
            seed=video.seed,
            settings={
                "gold": "degraded",
                "hold_frames": HOLD_FRAMES,
                "noise_sigma": NOISE_SIGMA,
                "blur_fraction": BLUR_FRACTION,
                "seed": seed,
            },
            origin=video.origin,
            gold_source=video,
        )
        if not video_shapes_match(copy, video):
            media.delete_stored([copy.file.name, copy.poster.name])
            raise MediaError(
                f"the degraded copy of video {video.pk} came out {copy.width}×{copy.height}, "
                f"{copy.num_frames} frames at {copy.fps} fps ({copy.codec}); the source is "
                f"{video.width}×{video.height}, {video.num_frames} frames at {video.fps} fps ({video.codec})"
            )
    return copy
