from __future__ import annotations

from functools import wraps
from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.urls import path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from api import views
from lib import converters  # noqa: F401  (registers the <id:...> converter)
from lib.roles import View

# The API docs keep the site's script policy (Swagger's set-up script is a file of its own: the split
# view), but Swagger UI and Redoc style themselves with inline <style> and data: icons, and Redoc
# searches in a worker it makes from a blob.
docs_csp = csp_update({"style-src": [UNSAFE_INLINE], "img-src": ["data:"], "worker-src": ["blob:"]})


def docs_page(view: View) -> View:
    """The docs are pages read in a browser: a signed-out visitor is sent to sign in and back. A caller
    with a token (an Authorization header) gets the API's own answer instead."""
    view = docs_csp(view)

    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated and "Authorization" not in request.headers:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return page


app_name = "api"
urlpatterns = [
    path("", views.ApiRootApi.as_view(), name="root"),
    path("token/", views.TokenApi.as_view(), name="token"),
    path("identities/", views.IdentityListApi.as_view(), name="identities"),
    path("prompts/", views.PromptListApi.as_view(), name="prompts"),
    path("methods/", views.MethodListApi.as_view(), name="methods"),
    path("stories/", views.StoryListApi.as_view(), name="stories"),
    path("videos/", views.VideoListApi.as_view(), name="videos"),
    path("comparisons/", views.ComparisonListApi.as_view(), name="comparisons"),
    path("tracks/", views.TrackListApi.as_view(), name="tracks"),
    path("tracks/<id:track_id>/quality/", views.TrackQualityApi.as_view(), name="track-quality"),
    path("studies/", views.StudyListApi.as_view(), name="studies"),
    path("studies/<id:study_id>/quality/", views.StudyQualityApi.as_view(), name="study-quality"),
    path("judgments/", views.JudgmentListApi.as_view(), name="judgments"),
    path("exports/", views.ExportRunListApi.as_view(), name="exports"),
    path("exports/<id:run_id>/", views.ExportRunDetailApi.as_view(), name="export-detail"),
    path("exports/<id:run_id>/download/", views.ExportRunDownloadApi.as_view(), name="export-download"),
    path("generation-jobs/", views.GenerationJobListApi.as_view(), name="generation-jobs"),
    path(
        "generation-jobs/<id:job_id>/", views.GenerationJobDetailApi.as_view(), name="generation-job-detail"
    ),
    path(
        "generation-jobs/<id:job_id>/cancel/",
        views.GenerationJobCancelApi.as_view(),
        name="generation-job-cancel",
    ),
    path("metrics/", views.MetricOverviewApi.as_view(), name="metrics"),
    path("metrics/videos/", views.VideoMetricListApi.as_view(), name="metric-values"),
    path("metrics/runs/", views.MetricRunStartApi.as_view(), name="metric-runs"),
    path("metrics/runs/<id:run_id>/", views.MetricRunDetailApi.as_view(), name="metric-run-detail"),
    path("rankings/", views.RankingsApi.as_view(), name="rankings"),
    path("rankings/checkpoints/", views.CheckpointsApi.as_view(), name="checkpoints"),
    # Metrics against people (studies.metric_agreement, studies.metric_table).
    path("metrics/agreement/", views.MetricAgreementApi.as_view(), name="metric-agreement"),
    path("metrics/table/", views.MetricTableApi.as_view(), name="metric-table"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs_page(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc/", docs_page(SpectacularRedocView.as_view(url_name="api:schema")), name="redoc"),
    # Last: only paths ending in a slash, so that CommonMiddleware still adds a forgotten one.
    re_path(r"^.*/$", views.UnknownPathApi.as_view(), name="unknown"),
]
