from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from generation.access import may_view_media
from generation.http import ranged_file_response
from generation.media import media_path
from generation.selectors import media_owner_get


@require_safe
def media_serve(request: HttpRequest, name: str) -> HttpResponse:
    owner = media_owner_get(name=name)
    # One answer for "no such file" and "not yours": a 404 reveals nothing about what exists.
    if owner is None or not may_view_media(request, owner):
        raise Http404("No such media file.")
    if settings.MEDIA_ACCEL_REDIRECT_PREFIX:
        response = HttpResponse()
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT_PREFIX.rstrip("/") + "/" + name
        response["Content-Type"] = ""  # nginx sets it from the file
        return response
    path = media_path(name)
    if not path.is_file():
        raise Http404("No such media file.")
    return ranged_file_response(path, request.headers.get("Range"))
