"""Test media for the metrics: real faces from photographs that ship inside installed packages, and videos.

``skimage.data.astronaut()`` (Eileen Collins) and matplotlib's ``grace_hopper.jpg`` are public-domain
photographs; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from matplotlib import cbook
from PIL import Image
from skimage import data


def astronaut() -> np.ndarray:
    return np.asarray(data.astronaut())


def grace_hopper() -> np.ndarray:
    with cbook.get_sample_data("grace_hopper.jpg") as stream, Image.open(stream) as image:
        return np.asarray(image.convert("RGB"))


def write_mp4(path: Path, frames: Iterable[np.ndarray], *, fps: int = 8, crf: int = 18) -> Path:
    """RGB uint8 frames (even sides) as an H.264 yuv420p MP4, as the platform stores videos."""
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        first = True
        for picture in frames:
            if first:
                stream.height, stream.width = picture.shape[:2]
                first = False
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            ):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def texture(height: int, width: int, *, seed: int = 0) -> np.ndarray:
    """Smooth random texture (blobs of a few pixels): optical flow can follow it, unlike pure noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    return cv2.resize(small, (small.shape[1] * 4, small.shape[0] * 4), interpolation=cv2.INTER_CUBIC)[
        :height, :width
    ]


def face_video(path: Path, *, frames: int = 5, person: np.ndarray | None = None) -> Path:
    """A person's head (the astronaut by default) drifting 2 px a frame over a still textured background."""
    head = astronaut()[20:260, 110:340] if person is None else person
    background = texture(320, 288, seed=1)

    def picture(index: int) -> np.ndarray:
        out = background.copy()
        top, left = 30 + index, 20 + 2 * index
        out[top : top + head.shape[0], left : left + head.shape[1]] = head
        return out

    return write_mp4(path, (picture(index) for index in range(frames)))


def pan_video(path: Path, *, height: int, width: int, frames: int, step: int) -> Path:
    """A textured picture moving ``step`` pixels a frame to the right (the camera panning left)."""
    canvas = texture(height, width + step * frames, seed=2)
    return write_mp4(
        path,
        (canvas[:, (frames - index) * step : (frames - index) * step + width] for index in range(frames)),
    )
