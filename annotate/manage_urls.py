from __future__ import annotations

from django.urls import path

from annotate import manage_views
from lib import converters  # noqa: F401  (registers the <id:...> converter)

app_name = "manage_tracks"
urlpatterns = [
    path("", manage_views.track_list, name="list"),
    path("new", manage_views.track_new, name="new"),
    path("new/preview", manage_views.track_new_preview, name="new_preview"),
    path("<id:track_id>/", manage_views.track_detail, name="detail"),
    path("<id:track_id>/edit", manage_views.track_edit_page, name="edit"),
    path("<id:track_id>/edit/preview", manage_views.track_edit_preview, name="edit_preview"),
    path("<id:track_id>/extend", manage_views.track_extend_page, name="extend"),
    path("<id:track_id>/extend/preview", manage_views.track_extend_preview, name="extend_preview"),
    path("<id:track_id>/pause", manage_views.track_pause, name="pause"),
    path("<id:track_id>/comparisons/", manage_views.track_comparisons, name="comparisons"),
    path("<id:track_id>/reports/", manage_views.track_reports, name="reports"),
    path(
        "<id:track_id>/reports/<id:item_id>/resolve", manage_views.track_report_resolve, name="report_resolve"
    ),
    path("<id:track_id>/checks", manage_views.track_checks, name="checks"),
    path("<id:track_id>/gold/mark", manage_views.track_gold_mark, name="gold_mark"),
    path("<id:track_id>/gold/make", manage_views.track_gold_make, name="gold_make"),
    path("<id:track_id>/annotators", manage_views.track_annotators, name="annotators"),
    path("<id:track_id>/quality/", manage_views.track_quality, name="quality"),
    path("<id:track_id>/quality/recompute", manage_views.track_quality_recompute, name="quality_recompute"),
    path("<id:track_id>/quality/progress", manage_views.track_quality_progress, name="quality_progress"),
    path("<id:track_id>/quality/figure.svg", manage_views.track_quality_figure, name="quality_figure"),
    path(
        "<id:track_id>/quality/<id:seat_id>/exclude", manage_views.track_rater_exclude, name="rater_exclude"
    ),
    path(
        "<id:track_id>/quality/<id:seat_id>/include", manage_views.track_rater_include, name="rater_include"
    ),
]
