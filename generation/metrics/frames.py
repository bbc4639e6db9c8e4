"""Decoding the frames the metrics need, once per video, as RGB uint8 arrays at the sizes they ask for.

H.264 can only be decoded in order, so a video is decoded once from its start up to the last frame any
metric needs; only the wanted frames are converted (and scaled by libswscale) to RGB, each at every size
asked for. Nothing else is kept, so memory stays at the sampled frames.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

Size = tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class VideoShape:
    width: int
    height: int
    num_frames: int
    fps: float


def video_shape(path: Path) -> VideoShape:
    """The size, frame count and rate of a video, from its header (packets are counted when it has none)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or 0
        if not frames:
            # Some containers (WebM, raw streams) keep no count: demuxing is cheap, decoding is not needed.
            frames = sum(1 for packet in container.demux(stream) if packet.size)
        rate = stream.average_rate or stream.guessed_rate
        return VideoShape(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            num_frames=frames,
            fps=float(rate) if rate else 0.0,
        )


def evenly_spaced(count: int, total: int) -> list[int]:
    """``count`` frame indices spread evenly from the first frame to the last (all of them if fewer)."""
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    if count == 1:
        return [total // 2]
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


def consecutive_pairs(count: int, total: int) -> list[tuple[int, int]]:
    """``count`` pairs of neighbouring frames ``(i, i + 1)`` spread evenly over the video."""
    return [(first, first + 1) for first in evenly_spaced(count, total - 1)]


def scaled_size(width: int, height: int, *, long_side: int = 0, short_side: int = 0) -> Size:
    """The size a frame is scaled down to (never up): at most ``long_side`` on its long side and
    ``short_side`` on its short side, keeping the aspect ratio, with even sides for the scaler."""
    factor = 1.0
    if long_side and max(width, height) > long_side:
        factor = long_side / max(width, height)
    if short_side and min(width, height) > short_side:
        factor = min(factor, short_side / min(width, height))
    if factor >= 1.0:
        return width, height
    return max(2, round(width * factor / 2) * 2), max(2, round(height * factor / 2) * 2)


def decode_frames(path: Path, wanted: Mapping[Size, Collection[int]]) -> dict[Size, dict[int, np.ndarray]]:
    """The frames wanted at each size: ``{size: {index: H×W×3 uint8 RGB}}``.

    Indices past the video's end are left out (a header can count more frames than decode).
    """
    needed: dict[int, list[Size]] = {}
    for size, indices in wanted.items():
        for index in indices:
            needed.setdefault(index, []).append(size)
    result: dict[Size, dict[int, np.ndarray]] = {size: {} for size in wanted}
    if not needed:
        return result
    last = max(needed)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # Frame-level threads decode ahead on every core; the order of frames is kept.
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            for width, height in needed.get(index, ()):
                result[(width, height)][index] = frame.to_ndarray(
                    format="rgb24", width=width, height=height, interpolation="AREA"
                )
            if index >= last:
                break
    return result


def read_image(path: Path) -> np.ndarray:
    """An image file (PNG, JPEG, WebP) as H×W×3 uint8 RGB, turned upright as its EXIF orientation says
    (a phone photograph stored sideways would show the detector a sideways face)."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
