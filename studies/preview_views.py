"""A study admin's preview of a study: every participant page as a participant sees it, counted nowhere.

No participant row, answer, matchup or quota is touched: the pages are rendered from the study and an
unsaved plan, under a "Preview" banner, and their forms lead only from one preview page to the next.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from lib.roles import staff_required
from studies import selectors
from studies.forms import ConsentForm
from studies.models import Study


def _study_or_404(pk: int) -> Study:
    study = selectors.study_get(pk=pk)
    if study is None:
        raise Http404("No such study.")
    return study


def _context(study: Study, **extra: object) -> dict[str, object]:
    return {"study": study, "participant": None, "preview": True, **extra}


@require_safe
@staff_required
def preview_information(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    texts = selectors.study_texts(study=study)
    return render(request, "studies/participant/instructions.html", _context(study, texts=texts))


@require_http_methods(["GET", "POST"])
@staff_required
def preview_consent(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study_or_404(pk)
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return redirect("studies:preview_matchup", pk=study.pk, number=1)
    context = _context(study, texts=selectors.study_texts(study=study), form=form)
    return render(request, "studies/participant/consent.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@staff_required
def preview_matchup(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    study = _study_or_404(pk)
    matchups = selectors.preview_pages(study=study)
    if not matchups:
        context = _context(
            study, message="This study has no videos to show yet: choose cases that have them."
        )
        return render(request, "studies/participant/notice.html", context, status=409)
    if not 1 <= number <= len(matchups):
        raise Http404("No such matchup in the preview.")
    if request.method == "POST":  # Previous / Next / Finish: nothing picked is kept
        go = request.POST.get("go")
        if go == "finish":
            return redirect("studies:preview_done", pk=study.pk)
        target = min(max(number - 1 if go == "previous" else number + 1, 1), len(matchups))
        return redirect("studies:preview_matchup", pk=study.pk, number=target)
    page = selectors.preview_page(study=study, matchups=matchups, position=number - 1)
    return render(request, "studies/participant/matchup.html", _context(study, page=page, error=None))


@require_safe
@staff_required
def preview_done(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "studies/participant/done.html", _context(_study_or_404(pk)))
