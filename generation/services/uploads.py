"""Baseline videos uploaded through the browser: the same checks as import_catalog, then the catalog."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from generation import media
from generation.errors import MediaError, UploadRefused
from generation.models import Identity, Method, Prompt, Video
from generation.selectors import videos_by_file_sha256
from generation.services.catalog import video_import_file
from lib.hashing import sha256_file


def video_upload(
    *, upload: UploadedFile, method: Method, identity: Identity, prompt: Prompt, seed: int
) -> Video:
    """Probe an uploaded video like an imported one (playable H.264 yuv420p MP4) and store it re-encoded."""
    limit = settings.CATALOG_MAX_FILE_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadRefused(f"the file is {upload.size} bytes, over the {limit}-byte limit")
    with tempfile.TemporaryDirectory(prefix="upload-") as scratch:
        path = Path(scratch) / "upload.mp4"
        with open(path, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        problem = media.probe_problem(path, is_video=True)
        if problem:
            raise UploadRefused(f"{upload.name} {problem}")
        digest = sha256_file(path)
        if videos_by_file_sha256(digests=[digest]):
            raise UploadRefused(f"{upload.name} is already in the catalog")
        try:
            return video_import_file(
                source=path,
                method=method,
                identity=identity,
                prompt=prompt,
                seed=seed,
                settings={"source": "upload", "file_name": upload.name or ""},
            )
        except MediaError as error:
            raise UploadRefused(f"{upload.name} {error}") from error
