"""The study admin's pages: list, create and edit, open and close, personal links, results."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from annotate import selectors as annotate_selectors
from annotate.manage_views import svg_response
from annotate.models import QualityReport
from annotate.quality_page import STUDY_HEADERS, STUDY_SORT_KEYS, quality_figure_svg, sort_headers, sort_param
from annotate.quality_reports import quality_report_start
from lib.http import AuthenticatedHttpRequest, HtmxHttpRequest
from lib.roles import staff_required
from studies import selectors, services
from studies.errors import StudyError
from studies.forms import InvitationsForm, PowerPlanForm, StudyForm
from studies.models import Participant, Study
from studies.power import DEFAULT_ICC, study_power_plan
from studies.presets import PRESETS
from studies.quality import (
    SAME_SIDE_SHARE,
    SPEED_MIN_MATCHUPS,
    SPEEDER_SHARE,
    study_quality_rows,
    study_scope,
)
from studies.results import FIGURE_FORMATS, answers_csv, results_figure, results_table_csv, study_results


def _study_or_404(pk: int) -> Study:
    study = selectors.study_get(pk=pk)
    if study is None:
        raise Http404("No such study.")
    return study


@require_safe
@staff_required
def study_list(request: HttpRequest) -> HttpResponse:
    return render(request, "studies/study_list.html", {"studies": selectors.study_list()})


@require_http_methods(["GET", "POST"])
@staff_required
def study_create(request: HttpRequest) -> HttpResponse:
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            study = services.study_create(**form.service_arguments())
        except StudyError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Study created as a draft. Check the texts, then open it.")
            return redirect("studies:study_detail", pk=study.pk)
    return render(request, "studies/study_form.html", {"form": form, "presets": PRESETS})


@require_http_methods(["GET", "POST"])
@staff_required
def study_edit(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    form = StudyForm(request.POST or None, study=study)
    if request.method == "POST" and form.is_valid():
        try:
            services.study_update(
                study=study, question_texts=form.question_texts(), **form.service_arguments()
            )
        except StudyError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Changes saved.")
            return redirect("studies:study_detail", pk=study.pk)
    context = {"form": form, "study": study, "presets": PRESETS}
    return render(request, "studies/study_form.html", context, status=400 if form.errors else 200)


@require_safe
@staff_required
def study_detail(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    context = {
        "study": study,
        "counts": selectors.participant_counts(study=study),
        "pool": selectors.study_case_pool(study=study),
        "shape_warnings": selectors.study_video_shape_warnings(study=study),
        "gold_missing": selectors.study_gold_missing(study=study),
        "problems": services.study_setup_problems(study=study) if study.status == Study.Status.DRAFT else [],
        "join_url": request.build_absolute_uri(reverse("study_participant:join", args=[study.public_slug])),
        "invitations": selectors.invitations_list(study=study),
        "invitations_form": InvitationsForm(),
        **_power_context(study, request),
    }
    status = 400 if context["power_form"].errors else 200
    return render(request, "studies/study_detail.html", context, status=status)


def _power_context(study: Study, request: HttpRequest) -> dict[str, Any]:
    # Unbound until asked: the page first shows the plan for the default inputs.
    asked = any(key in request.GET for key in PowerPlanForm.base_fields)
    form = PowerPlanForm(request.GET if asked else {})
    plan = None
    if form.is_valid():
        plan = study_power_plan(study=study, **form.cleaned_data)
    return {"power_form": form, "power_plan": plan, "default_icc": DEFAULT_ICC}


@require_safe
@staff_required
def study_power(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The power planner alone, for htmx; without it, the study page with the planner filled in."""
    study = _study_or_404(pk)
    if not request.htmx:
        query = request.GET.urlencode()
        return redirect(
            reverse("studies:study_detail", args=[study.pk]) + (f"?{query}" if query else "") + "#power"
        )
    context = {"study": study, **_power_context(study, request)}
    status = 400 if context["power_form"].errors else 200
    return render(request, "studies/_power_panel.html", context, status=status)


@require_safe
@staff_required
def study_close(request: HttpRequest, pk: int) -> HttpResponse:
    """What closing does, before it is done: the form posts to ``study_status`` with the confirmation."""
    study = _study_or_404(pk)
    if study.status != Study.Status.OPEN:
        return redirect("studies:study_detail", pk=study.pk)
    context = {"study": study, "counts": selectors.participant_counts(study=study)}
    return render(request, "studies/study_close.html", context)


@require_POST
@staff_required
def study_status(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    status = request.POST.get("status", "")
    if status == Study.Status.CLOSED and request.POST.get("confirmed") != "yes":
        return redirect("studies:study_close", pk=study.pk)  # closing turns people away: ask first
    if status not in Study.Status.values:
        messages.error(request, "Unknown status.")
    else:
        try:
            study = services.study_status_set(study=study, status=status)
            messages.success(request, f"The study is now {study.get_status_display().lower()}.")
        except StudyError as error:
            messages.error(request, error.message)
    return redirect("studies:study_detail", pk=study.pk)


@require_POST
@staff_required
def invitations_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    form = InvitationsForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.invitations_create(study=study, count=form.cleaned_data["count"])
        except StudyError as problem:
            error = problem.message
    else:
        error = "Enter a number of links between 1 and 1000."
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(reverse("studies:study_detail", args=[study.pk]) + "#personal-links")
    context = {
        "study": study,
        "invitations": selectors.invitations_list(study=study),
        "invitations_form": form if error else InvitationsForm(),
        "invitations_error": error,
    }
    return render(request, "studies/_invitations_panel.html", context, status=400 if error else 200)


@require_safe
@staff_required
def invitations_csv(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["personal_link", "status"])
    for participant in selectors.invitations_list(study=study):
        url = request.build_absolute_uri(reverse("study_participant:invitation", args=[participant.token]))
        writer.writerow([url, participant.status])
    return _download(buffer.getvalue(), "text/csv", f"{slugify(study.name)}-personal-links.csv")


@require_safe
@staff_required
def study_results_page(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    return render(
        request, "studies/study_results.html", {"study": study, "results": study_results(study=study)}
    )


@require_safe
@staff_required
def results_figure_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    study = _study_or_404(pk)
    if fmt not in FIGURE_FORMATS:
        raise Http404("No such figure format.")
    content = results_figure(study_results(study=study), fmt=fmt)
    filename = f"{slugify(study.name) or 'study'}-results.{fmt}"
    return _download(content, FIGURE_FORMATS[fmt], filename, inline=request.GET.get("inline") == "1")


@require_safe
@staff_required
def results_csv(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    return _download(answers_csv(study=study), "text/csv", f"{slugify(study.name) or 'study'}-answers.csv")


@require_safe
@staff_required
def results_table_download(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    content = results_table_csv(study_results(study=study))
    return _download(content, "text/csv", f"{slugify(study.name) or 'study'}-results.csv")


def _download(
    content: str | bytes, content_type: str, filename: str, *, inline: bool = False
) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    # Results change with every answer: never serve a stale figure from a cache.
    response["Cache-Control"] = "no-store"
    return response


# --- the quality page ---------------------------------------------------------------------------------


def _quality_report(study: Study) -> QualityReport | None:
    return annotate_selectors.quality_report_get(scope=study_scope(study))


def _quality_urls(study: Study) -> dict[str, str]:
    return {
        "progress_url": reverse("studies:quality_progress", args=[study.pk]),
        "recompute_url": reverse("studies:quality_recompute", args=[study.pk]),
        "figure_url": reverse("studies:quality_figure", args=[study.pk]),
    }


def _render_quality(
    request: HttpRequest, study: Study, *, error: str = "", status: int = 200
) -> HttpResponse:
    sort = sort_param(request.GET.get("sort"), STUDY_SORT_KEYS)
    report = _quality_report(study)
    context = {
        "study": study,
        "report": report,
        "rows": study_quality_rows(study=study, report=report, sort=sort),
        "headers": sort_headers(sort, STUDY_HEADERS),
        "error": error,
        "speed": {
            "min_matchups": SPEED_MIN_MATCHUPS,
            "speeder_percent": round(SPEEDER_SHARE * 100),
            "same_side_percent": round(SAME_SIDE_SHARE * 100),
        },
        **_quality_urls(study),
    }
    return render(request, "studies/study_quality.html", context, status=status)


@require_safe
@staff_required
def study_quality(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_quality(request, _study_or_404(pk))


@require_POST
@staff_required
def study_quality_recompute(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    report = quality_report_start(scope=study_scope(study))
    if report.status == QualityReport.Status.FAILED:
        messages.error(request, f"The quality table could not be recomputed: {report.error}")
    else:
        messages.success(request, "The quality table is being recomputed; the last one stays until then.")
    return redirect("studies:quality", pk=study.pk)


@require_safe
@staff_required
def study_quality_progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The progress panel alone: htmx swaps it in every second while a computation runs."""
    study = _study_or_404(pk)
    if not request.htmx:
        return redirect("studies:quality", pk=study.pk)
    context = {"report": _quality_report(study), **_quality_urls(study)}
    return render(request, "annotate/manage/quality_progress_panel.html", context)


@require_safe
@staff_required
def study_quality_figure(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    report = _quality_report(study)
    names = {row["rater"]: row.get("code", "") for row in (report.raters if report else [])}
    return svg_response(quality_figure_svg(report=report, names=names))


def _participant_or_404(study: Study, participant_id: int) -> Participant:
    participant = Participant.objects.select_related("rater").filter(study=study, pk=participant_id).first()
    if participant is None:
        raise Http404("No such participant in this study.")
    return participant


def _participant_decided(
    request: AuthenticatedHttpRequest,
    pk: int,
    participant_id: int,
    *,
    decide: Callable[..., object],
    done: str,
) -> HttpResponse:
    """Exclude or include a participant (``decide``, with the posted reason), then back to the quality
    page with ``done`` about them; a refused decision shows the page with its reason and changes nothing."""
    study = _study_or_404(pk)
    participant = _participant_or_404(study, participant_id)
    try:
        decide(participant=participant, by=request.user, reason=request.POST.get("reason", ""))
    except StudyError as error:
        return _render_quality(request, study, error=error.message, status=error.status)
    code = services.participant_code(study_id=study.pk, participant_id=participant.pk)
    messages.success(request, f"Participant {code} {done}")
    return redirect("studies:quality", pk=study.pk)


@require_POST
@staff_required
def participant_exclude(request: AuthenticatedHttpRequest, pk: int, participant_id: int) -> HttpResponse:
    return _participant_decided(
        request,
        pk,
        participant_id,
        decide=services.participant_exclude,
        done="is excluded: their answers count nowhere now.",
    )


@require_POST
@staff_required
def participant_include(request: AuthenticatedHttpRequest, pk: int, participant_id: int) -> HttpResponse:
    return _participant_decided(
        request,
        pk,
        participant_id,
        decide=services.participant_include,
        done="is included again: their answers count again.",
    )
