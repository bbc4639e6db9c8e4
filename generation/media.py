"""Media files: probing, H.264 encoding, posters and storage under opaque names.

Every write goes to a temporary file in the destination folder and is renamed when complete, so a
killed process never leaves a half-written file behind a stored name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from generation.errors import MediaError
from generation.storage import opaque_name

IMAGE_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}

# Raters watch in Chromium: H.264 in MP4 with 8-bit 4:2:0 chroma plays everywhere, while OpenCV's
# "mp4v", 4:4:4 or 10-bit H.264 do not. Such files are refused here rather than found blank in a study.
PLAYABLE_CODECS = {"h264"}
PLAYABLE_PIXEL_FORMATS = {"yuv420p", "yuvj420p"}
REENCODE_HINT = "re-encode with: ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p -movflags +faststart OUT.mp4"


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    suffix: str


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    num_frames: int
    fps: float
    duration: float
    codec: str


def probe_image(path: Path) -> ImageInfo:
    """Check that ``path`` is a PNG, JPEG or WebP image within the size limit."""
    limit = settings.CATALOG_MAX_IMAGE_SIDE
    try:
        with Image.open(path) as image:
            # Read the header only: the size check must come before decoding a possible bomb.
            width, height = image.size
            image_format = image.format or ""
            if image_format not in IMAGE_FORMATS:
                raise MediaError(f"is a {image_format or 'unknown'} image; PNG, JPEG or WebP expected")
            if max(width, height) > limit:
                raise MediaError(f"image is {width}×{height} pixels, larger than the {limit}-pixel limit")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise MediaError(f"is not a readable image ({error.__class__.__name__})") from error
    except Image.DecompressionBombError as error:
        raise MediaError("image is too large to decode safely") from error
    return ImageInfo(width=width, height=height, suffix=IMAGE_FORMATS[image_format])


def probe_video(path: Path) -> VideoInfo:
    """Check that ``path`` is a video that decodes to its last frame, and read its shape."""
    limit = settings.CATALOG_MAX_VIDEO_SIDE
    decoded = 0
    try:
        with av.open(str(path)) as container:
            demuxer = container.format.name
            # FFmpeg opens a PNG or JPEG as a one-frame "video" (png_pipe, image2…): not a clip.
            if demuxer.endswith("_pipe") or demuxer in ("image2", "image2pipe"):
                raise MediaError("is a still image, not a video")
            if not container.streams.video:
                raise MediaError("has no video stream")
            stream = container.streams.video[0]
            frames = container.decode(stream)
            first_frame = next(frames, None)
            if first_frame is None:
                raise MediaError("has a video stream but no decodable frame")
            width, height = first_frame.width, first_frame.height
            if max(width, height) > limit:
                raise MediaError(f"video is {width}×{height} pixels, larger than the {limit}-pixel limit")
            # A truncated file still opens and its first frames decode; only decoding to the end finds
            # out, and it must be found here rather than when a poster or a participant's player fails.
            decoded = 1
            for _ in frames:
                decoded += 1
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            num_frames = stream.frames
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = 0.0
            codec = stream.codec_context.name
    except av.FFmpegError as error:
        if decoded:
            raise MediaError(
                f"breaks off after {decoded} decodable frames: the file is truncated or damaged "
                f"({error.__class__.__name__})"
            ) from error
        raise MediaError(f"is not a readable video ({error.__class__.__name__})") from error
    if num_frames and decoded < num_frames:
        raise MediaError(
            f"has {decoded} decodable frames of the {num_frames} its header announces: "
            "the file is truncated or damaged"
        )
    if not num_frames and fps and duration:
        num_frames = round(fps * duration)
    if not duration and fps and num_frames:
        duration = num_frames / fps
    return VideoInfo(width, height, int(num_frames), round(fps, 3), round(duration, 3), codec)


def probe_problem(path: Path, *, is_video: bool) -> str:
    """Why the file is not the image or the playable video it claims to be, or "" when it is."""
    try:
        if not is_video:
            probe_image(path)
            return ""
        probe_video(path)
        with av.open(str(path)) as container:
            container_format = container.format.name
            context = container.streams.video[0].codec_context
            codec, pixel_format = context.name, context.pix_fmt
    except MediaError as error:
        return str(error)
    except Exception as error:
        # Decoders meet hostile or broken files here; whatever they raise, the answer is a refusal,
        # never a traceback.
        return f"could not be read ({error.__class__.__name__})"
    if "mp4" not in container_format.split(","):
        return f"is a {container_format} file; an MP4 file is expected ({REENCODE_HINT})"
    if codec not in PLAYABLE_CODECS:
        return f"is {codec} video, which browsers do not play; H.264 is expected ({REENCODE_HINT})"
    if pixel_format not in PLAYABLE_PIXEL_FORMATS:
        return f"is H.264 with {pixel_format} pixels, which browsers do not play ({REENCODE_HINT})"
    return ""


def _media_path(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def _atomic_target(suffix: str) -> tuple[str, Path, Path]:
    """A fresh opaque name, its final path, and a temporary path in the same folder."""
    name = opaque_name(suffix)
    final = _media_path(name)
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=final.parent, prefix=".part-", suffix=suffix)
    os.close(handle)
    return name, final, Path(temporary)


def store_copy(source: Path, suffix: str) -> str:
    """Copy ``source`` into the media folder under a new opaque name and return that name."""
    name, final, temporary = _atomic_target(suffix)
    try:
        with open(source, "rb") as reader, open(temporary, "wb") as writer:
            for block in iter(lambda: reader.read(1 << 20), b""):
                writer.write(block)
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return name


# The one encoding of every stored video, rendered here or imported: raters must not tell methods apart
# by their files. The muxer writes no "Lavf…" tag (bitexact), and the SEI NAL units, where x264 writes its
# version and every option (threads included, which depend on the machine), are filtered out.
H264_OPTIONS = {"preset": "veryfast"}
H264_CRF = 23
_MUXER_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}
_DROP_SEI = "filter_units=remove_types=6"


def encode_mp4(frames: Iterable[np.ndarray], *, fps: int | Fraction, crf: int = H264_CRF) -> str:
    """Encode RGB uint8 frames (H×W×3, even sides) as H.264 yuv420p MP4; return the stored name.

    Chromium plays this profile everywhere; ``+faststart`` puts the index first so playback can start
    before the whole file has arrived. The file carries no metadata and no encoder string.
    """
    name, final, temporary = _atomic_target(".mp4")
    try:
        with av.open(str(temporary), mode="w", format="mp4", options=dict(_MUXER_OPTIONS)) as out:
            stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), **H264_OPTIONS}
            drop_sei = av.bitstream.BitStreamFilterContext(_DROP_SEI, stream)
            first = True
            for frame_array in frames:
                if first:
                    height, width = frame_array.shape[:2]
                    if width % 2 or height % 2:
                        raise MediaError(f"frames are {width}×{height}; H.264 yuv420p needs even sides")
                    stream.width, stream.height = width, height
                    first = False
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_array), format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(drop_sei.filter(packet))
            if first:
                raise MediaError("no frames to encode")
            for packet in stream.encode():
                out.mux(drop_sei.filter(packet))
            out.mux(drop_sei.filter(None))
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return name


def normalise_video(source: Path) -> tuple[str, VideoInfo]:
    """Re-encode a probed video exactly as the platform encodes its own; return the stored name and shape.

    Only the picture survives: container and stream metadata, other streams (sound, subtitles) and the
    source's encoder strings are dropped. Frames are decoded one at a time (never the whole clip in
    memory) to RGB, as a render hands them over, and take the source's frame rate.
    """
    try:
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if not rate:
                raise MediaError("has no frame rate to keep")
            decoded = (frame.to_ndarray(format="rgb24") for frame in container.decode(stream))
            name = encode_mp4(decoded, fps=Fraction(rate))
    except av.FFmpegError as error:
        raise MediaError(f"could not be re-encoded ({error.__class__.__name__})") from error
    try:
        return name, probe_video(_media_path(name))
    except BaseException:
        delete_stored([name])
        raise


def original_metadata(source: Path) -> dict[str, Any]:
    """What the normalisation drops and provenance keeps: the container's and its streams' tags."""
    with av.open(str(source)) as container:
        streams = []
        for stream in container.streams:
            context = stream.codec_context
            streams.append(
                {
                    "type": stream.type,
                    "codec": context.name if context else "",
                    "profile": (getattr(context, "profile", None) or "") if context else "",
                    "pix_fmt": (getattr(context, "pix_fmt", None) or "") if stream.type == "video" else "",
                    "tags": _tags(stream.metadata),
                }
            )
        return {"format": container.format.name, "tags": _tags(container.metadata), "streams": streams}


def _tags(tags: Mapping[str, str]) -> dict[str, str]:
    # Kept small, and without NUL characters, which PostgreSQL's jsonb refuses.
    return {
        str(key)[:100].replace("\x00", ""): str(value)[:500].replace("\x00", "")
        for key, value in list(tags.items())[:50]
    }


def save_image(image: Image.Image, *, suffix: str = ".png") -> str:
    """Store a Pillow image under a new opaque name and return that name."""
    name, final, temporary = _atomic_target(suffix)
    try:
        image.save(temporary, format="PNG" if suffix == ".png" else "JPEG")
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return name


def poster_from_video(path: Path, *, at_fraction: float = 0.0) -> Image.Image:
    """The frame at ``at_fraction`` of the clip, as an RGB image."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or 0
        wanted = int(frames * at_fraction) if frames else 0
        for index, frame in enumerate(container.decode(stream)):
            if index >= wanted:
                return frame.to_image().convert("RGB")
    raise MediaError("has no decodable frame for a poster")


def delete_stored(names: Iterable[str | None]) -> None:
    """Remove stored files, e.g. those written by an import that was then rolled back."""
    for name in names:
        if name:
            _media_path(name).unlink(missing_ok=True)


def media_path(name: str) -> Path:
    return _media_path(name)
