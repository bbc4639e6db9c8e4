"""Pages of the catalog: stored media for whoever may see it, and the pages of generation for study admins
and the ML team (jobs and their progress, launching, cancelling, retrying, uploading; automatic metrics)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generation import selectors, services
from generation.access import may_view_media
from generation.errors import GenerationError, UploadRefused
from generation.forms import JobLaunchForm, VideoUploadForm
from generation.http import ranged_file_response
from generation.media import media_path
from generation.models import GenerationItem, GenerationJob
from lib.http import AuthenticatedHttpRequest, HtmxHttpRequest
from lib.roles import ml_work_required

# --- media, for whoever may see it ---------------------------------------------------------------------


@require_safe
def media_serve(request: HttpRequest, name: str) -> HttpResponseBase:
    owner = selectors.media_owner_get(name=name)
    # One answer for "no such file" and "not yours": a 404 reveals nothing about what exists.
    if owner is None or not may_view_media(request, owner):
        raise Http404("No such media file.")
    if settings.MEDIA_ACCEL_REDIRECT_PREFIX:
        response = HttpResponse()
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT_PREFIX.rstrip("/") + "/" + name
        response["Content-Type"] = ""  # nginx sets it from the file
        return response
    path = media_path(name)
    if not path.is_file():
        raise Http404("No such media file.")
    return ranged_file_response(path, request.headers.get("Range"))


# --- generation jobs, for study admins and the ML team -------------------------------------------------


@require_safe
@ml_work_required
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    # htmx polls for the table alone while jobs run; the page includes the same partial.
    template = "generation/job_table.html" if request.htmx else "generation/job_list.html"
    progress = selectors.job_progress_list()
    polling = any(not row.job.is_finished for row in progress)
    return render(request, template, {"jobs": progress, "polling": polling})


@require_http_methods(["GET", "HEAD", "POST"])
@ml_work_required
def job_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = JobLaunchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.generation_job_create(**form.job_options(), created_by=request.user)
        except GenerationError as error:
            form.add_error(None, str(error))
        else:
            what = "story renderings" if job.story_mode else "videos"
            messages.success(request, f"Job {job.pk} queued: {job.items.count()} {what}.")
            return redirect("generation:job_detail", job_id=job.pk)
    status = 400 if form.is_bound else 200
    return render(request, "generation/job_new.html", {"form": form}, status=status)


@require_safe
@ml_work_required
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    progress = selectors.job_progress_get(job_id=job_id)
    if progress is None:
        raise Http404("No such job.")
    template = "generation/job_panel.html" if request.htmx else "generation/job_detail.html"
    context = {
        "progress": progress,
        "items": selectors.job_items(job=progress.job),
        "shape_warnings": selectors.job_track_shape_warnings(job=progress.job),
    }
    return render(request, template, context)


@require_POST
@ml_work_required
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = services.generation_job_cancel(job=get_object_or_404(GenerationJob, pk=job_id))
    messages.success(request, f"Job {job.pk}: cancelled what was not made yet.")
    return redirect("generation:job_detail", job_id=job.pk)


@require_POST
@ml_work_required
def item_retry(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(GenerationItem, pk=item_id)
    try:
        services.generation_item_retry(item=item)
    except GenerationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Seed {item.seed} of {item.identity.slug} · {item.prompt.slug} queued again."
        )
    return redirect("generation:job_detail", job_id=item.job_id)


@require_http_methods(["GET", "HEAD", "POST"])
@ml_work_required
def video_upload(request: HttpRequest) -> HttpResponse:
    form = VideoUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            video = services.video_upload(
                upload=data["file"],
                method=data["method"],
                identity=data["identity"],
                prompt=data["prompt"],
                seed=data["seed"],
            )
        except UploadRefused as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, f"Video stored: {video}.")
            return redirect("generation:video_upload")
    status = 400 if form.is_bound else 200
    return render(request, "generation/video_upload.html", {"form": form}, status=status)


# --- automatic metrics, for study admins and the ML team -----------------------------------------------

RUNS_SHOWN = 5


@require_safe
@ml_work_required
def metric_overview(request: HtmxHttpRequest) -> HttpResponse:
    # htmx polls for the runs alone while one runs; the page includes the same partial.
    runs = selectors.metric_run_progress_of(runs=selectors.metric_run_list()[:RUNS_SHOWN])
    context: dict[str, object] = {"runs": runs, "polling": any(not row.finished for row in runs)}
    if request.htmx:
        return render(request, "generation/metric_runs.html", context)
    summaries = selectors.metric_summaries()
    means = selectors.metric_method_means(names=[summary.spec.name for summary in summaries])
    return render(request, "generation/metrics.html", {**context, "summaries": summaries, "means": means})


@require_POST
@ml_work_required
def metric_run_start(request: AuthenticatedHttpRequest) -> HttpResponse:
    run = services.metric_run_create(created_by=request.user)
    if run.status == run.Status.DONE:
        messages.success(request, "Every video of the catalog has its current metrics already.")
    else:
        messages.success(request, f"Metric run {run.pk} queued over the catalog's {run.video_count} videos.")
    return redirect("metrics:overview")
