"""Study-admin pages: create tracks, follow their progress, pause them, seat annotators, and the quality
page of each track (its raters' figures, Exclude and Include again), and the problem reports of each
track's annotators ("can't judge") to resolve."""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import SELF
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from annotate import gold, problem_reports, quality_reports, selectors, services, track_edit, vote_path
from annotate.errors import AnnotationError, GoldAnswerError, NotYours, RaterDecisionError, TrackSetupError
from annotate.forms import (
    GoldMarkForm,
    RaterExcludeForm,
    RaterIncludeForm,
    TrackAnnotatorsForm,
    TrackChecksForm,
    TrackCreateForm,
    TrackEditForm,
    TrackExtendForm,
    TrackPauseForm,
)
from annotate.models import NARRATIVE_KINDS, GoldAnswer, QualityReport, Track, TrackSeat
from annotate.quality_page import quality_figure_svg, quality_rows, sort_headers, sort_param
from lib.http import AuthenticatedHttpRequest, HtmxHttpRequest
from lib.roles import staff_required


def _track_or_404(track_id: int) -> Track:
    track = selectors.track_progress_get(track_id=track_id)
    if track is None:
        raise Http404("No such track.")
    return track


@require_safe
@staff_required
def track_list(request: HttpRequest) -> HttpResponse:
    return render(request, "annotate/manage/track_list.html", {"tracks": selectors.track_progress_list()})


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def track_new(request: HttpRequest) -> HttpResponse:
    form = TrackCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            track = services.track_create(**form.track_options())
        except TrackSetupError as error:
            form.add_error(None, error.message)
        else:
            built = track.items.count()
            messages.success(request, f"Track “{track.name}” created with {built} comparisons.")
            return redirect("manage_tracks:detail", track_id=track.pk)
    status = 400 if form.is_bound else 200
    context = {"form": form, **_new_preview(form)}
    return render(request, "annotate/manage/track_new.html", context, status=status)


@require_POST
@staff_required
def track_new_preview(request: HtmxHttpRequest) -> HttpResponse:
    """How many comparisons the creation form's choices make, as ``track_create`` would count them."""
    return _render_new_preview(request, TrackCreateForm(request.POST))


def _new_preview(form: TrackCreateForm) -> dict[str, object]:
    chosen = form.catalog_slice()
    return {
        "comparisons": services.track_comparisons_count(**chosen),
        "narrative": chosen["kind"] in NARRATIVE_KINDS,
    }


def _render_new_preview(request: HttpRequest, form: TrackCreateForm) -> HttpResponse:
    return render(request, "annotate/manage/_track_new_preview.html", _new_preview(form))


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def track_edit_page(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    form = TrackEditForm(request.POST if request.method == "POST" else None, track=track)
    if request.method == "POST" and form.is_valid():
        try:
            change = track_edit.track_edit(track=track, **form.settings())
        except TrackSetupError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _edit_message(change))
            return redirect("manage_tracks:detail", track_id=track.pk)
    context = {"track": track, "form": form, "change": None}
    return render(request, "annotate/manage/track_edit.html", context, status=400 if form.is_bound else 200)


def _edit_message(change: track_edit.PlanChange) -> str:
    parts = ["Track saved."]
    if change.reopened:
        one = change.reopened == 1
        parts.append(
            f"{change.reopened} complete comparison{'' if one else 's'} need{'s' if one else ''} votes again."
        )
    if change.completed:
        one = change.completed == 1
        parts.append(
            f"{change.completed} open comparison{' is' if one else 's are'} complete with the votes "
            f"{'it has' if one else 'they have'}."
        )
    return " ".join(parts)


@require_POST
@staff_required
def track_edit_preview(request: HtmxHttpRequest, track_id: int) -> HttpResponse:
    """What the edit form's votes per comparison would do to the track's comparisons, before saving."""
    track = _track_or_404(track_id)
    form = TrackEditForm(request.POST, track=track)
    change = (
        track_edit.track_plan_change_preview(track=track, plan=form.vote_plan()) if form.is_valid() else None
    )
    context = {"track": track, "form": form, "change": change}
    return render(request, "annotate/manage/_track_edit_consequences.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def track_extend_page(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    form = TrackExtendForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        added = services.track_extend(
            track=track, videos=form.videos(), same_method_pairs=form.cleaned_data["same_method_pairs"]
        )
        messages.success(request, f"{added} comparisons added to the track.")
        return redirect("manage_tracks:detail", track_id=track.pk)
    context = {"track": track, "form": form, "preview": None}
    return render(request, "annotate/manage/track_extend.html", context, status=400 if form.is_bound else 200)


@require_POST
@staff_required
def track_extend_preview(request: HtmxHttpRequest, track_id: int) -> HttpResponse:
    """What adding the chosen videos would do: comparisons gained, same-method pairs, shape warnings."""
    track = _track_or_404(track_id)
    form = TrackExtendForm(request.POST)
    preview = None
    if form.is_valid():
        same = form.cleaned_data["same_method_pairs"]
        preview = services.track_extend_preview(track=track, videos=form.videos(), same_method_pairs=same)
    context = {"track": track, "form": form, "preview": preview}
    return render(request, "annotate/manage/_track_extend_preview.html", context)


def _render_detail(
    request: HttpRequest,
    track: Track,
    annotators_form: TrackAnnotatorsForm,
    status: int = 200,
    checks_form: TrackChecksForm | None = None,
    gold_form: GoldMarkForm | None = None,
) -> HttpResponse:
    if checks_form is None:
        rates = {"gold_rate": track.gold_rate * 100, "repeat_rate": track.repeat_rate * 100}
        checks_form = TrackChecksForm(initial=rates)
    cost = selectors.track_cost(track=track)
    context = {
        "track": track,
        "annotators": selectors.track_annotator_progress(track=track, cost=cost),
        "cost": cost.overall,
        "session_gap_minutes": selectors.SESSION_GAP_SECONDS // 60,
        "annotators_form": annotators_form,
        "checks_form": checks_form,
        "gold_form": gold_form or GoldMarkForm(),
        "gold_available": GoldAnswer.objects.filter(criterion=track.criterion).count(),
        "shape_warnings": selectors.track_video_shape_warnings(track=track),
        "item_statuses": selectors.track_item_status_counts(track=track),
    }
    return render(request, "annotate/manage/track_detail.html", context, status=status)


@require_safe
@staff_required
def track_detail(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    return _render_detail(request, track, TrackAnnotatorsForm(track=track))


COMPARISONS_PER_PAGE = 100


@require_safe
@staff_required
def track_comparisons(request: HttpRequest, track_id: int) -> HttpResponse:
    """Each comparison of the track with its votes by outcome and where it stands; ``?status=`` one kind."""
    track = _track_or_404(track_id)
    status = request.GET.get("status", "")
    statuses = selectors.track_item_status_counts(track=track)
    if status and status not in {row.status for row in statuses}:
        known = ", ".join(row.status for row in statuses)
        return HttpResponse(f"Unknown status {status!r}: expected one of {known}.", status=400)
    page = Paginator(selectors.track_items(track=track, status=status or None), COMPARISONS_PER_PAGE)
    context = {
        "track": track,
        "statuses": statuses,
        "status": status,
        "page": page.get_page(request.GET.get("page")),
    }
    return render(request, "annotate/manage/track_comparisons.html", context)


@require_POST
@staff_required
def track_pause(request: HtmxHttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    form = TrackPauseForm(request.POST)
    if not form.is_valid():
        return HttpResponse("paused must be 1 or 0.", status=400)
    services.track_pause_set(track=track, paused=form.cleaned_data["paused"])
    if request.htmx:
        return render(request, "annotate/manage/track_status_panel.html", {"track": track})
    messages.success(request, f"Track {'paused' if track.is_paused else 'resumed'}.")
    return redirect("manage_tracks:detail", track_id=track.pk)


@require_POST
@staff_required
def track_annotators(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    form = TrackAnnotatorsForm(request.POST, track=track)
    if not form.is_valid():
        return _render_detail(request, track, form, status=400)
    services.track_annotators_set(track=track, users=form.cleaned_data["annotators"])
    messages.success(request, f"{len(form.cleaned_data['annotators'])} annotators on this track.")
    return redirect("manage_tracks:detail", track_id=track.pk)


@require_POST
@staff_required
def track_checks(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    form = TrackChecksForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, track, TrackAnnotatorsForm(track=track), status=400, checks_form=form)
    services.track_checks_set(track=track, **form.rates())
    messages.success(request, "Quality checks saved.")
    return redirect("manage_tracks:detail", track_id=track.pk)


# --- the quality page -----------------------------------------------------------------------------


def _report(track: Track) -> QualityReport | None:
    return selectors.quality_report_get(scope=quality_reports.track_scope(track))


def _quality_urls(track: Track) -> dict[str, str]:
    return {
        "progress_url": reverse("manage_tracks:quality_progress", args=[track.pk]),
        "recompute_url": reverse("manage_tracks:quality_recompute", args=[track.pk]),
        "figure_url": reverse("manage_tracks:quality_figure", args=[track.pk]),
    }


def _render_quality(
    request: HttpRequest, track: Track, *, error: str = "", failed_seat: int | None = None, status: int = 200
) -> HttpResponse:
    sort = sort_param(request.GET.get("sort"))
    report = _report(track)
    seats = selectors.track_seats_with_decisions(track=track)
    context = {
        "track": track,
        "report": report,
        "rows": quality_rows(report=report, seats=seats, sort=sort),
        "sort": sort,
        "headers": sort_headers(sort),
        "error": error,
        "failed_seat": failed_seat,
        **_quality_urls(track),
    }
    return render(request, "annotate/manage/track_quality.html", context, status=status)


@require_safe
@staff_required
def track_quality(request: HttpRequest, track_id: int) -> HttpResponse:
    return _render_quality(request, _track_or_404(track_id))


@require_POST
@staff_required
def track_quality_recompute(request: HttpRequest, track_id: int) -> HttpResponse:
    report = quality_reports.quality_report_start(scope=quality_reports.track_scope(_track_or_404(track_id)))
    if report.status == QualityReport.Status.FAILED:
        messages.error(request, f"The quality table could not be recomputed: {report.error}")
    else:
        messages.success(request, "The quality table is being recomputed; the last one stays until then.")
    return redirect("manage_tracks:quality", track_id=track_id)


@require_safe
@staff_required
def track_quality_progress(request: HtmxHttpRequest, track_id: int) -> HttpResponse:
    """The progress panel alone: htmx swaps it in every second while a computation runs."""
    track = _track_or_404(track_id)
    if not request.htmx:
        return redirect("manage_tracks:quality", track_id=track.pk)
    return render(
        request,
        "annotate/manage/quality_progress_panel.html",
        {"track": track, "report": _report(track), **_quality_urls(track)},
    )


# The figure is an image of its own (matplotlib's SVG styles its marks with style attributes, which the
# pages' policy forbids); loaded by <img>, it runs nothing.
@require_safe
@staff_required
def track_quality_figure(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    seats = selectors.track_seats_with_decisions(track=track)
    names = {rater: seat.user.get_username() for rater, seat in seats.items()}
    return svg_response(quality_figure_svg(report=_report(track), names=names))


def svg_response(svg: bytes) -> HttpResponse:
    """A quality figure on its own: it may use the style attributes matplotlib writes, nothing else."""
    response = HttpResponse(svg, content_type="image/svg+xml")
    # What csp_replace sets (its decorator is typed for views without URL arguments).
    response._csp_replace = {"style-src": [SELF, "'unsafe-inline'"]}  # type: ignore[attr-defined]
    return response


def _form_error(form: RaterExcludeForm | RaterIncludeForm) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _seat_or_404(track: Track, seat_id: int) -> TrackSeat:
    seat = TrackSeat.objects.select_related("user").filter(track=track, pk=seat_id).first()
    if seat is None:
        raise Http404("No such annotator on this track.")
    return seat


@require_POST
@staff_required
def track_gold_mark(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    form = GoldMarkForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            gold.mark_gold(
                comparison=data["comparison"],
                criterion=track.criterion,
                answer=data["answer"],
                by=request.user,  # type: ignore[arg-type]
                note=data["note"],
            )
        except GoldAnswerError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Comparison {data['comparison'].pk} is gold: {data['answer']}.")
            return redirect("manage_tracks:detail", track_id=track.pk)
    return _render_detail(request, track, TrackAnnotatorsForm(track=track), status=400, gold_form=form)


@require_POST
@staff_required
def track_gold_make(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    try:
        made = gold.make_gold_pairs(track=track, by=request.user)  # type: ignore[arg-type]
    except GoldAnswerError as error:
        form = GoldMarkForm()
        form.add_error(None, f"No gold pairs made: {error.message}")
        return _render_detail(request, track, TrackAnnotatorsForm(track=track), status=400, gold_form=form)
    messages.success(request, f"{len(made)} gold comparisons of this track's videos.")
    return redirect("manage_tracks:detail", track_id=track.pk)


def _rater_decided(
    request: AuthenticatedHttpRequest,
    track_id: int,
    seat_id: int,
    *,
    form_class: type[RaterExcludeForm] | type[RaterIncludeForm],
    decide: Callable[..., object],
    done: str,
) -> HttpResponse:
    """Exclude or include an annotator (``decide``, with the form's reason), then back to the quality
    page with ``done`` about them; a refused decision shows the page with its reason and changes nothing."""
    track = _track_or_404(track_id)
    seat = _seat_or_404(track, seat_id)
    form = form_class(request.POST)
    try:
        if not form.is_valid():
            raise RaterDecisionError(_form_error(form))
        decide(seat=seat, by=request.user, reason=form.cleaned_data["reason"])
    except RaterDecisionError as error:
        return _render_quality(request, track, error=error.message, failed_seat=seat.pk, status=error.status)
    messages.success(request, f"{seat.user.get_username()} {done}")
    return redirect("manage_tracks:quality", track_id=track.pk)


@require_POST
@staff_required
def track_rater_exclude(request: AuthenticatedHttpRequest, track_id: int, seat_id: int) -> HttpResponse:
    return _rater_decided(
        request,
        track_id,
        seat_id,
        form_class=RaterExcludeForm,
        decide=vote_path.track_seat_exclude,
        done="is excluded: their votes count nowhere now.",
    )


@require_POST
@staff_required
def track_rater_include(request: AuthenticatedHttpRequest, track_id: int, seat_id: int) -> HttpResponse:
    return _rater_decided(
        request,
        track_id,
        seat_id,
        form_class=RaterIncludeForm,
        decide=vote_path.track_seat_include,
        done="is included again: their votes count again.",
    )


@require_safe
@staff_required
def track_reports(request: HttpRequest, track_id: int) -> HttpResponse:
    """The comparisons of the track that annotators could not judge, with their open reports."""
    track = _track_or_404(track_id)
    context = {"track": track, "reported": problem_reports.problem_reports_open(track=track)}
    return render(request, "annotate/manage/track_reports.html", context)


@require_POST
@staff_required
def track_report_resolve(request: AuthenticatedHttpRequest, track_id: int, item_id: int) -> HttpResponse:
    """Fixed, removed or dismissed: every open report of the comparison at once."""
    track = _track_or_404(track_id)
    resolution = request.POST.get("resolution", "")
    try:
        closed = problem_reports.problem_reports_resolve(
            track=track, item_id=item_id, resolution=resolution, by=request.user
        )
    except NotYours as exc:
        raise Http404(exc.message) from exc
    except AnnotationError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    done = {
        "fixed": "marked fixed: the comparison is back in the pool",
        "removed": "closed: the comparison is removed from the pool",
        "dismissed": "dismissed: the comparison is back in the pool",
    }[resolution]
    messages.success(request, f"{closed} report{'s' if closed != 1 else ''} {done}.")
    return redirect("manage_tracks:reports", track_id=track.pk)
