from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from annotate.selectors import annotator_tracks
from generation.selectors import catalog_counts


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {"counts": catalog_counts(), "tracks": annotator_tracks(user=request.user)}
    return render(request, "home.html", context)
