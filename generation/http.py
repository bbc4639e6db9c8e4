"""File responses that honour HTTP Range requests, so browsers can seek in videos."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.utils.http import http_date

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Slice:
    """A file object limited to ``length`` bytes from ``start``: FileResponse streams it in blocks."""

    def __init__(self, path: Path, start: int, length: int) -> None:
        self._handle = open(path, "rb")  # noqa: SIM115 - closed by FileResponse
        self._handle.seek(start)
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        data = self._handle.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte positions, or None when the header is not a single satisfiable range."""
    match = _RANGE.match(header.strip())
    if not match or not (match[1] or match[2]):
        return None
    if match[1]:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
    else:  # "bytes=-N": the last N bytes
        first, last = max(size - int(match[2]), 0), size - 1
    if first > last or first >= size:
        return None
    return first, last


def ranged_file_response(path: Path, range_header: str | None) -> HttpResponseBase:
    stat = path.stat()
    size = stat.st_size
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if not range_header:
        response: HttpResponseBase = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115
    else:
        span = _parse_range(range_header, size)
        if span is None:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        first, last = span
        response = FileResponse(_Slice(path, first, last - first + 1), status=206, content_type=content_type)
        response["Content-Length"] = str(last - first + 1)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Accept-Ranges"] = "bytes"
    # A validator lets the browser answer a video's Range requests from a whole copy in its cache (one
    # fetched ahead of time, say) instead of asking again.
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["ETag"] = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    # Private: the permission check must run for every viewer, so no shared cache may keep a copy.
    response["Cache-Control"] = "private, max-age=3600"
    return response
