from __future__ import annotations

from django.urls import path

from annotate import export_views

app_name = "exports"
urlpatterns = [
    path("", export_views.export_list, name="list"),
    path("start", export_views.export_start, name="start"),
    path("<int:run_id>/", export_views.export_detail, name="detail"),
    path("<int:run_id>/progress", export_views.export_progress, name="progress"),
    path("<int:run_id>/download", export_views.export_download, name="download"),
    path("<int:run_id>/delete", export_views.export_delete, name="delete"),
]
