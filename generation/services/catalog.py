"""Writes to the catalog. Every stored media file enters through one of these functions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction

from generation import media
from generation.errors import MediaError
from generation.models import Identity, Method, Prompt, Reference, StoryRendering, Video
from generation.services.metrics import video_metrics_queue
from lib.hashing import sha256_file


def _poster_for(video_path: Path) -> str:
    # A frame a third of the way in shows the motion better than the first one.
    return media.save_image(media.poster_from_video(video_path, at_fraction=1 / 3))


def video_create_from_frames(
    *,
    method: Method,
    identity: Identity,
    prompt: Prompt,
    seed: int,
    frames: Iterable[np.ndarray],
    fps: int,
    settings: dict[str, Any] | None = None,
    rendering: StoryRendering | None = None,
    shot: int | None = None,
) -> Video:
    """Encode generated RGB frames as H.264 MP4 with a poster, and record the video (with ``rendering``:
    shot ``shot`` of a story rendering, or without a shot its joined file)."""
    name = media.encode_mp4(frames, fps=fps)
    return _video_record(
        name=name,
        method=method,
        identity=identity,
        prompt=prompt,
        seed=seed,
        settings=settings or {},
        origin=Video.Origin.GENERATED,
        rendering=rendering,
        shot=shot,
    )


def video_import_file(
    *,
    source: Path,
    method: Method,
    identity: Identity,
    prompt: Prompt,
    seed: int,
    settings: dict[str, Any] | None = None,
    queue_metrics: bool = True,
) -> Video:
    """Store a video made elsewhere (the caller has probed it) re-encoded as the platform's own.

    The stored file tells nothing of the method that made it (no tags, no encoder string); the catalog
    keeps the original's sha256 and tags for provenance. Raises MediaError when the re-encoded frames
    are those of a video already in the catalog (the same clip with other tags). Without
    ``queue_metrics`` the caller queues the video's metrics itself (an import, after its batch).
    """
    provenance = media.original_metadata(source)
    original_sha256 = sha256_file(source)
    name, info = media.normalise_video(source)
    return _video_record(
        name=name,
        info=info,
        method=method,
        identity=identity,
        prompt=prompt,
        seed=seed,
        settings=settings or {},
        origin=Video.Origin.IMPORTED,
        original_sha256=original_sha256,
        original_metadata=provenance,
        queue_metrics=queue_metrics,
    )


def _video_record(
    *,
    name: str,
    method: Method,
    identity: Identity,
    prompt: Prompt,
    seed: int,
    settings: dict[str, Any],
    origin: str,
    info: media.VideoInfo | None = None,
    original_sha256: str = "",
    original_metadata: dict[str, Any] | None = None,
    gold_source: Video | None = None,
    rendering: StoryRendering | None = None,
    shot: int | None = None,
    queue_metrics: bool = True,
) -> Video:
    """Record a stored video file; every new video of the catalog is recorded here, and here its automatic
    metrics are queued (after the commit; not for a gold copy, which is no video of its method)."""
    path = media.media_path(name)
    written = [name]
    try:
        info = info or media.probe_video(path)
        sha256 = sha256_file(path)
        if original_sha256 and Video.objects.filter(sha256=sha256).exists():
            raise MediaError("has the same frames as a video already in the catalog (only its tags differ)")
        poster = _poster_for(path)
        written.append(poster)
        with transaction.atomic():
            video = Video.objects.create(
                method=method,
                identity=identity,
                prompt=prompt,
                seed=seed,
                file=name,
                poster=poster,
                sha256=sha256,
                bytes=path.stat().st_size,
                width=info.width,
                height=info.height,
                num_frames=info.num_frames,
                fps=info.fps,
                duration=info.duration,
                codec=info.codec,
                settings=settings,
                origin=origin,
                original_sha256=original_sha256,
                original_metadata=original_metadata or {},
                is_gold_stimulus=gold_source is not None,
                gold_source=gold_source,
                rendering=rendering,
                shot=shot,
            )
            if queue_metrics and gold_source is None:
                video_metrics_queue(video_ids=[video.pk])
            return video
    except BaseException:
        # The row was not written: nothing may stay behind on disk either.
        media.delete_stored(written)
        raise


def reference_create(
    *,
    identity: Identity,
    kind: str,
    source: Path,
    viewpoint: str = Reference.Viewpoint.UNKNOWN,
    in_three_view: bool = False,
    is_primary: bool = False,
    position: int = 0,
    note: str = "",
) -> Reference:
    """Store a reference image or clip (the caller has probed it) and record it.

    The caller has checked the identity's three-view set with the new reference (three_view_check).
    """
    written: list[str] = []
    try:
        if kind == Reference.Kind.VIDEO:
            info = media.probe_video(source)
            name = media.store_copy(source, ".mp4")
            written.append(name)
            poster = media.save_image(media.poster_from_video(media.media_path(name)))
            written.append(poster)
            shape: dict[str, Any] = {
                "width": info.width,
                "height": info.height,
                "duration": info.duration,
                "fps": info.fps,
                "num_frames": info.num_frames,
            }
        else:
            image = media.probe_image(source)
            name = media.store_copy(source, image.suffix)
            written.append(name)
            poster = ""
            shape = {"width": image.width, "height": image.height}
        with transaction.atomic():
            return Reference.objects.create(
                identity=identity,
                kind=kind,
                viewpoint=viewpoint,
                in_three_view=in_three_view,
                is_primary=is_primary,
                position=position,
                note=note,
                file=name,
                poster=poster,
                sha256=sha256_file(source),
                bytes=source.stat().st_size,
                **shape,
            )
    except BaseException:
        media.delete_stored(written)
        raise
