"""The leaderboard and the checkpoint comparison, for study admins and the ML team."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify
from django.views.decorators.http import require_POST, require_safe

from annotate.models import Criterion, Track
from generation.models import Method
from lib.http import HtmxHttpRequest
from lib.roles import ml_work_required
from studies.models import RankingRun, Study
from studies.rankings import (
    ALL_CRITERIA,
    HALF_WIDTH_DEFAULT,
    INLINE_JUDGMENTS,
    ROUNDS_DEFAULT,
    RankingOptions,
    RankingOptionsError,
    board_methods,
    board_rows,
    boards_side_by_side,
    checkpoint_compare,
    criterion_from_query,
    half_width_from_query,
    judged_criteria,
    methods_from_query,
    options_from_query,
    ranking_run_get,
    ranking_run_start,
    scope_from_query,
    scope_judgments,
    win_rate_figure,
)
from studies.results import FIGURE_FORMATS


def scope_choices(request: HttpRequest) -> dict[str, Any]:
    """The scope form's choices and what is ticked (the metric agreement and table pages share it)."""

    def ticked(field: str) -> list[str]:
        return [part.strip() for value in request.GET.getlist(field) for part in value.split(",")]

    return {
        "query": request.GET,
        "selected_tracks": ticked("tracks"),
        "selected_studies": ticked("studies"),
        "all_tracks": Track.objects.order_by("name").only("pk", "name"),
        "all_studies": Study.objects.order_by("name").only("pk", "name"),
        "all_methods": Method.objects.order_by("name").only("pk", "name"),
        "rounds_default": ROUNDS_DEFAULT,
        "half_width_default": HALF_WIDTH_DEFAULT,
    }


def _page_url(options: RankingOptions, criterion: str) -> str:
    query = {k: v for k, v in options.query().items() if v} | {"criterion": criterion}
    return f"{reverse('rankings:leaderboard')}?{urlencode(query)}"


@require_safe
@ml_work_required
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    """The leaderboard of the chosen tracks and studies; computed at once when small, else the last one."""
    context: dict[str, Any] = scope_choices(request)
    try:
        options = options_from_query(request.GET)
        judged = judged_criteria(options.scope)
        criterion = criterion_from_query(request.GET, judged=judged)
    except RankingOptionsError as error:
        context["error"] = error
        return render(request, "studies/rankings/leaderboard.html", context, status=error.status)
    run = ranking_run_get(options)
    if run is None and judged:
        count = scope_judgments(options.scope).count()
        if count <= INLINE_JUDGMENTS:
            run = ranking_run_start(options, judgments=count)
    context |= _board_context(options, criterion, judged, run)
    return render(request, "studies/rankings/leaderboard.html", context)


def _board_context(
    options: RankingOptions, criterion: str, judged: list[str], run: RankingRun | None
) -> dict[str, Any]:
    boards = run.boards if run else {}
    context: dict[str, Any] = {
        "options": options,
        "criterion": criterion,
        "criteria": [(c, Criterion(c).label) for c in judged],
        "run": run,
        "progress_url": f"{reverse('rankings:progress')}?{urlencode(options.query())}",
        "page_url": _page_url(options, criterion),
        "query_string": urlencode({k: v for k, v in options.query().items() if v}),
    }
    if criterion == ALL_CRITERIA:
        context["labels"], context["side_by_side"] = boards_side_by_side(boards)
    elif criterion in boards:
        board = boards[criterion]
        context["board"] = board
        context["rows"] = board_rows(board)
        context["method_names"] = names = board_methods(board)
        context["matrix"] = [
            (method, list(zip(rates, counts, strict=True)))
            for method, rates, counts in zip(names, board["win_rate"], board["pair_counts"], strict=True)
        ]
    return context


@require_POST
@ml_work_required
def leaderboard_compute(request: HttpRequest) -> HttpResponse:
    try:
        options = options_from_query(request.POST)
    except RankingOptionsError as error:
        messages.error(request, error.message)
        return redirect("rankings:leaderboard")
    run = ranking_run_start(options)
    if run.status == RankingRun.Status.FAILED:
        messages.error(request, f"The leaderboard could not be computed: {run.error}")
    elif run.status != RankingRun.Status.DONE:
        messages.success(request, "The leaderboard is being computed; the last one stays until then.")
    return redirect(_page_url(options, str(request.POST.get("criterion") or ALL_CRITERIA)))


@require_safe
@ml_work_required
def leaderboard_progress(request: HtmxHttpRequest) -> HttpResponse:
    """The progress panel alone: htmx swaps it in every second while a computation runs."""
    try:
        options = options_from_query(request.GET)
    except RankingOptionsError as error:
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    if not request.htmx:
        return redirect(_page_url(options, ALL_CRITERIA))
    context = {
        "run": ranking_run_get(options),
        "options": options,
        "progress_url": f"{reverse('rankings:progress')}?{urlencode(options.query())}",
    }
    return render(request, "studies/rankings/progress_panel.html", context)


@require_safe
@ml_work_required
def leaderboard_figure(request: HttpRequest, fmt: str) -> HttpResponse:
    """The win-rate heatmap of one criterion of the last computed leaderboard of these options."""
    if fmt not in FIGURE_FORMATS:
        raise Http404("No such figure format.")
    try:
        options = options_from_query(request.GET)
    except RankingOptionsError as error:
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    criterion = str(request.GET.get("criterion") or "")
    run = ranking_run_get(options)
    board = (run.boards if run else {}).get(criterion)
    if board is None:
        raise Http404("No computed leaderboard for this criterion: open the leaderboard first.")
    title = f"{Criterion(criterion).label}: win rates"
    response = HttpResponse(
        win_rate_figure(board=board, title=title, fmt=fmt), content_type=FIGURE_FORMATS[fmt]
    )
    disposition = "inline" if request.GET.get("inline") == "1" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="win-rates-{slugify(criterion)}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@ml_work_required
def checkpoints_page(request: HttpRequest) -> HttpResponse:
    """Two methods head to head on the cases both were judged on, per criterion."""
    context: dict[str, Any] = scope_choices(request)
    if not request.GET.get("new") and not request.GET.get("old"):
        return render(request, "studies/rankings/checkpoints.html", context)
    try:
        new, old = methods_from_query(request.GET)
        scope = scope_from_query(request.GET)
        half_width = half_width_from_query(request.GET)
        rows = checkpoint_compare(new=new, old=old, scope=scope, half_width=half_width)
    except RankingOptionsError as error:
        context["error"] = error
        return render(request, "studies/rankings/checkpoints.html", context, status=error.status)
    context |= {"new": new, "old": old, "rows": rows, "half_width": half_width}
    return render(request, "studies/rankings/checkpoints.html", context)
