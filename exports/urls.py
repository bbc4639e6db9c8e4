from __future__ import annotations

from django.urls import path

from exports import views
from lib import converters  # noqa: F401  (registers the <id:...> converter)

app_name = "exports"
urlpatterns = [
    path("", views.export_list, name="list"),
    path("start", views.export_start, name="start"),
    path("<id:run_id>/", views.export_detail, name="detail"),
    path("<id:run_id>/progress", views.export_progress, name="progress"),
    path("<id:run_id>/download", views.export_download, name="download"),
    path("<id:run_id>/delete", views.export_delete, name="delete"),
]
