"""Opaque media names: a stored file's name must not reveal its method, identity or seed."""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath
from typing import Any

# Only these suffixes are ever stored; anything else is refused before it reaches the disk.
MEDIA_SUFFIXES = {".mp4", ".png", ".jpg", ".jpeg", ".webp"}


def opaque_name(suffix: str) -> str:
    """A random name such as ``m/Xy/Xy3k…Q.mp4``; the two-character folder keeps directories small."""
    suffix = suffix.lower()
    if suffix not in MEDIA_SUFFIXES:
        raise ValueError(f"unsupported media suffix {suffix!r}")
    token = secrets.token_urlsafe(18)
    return f"m/{token[:2]}/{token}{suffix}"


def opaque_upload_to(instance: Any, filename: str) -> str:
    return opaque_name(PurePosixPath(filename).suffix or ".bin")
