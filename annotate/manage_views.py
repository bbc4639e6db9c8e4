"""Study-admin pages: create tracks, follow their progress, pause them, seat annotators."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from annotate import gold, selectors, services
from annotate.errors import GoldAnswerError, TrackSetupError
from annotate.forms import GoldMarkForm, TrackAnnotatorsForm, TrackChecksForm, TrackCreateForm, TrackPauseForm
from annotate.models import GoldAnswer, Track
from lib.http import HtmxHttpRequest
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
    return render(request, "annotate/manage/track_new.html", {"form": form}, status=status)


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
    context = {
        "track": track,
        "annotators": selectors.track_annotator_progress(track=track),
        "annotators_form": annotators_form,
        "checks_form": checks_form,
        "gold_form": gold_form or GoldMarkForm(),
        "gold_available": GoldAnswer.objects.filter(criterion=track.criterion).count(),
        "shape_warnings": selectors.track_video_shape_warnings(track=track),
    }
    return render(request, "annotate/manage/track_detail.html", context, status=status)


@require_safe
@staff_required
def track_detail(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _track_or_404(track_id)
    return _render_detail(request, track, TrackAnnotatorsForm(track=track))


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
