"""Export pages: start an export, follow its progress (htmx polling), download the archive.

For study admins (staff) and the ML team; anyone else signed in gets a 404, as on the other manage pages.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from exports.forms import ExportForm
from exports.models import ExportRun
from exports.runs import (
    ExportRunBusy,
    export_run_archive_path,
    export_run_delete,
    export_run_get,
    export_run_list,
    export_run_start,
)
from lib.http import AuthenticatedHttpRequest, HtmxHttpRequest
from lib.roles import ml_work_required


def _run_or_404(run_id: int) -> ExportRun:
    run = export_run_get(run_id=run_id)
    if run is None:
        raise Http404("No such export.")
    return run


def _render_list(request: HttpRequest, form: ExportForm, status: int = 200) -> HttpResponse:
    context = {"runs": export_run_list()[:50], "form": form}
    return render(request, "exports/list.html", context, status=status)


@require_safe
@ml_work_required
def export_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request, ExportForm())


@ml_work_required
@require_POST
def export_start(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ExportForm(request.POST)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    run = export_run_start(options=form.options, user=request.user)
    if run.status == ExportRun.Status.FAILED:
        messages.error(request, f"Export {run.pk} could not be queued: {run.error}")
    else:
        messages.success(request, f"Export {run.pk} queued.")
    return redirect("exports:detail", run_id=run.pk)


@require_safe
@ml_work_required
def export_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    return render(request, "exports/detail.html", {"run": _run_or_404(run_id)})


@require_safe
@ml_work_required
def export_progress(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """The progress panel alone: htmx swaps it in every second until the run has finished."""
    run = _run_or_404(run_id)
    if not request.htmx:
        return redirect("exports:detail", run_id=run.pk)
    return render(request, "exports/progress_panel.html", {"run": run})


@require_safe
@ml_work_required
def export_download(request: HttpRequest, run_id: int) -> FileResponse:
    run = _run_or_404(run_id)
    path = export_run_archive_path(run=run)
    if path is None:
        raise Http404("This export has no archive (yet).")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@ml_work_required
@require_POST
def export_delete(request: HttpRequest, run_id: int) -> HttpResponse:
    """Delete a finished (or still queued) run and its archive, to free the disk."""
    try:
        deleted = export_run_delete(run_id=run_id)
    except ExportRunBusy as busy:
        messages.error(request, str(busy))
        return render(request, "exports/detail.html", {"run": _run_or_404(run_id)}, status=409)
    if not deleted:
        raise Http404("No such export.")
    messages.success(request, f"Export {run_id} and its archive were deleted.")
    return redirect("exports:list")
