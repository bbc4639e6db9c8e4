from __future__ import annotations

import logging
import re

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_safe

from annotate.selectors import annotator_tracks
from generation.selectors import catalog_counts
from studies.models import Study
from studies.selectors import study_by_slug

logger = logging.getLogger(__name__)

# A participant's address: /s/<public slug>/… (studies/participant_urls.py); /s/i/<token>/ is a personal
# link, which names no study when it is wrong.
PARTICIPANT_PATH = re.compile(r"^/s/(?:(?P<invitation>i/)|(?P<slug>[-a-zA-Z0-9_]+)/)")


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {"counts": catalog_counts(), "tracks": annotator_tracks(user=request.user)}
    return render(request, "home.html", context)


def _participant_context(path: str) -> dict[str, object]:
    """For an address a participant was given: that they were, and the study it names, if any."""
    match = PARTICIPANT_PATH.match(path)
    if match is None:
        return {}
    study: Study | None = None
    if match["slug"]:
        try:
            study = study_by_slug(slug=match["slug"])
        except DatabaseError:  # the page that says something failed must not fail itself
            logger.exception("The study of a participant's error page could not be read")
    return {"participant_link": True, "study": study}


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The branded 404. Says nothing about what was asked for or why it was not found; a participant
    (under /s/) reads the study's name and contact and that the link may be incomplete."""
    context = _participant_context(request.path)
    return HttpResponseNotFound(loader.render_to_string("404.html", context, request))


def server_error(request: HttpRequest) -> HttpResponse:
    """The branded 500, rendered without the request's context processors (they may be what failed)."""
    context = _participant_context(request.path)
    return HttpResponseServerError(loader.render_to_string("500.html", context))
