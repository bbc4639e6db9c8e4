"""The annotator's pages: my tracks, the work page with its comparison panel, watch reports, votes, undo,
and "can't judge" (a problem report)."""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from annotate import selectors, services
from annotate.errors import AnnotationError, NotYours
from annotate.models import Assignment, ProblemReport, Side, Track
from annotate.vote_path import (
    Work,
    assignment_wait_record,
    assignment_watch_record,
    judgment_submit_and_next,
    judgment_undo_last,
    problem_report_create,
    work_for,
)
from lib.http import HtmxHttpRequest

PANEL_TEMPLATE = "annotate/_comparison_panel.html"  # Jinja2: see settings.TEMPLATES
# The annotator's "start the next pair by itself", mirrored in the session (read with it on every request)
# so that the panel rendered on every vote costs no query for it.
AUTOPLAY_SESSION_KEY = "annotate.autoplay_next"
CHECKBOX_VALUES = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


class BadInput(ValueError):
    """A malformed form field: a 400 that names the field."""


def _track_or_404(request: HtmxHttpRequest, track_id: int) -> Track:
    # Not seated and no such track look the same from outside: a 404 either way.
    track = selectors.annotator_track_get(user=request.user, track_id=track_id)
    if track is None:
        raise Http404("No such track.")
    return track


def _assignment_or_404(request: HtmxHttpRequest, track_id: int, assignment_id: int) -> Assignment:
    assignment = selectors.annotator_assignment_get(
        user=request.user, track_id=track_id, assignment_id=assignment_id
    )
    if assignment is None:
        raise Http404("No such comparison.")
    return assignment


def _fraction(request: HtmxHttpRequest, field: str) -> float:
    try:
        value = float(request.POST[field])
    except (KeyError, ValueError):
        raise BadInput(f"{field} must be a number between 0 and 1.") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise BadInput(f"{field} must be a number between 0 and 1.")
    return value


def _number(request: HtmxHttpRequest, field: str) -> float:
    """A finite number of milliseconds; how plausible it is, the service decides."""
    try:
        value = float(request.POST[field])
    except (KeyError, ValueError):
        raise BadInput(f"{field} must be a number of milliseconds.") from None
    if not math.isfinite(value):
        raise BadInput(f"{field} must be a number of milliseconds.")
    return value


def _milliseconds(request: HtmxHttpRequest, field: str) -> int | None:
    raw = request.POST.get(field, "").strip()
    if not raw:
        return None  # a vote without script or before both videos loaded has no timing
    try:
        return max(0, int(float(raw)))
    except (ValueError, OverflowError):
        raise BadInput(f"{field} must be a whole number of milliseconds.") from None


def _autoplay_next(request: HtmxHttpRequest) -> bool:
    """The annotator's setting: from the database on a full page, from the session's copy of it after."""
    partial = bool(request.htmx and not request.htmx.boosted)
    if partial and AUTOPLAY_SESSION_KEY in request.session:
        return bool(request.session[AUTOPLAY_SESSION_KEY])
    chosen = selectors.annotator_autoplay_next(user=request.user)
    if request.session.get(AUTOPLAY_SESSION_KEY) != chosen:
        request.session[AUTOPLAY_SESSION_KEY] = chosen
    return chosen


def _story(work: Work) -> selectors.StoryPanel | None:
    """A narrative comparison's shots and prompts (one more read, on narrative tracks only)."""
    if work.panel is None or not work.track.is_narrative:
        return None
    assignment = work.panel.assignment
    return selectors.story_panel_get(
        track=work.track, item_id=assignment.item_id, shown_left=assignment.shown_left
    )


def _render(
    request: HtmxHttpRequest, work: Work, *, error: str = "", notice: str = "", status: int = 200
) -> HttpResponse:
    """The work page, or only its comparison panel for htmx: the comparison plus any message."""
    partial = bool(request.htmx and not request.htmx.boosted)
    context = {
        "track": work.track,
        "panel": work.panel,
        "autoplay_next": _autoplay_next(request),
        "error": error,
        "notice": notice,
        "fragment": partial,  # the panel alone, for htmx: see the template's note on CSRF
        "report_reasons": ProblemReport.Reason.choices,
        "story": _story(work),
    }
    if partial:
        # Rendered on every vote: the panel needs no request (its forms carry no CSRF field here).
        return HttpResponse(render_to_string(PANEL_TEMPLATE, context, using="jinja2"), status=status)
    # The page is a Django template; its panel the same Jinja2 one an htmx answer swaps in.
    panel_html = render_to_string(PANEL_TEMPLATE, context, request=request, using="jinja2")
    context["panel_html"] = mark_safe(panel_html)  # escaped by Jinja2 as it rendered
    return render(request, "annotate/track_work.html", context, status=status)


def _render_work(
    request: HtmxHttpRequest,
    track_id: int,
    *,
    assignment: Assignment | None = None,
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    """The work page with the current comparison (handing out one if needed) and any message."""
    # Fetched after any write, so the counts include the vote just given.
    track = selectors.annotator_track_progress_get(user=request.user, track_id=track_id)
    if track is None:
        raise Http404("No such track.")
    try:
        work = work_for(track=track, user=request.user, assignment=assignment)
    except AnnotationError as exc:
        if isinstance(exc, NotYours):
            raise Http404(exc.message) from exc
        work = Work(track=track, panel=None)
        if not error:  # a refused vote keeps its own reason; otherwise say why nothing is shown
            error, status = exc.message, exc.status
    return _render(request, work, error=error, notice=notice, status=status)


def _refused(request: HtmxHttpRequest, track_id: int, exc: AnnotationError) -> HttpResponse:
    """A refused write: the current comparison again, with the reason and the error's status."""
    if isinstance(exc, NotYours):
        raise Http404(exc.message) from exc
    return _render_work(request, track_id, error=exc.message, status=exc.status)


@require_GET
@login_required
def track_list(request: HtmxHttpRequest) -> HttpResponse:
    tracks = selectors.annotator_tracks(user=request.user)
    return render(request, "annotate/track_list.html", {"tracks": tracks})


@require_GET
@login_required
def track_work(request: HtmxHttpRequest, track_id: int) -> HttpResponse:
    return _render_work(request, track_id)


@require_POST
@login_required
def assignment_watch(request: HtmxHttpRequest, track_id: int, assignment_id: int) -> HttpResponse:
    assignment = _assignment_or_404(request, track_id, assignment_id)
    try:
        left, right = _fraction(request, "watched_left"), _fraction(request, "watched_right")
    except BadInput as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    left_is_a = assignment.shown_left == Side.A
    recorded = assignment_watch_record(
        assignment_id=assignment.pk,
        user=request.user,
        watched_a=left if left_is_a else right,
        watched_b=right if left_is_a else left,
    )
    # The server's view, in the page's left/right terms: the player unlocks voting from this, not its own.
    return JsonResponse(
        {
            "watched_left": recorded.watched_a if left_is_a else recorded.watched_b,
            "watched_right": recorded.watched_b if left_is_a else recorded.watched_a,
        }
    )


@require_POST
@login_required
def assignment_wait(request: HtmxHttpRequest, track_id: int, assignment_id: int) -> HttpResponse:
    """The player's report of the wait before this comparison's videos could play through."""
    assignment = _assignment_or_404(request, track_id, assignment_id)
    try:
        wait_ms = _number(request, "wait_ms")
    except BadInput as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    recorded = assignment_wait_record(assignment_id=assignment.pk, user=request.user, wait_ms=wait_ms)
    return JsonResponse({"wait_ms": recorded.wait_ms})


@require_POST
@login_required
def assignment_vote(request: HtmxHttpRequest, track_id: int, assignment_id: int) -> HttpResponse:
    try:
        response_ms = _milliseconds(request, "response_ms")
    except BadInput as exc:
        _assignment_or_404(request, track_id, assignment_id)  # someone else's assignment stays a 404
        return _render_work(request, track_id, error=str(exc), status=400)
    try:
        # The vote and the next comparison in one transaction; the answer shows the next one.
        work = judgment_submit_and_next(
            track_id=track_id,
            assignment_id=assignment_id,
            user=request.user,
            side_choice=request.POST.get("choice", ""),
            response_ms=response_ms,
        )
    except AnnotationError as exc:
        return _refused(request, track_id, exc)
    if not request.htmx:
        return redirect("annotate:track_work", track_id=track_id)  # post/redirect/get without script
    return _render(request, work)


@require_POST
@login_required
def vote_undo(request: HtmxHttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(request, track_id)
    try:
        assignment = judgment_undo_last(track=track, user=request.user)
    except AnnotationError as exc:
        return _refused(request, track_id, exc)
    notice = "Your last vote was taken back: this comparison is yours to answer again."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("annotate:track_work", track_id=track_id)
    return _render_work(request, track_id, assignment=assignment, notice=notice)


@require_POST
@login_required
def autoplay_set(request: HtmxHttpRequest) -> HttpResponse:
    """The annotator's "start the next pair by itself": a checkbox, so absent means off."""
    value = CHECKBOX_VALUES.get(request.POST.get("autoplay_next", "off").lower())
    if value is None:
        return HttpResponse("autoplay_next must be on or off.", status=400, content_type="text/plain")
    services.annotator_settings_set(user=request.user, autoplay_next=value)
    request.session[AUTOPLAY_SESSION_KEY] = value
    return HttpResponse(status=204)  # saved; the page already shows the box as the annotator left it


@require_POST
@login_required
def assignment_report(request: HtmxHttpRequest, track_id: int, assignment_id: int) -> HttpResponse:
    """ "Can't judge": the report is stored, not counted as a vote, and the next comparison shown."""
    try:
        work = problem_report_create(
            track_id=track_id,
            assignment_id=assignment_id,
            user=request.user,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        )
    except AnnotationError as exc:
        return _refused(request, track_id, exc)
    notice = "Thank you: your report was stored and this comparison was skipped."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("annotate:track_work", track_id=track_id)
    return _render(request, work, notice=notice)
