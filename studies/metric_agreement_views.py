"""How well the automatic metrics agree with people, and the paper table: for study admins and the ML team."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from annotate.models import Criterion
from lib.http import HtmxHttpRequest
from lib.roles import ml_work_required
from studies.metric_agreement import (
    BINS_DEFAULT,
    CARTOON_CAVEAT,
    DLIB_CAVEAT,
    agreement_figure,
    agreement_query,
    agreement_summary,
    comparison_detail,
    criterion_agreement,
    made_procedurally,
    metric_for,
)
from studies.metric_table import (
    VIDEO_SETS,
    paper_table,
    paper_table_csv,
    paper_table_latex,
    table_methods_from_query,
    video_set_from_query,
)
from studies.rankings import ALL_CRITERIA, RankingOptionsError, scope_from_query
from studies.rankings_views import scope_choices
from studies.results import FIGURE_FORMATS

TABLE_FORMATS = {"csv": "text/csv; charset=utf-8", "tex": "application/x-tex; charset=utf-8"}


def _tab_query(request: HttpRequest) -> str:
    """What the criterion tabs keep of the query: the scope and the bins (a definition is one metric's)."""
    pairs = [(f, v) for f in ("tracks", "studies", "bins") for v in request.GET.getlist(f) if v]
    return urlencode(pairs)


@require_safe
@ml_work_required
def agreement_page(request: HtmxHttpRequest) -> HttpResponse:
    """Per criterion, its metric against people's majority; "all" sums up every criterion with a metric.
    The criterion tabs swap the result alone (htmx)."""
    context: dict[str, Any] = scope_choices(request) | {
        "dlib_caveat": DLIB_CAVEAT,
        "cartoon_caveat": CARTOON_CAVEAT,
        "bins_default": BINS_DEFAULT,
        "tab_query": _tab_query(request),
        # Every criterion until the scope's judged ones are known: a refused query still shows its choice.
        "criterion": str(request.GET.get("criterion") or ALL_CRITERIA),
        "criteria": [(c, label, metric_for(c)) for c, label in Criterion.choices],
    }
    template = "studies/metrics/agreement_result.html" if request.htmx else "studies/metrics/agreement.html"
    try:
        asked = agreement_query(request.GET)
        if asked.criterion == ALL_CRITERIA:
            context["summary"] = rows = agreement_summary(scope=asked.scope, criteria=asked.judged)
        else:
            result = criterion_agreement(
                scope=asked.scope, criterion=asked.criterion, definition=asked.definition, bins=asked.bins
            )
            context["result"], rows = result, [result]
    except RankingOptionsError as error:
        context["error"] = error
        return render(request, template, context, status=error.status)
    context |= {
        "criterion": asked.criterion,
        "criteria": [(c, str(Criterion(c).label), metric_for(c)) for c in asked.judged],
        "cartoons": made_procedurally({m for row in rows if row.order for m in row.order.methods}),
    }
    return render(request, template, context)


@require_safe
@ml_work_required
def agreement_figure_download(request: HttpRequest, fmt: str) -> HttpResponse:
    """The agreement-by-gap figure of one criterion, computed from the same options as the page."""
    if fmt not in FIGURE_FORMATS:
        raise Http404("No such figure format.")
    try:
        asked = agreement_query(request.GET)
        if asked.criterion == ALL_CRITERIA:
            raise RankingOptionsError("criterion", "Choose one criterion for its figure.")
        result = criterion_agreement(
            scope=asked.scope, criterion=asked.criterion, definition=asked.definition, bins=asked.bins
        )
    except RankingOptionsError as error:
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    if result.agreement is None or not result.agreement.n:
        raise Http404(result.reason or "No comparison to draw: none is decided with both values.")
    response = HttpResponse(agreement_figure(result, fmt=fmt), content_type=FIGURE_FORMATS[fmt])
    disposition = "inline" if request.GET.get("inline") == "1" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="agreement-{slugify(asked.criterion)}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@ml_work_required
def comparison_page(request: HttpRequest, comparison_id: int) -> HttpResponse:
    """One comparison: both videos with their methods, people's votes and every metric of each."""
    detail = comparison_detail(comparison_id=comparison_id)
    if detail is None:
        raise Http404("No such comparison.")
    return render(request, "studies/metrics/comparison.html", {"detail": detail, "dlib_caveat": DLIB_CAVEAT})


def _table_options(request: HttpRequest) -> dict[str, Any]:
    scope = scope_from_query(request.GET)
    methods = table_methods_from_query(request.GET)
    videos = video_set_from_query(request.GET)
    return {"scope": scope, "methods": methods, "videos": videos}


@require_safe
@ml_work_required
def table_page(request: HttpRequest) -> HttpResponse:
    """Each chosen method's mean of every metric beside its win rates, with CSV and LaTeX downloads."""
    context: dict[str, Any] = scope_choices(request) | {
        "video_sets": VIDEO_SETS.items(),
        "selected_methods": [p.strip() for v in request.GET.getlist("methods") for p in v.split(",")],
        "download_query": request.GET.urlencode(),
        "dlib_caveat": DLIB_CAVEAT,
    }
    try:
        context["table"] = table = paper_table(**_table_options(request))
    except RankingOptionsError as error:
        context["error"] = error
        return render(request, "studies/metrics/table.html", context, status=error.status)
    context["cartoons"] = made_procedurally(table.methods)
    context["rows"] = [
        (method, [c.cells[k] for c in table.metrics], [r.cells[k] for r in table.rates])
        for k, method in enumerate(table.methods)
    ]
    return render(request, "studies/metrics/table.html", context)


@require_safe
@ml_work_required
def table_download(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in TABLE_FORMATS:
        raise Http404("No such table format.")
    try:
        table = paper_table(**_table_options(request))
    except RankingOptionsError as error:
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    text = paper_table_csv(table) if fmt == "csv" else paper_table_latex(table)
    response = HttpResponse(text, content_type=TABLE_FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="metrics-table.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
