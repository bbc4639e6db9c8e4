from __future__ import annotations

from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("", views.export_list, name="list"),
    path("start", views.export_start, name="start"),
    path("<int:run_id>/", views.export_detail, name="detail"),
    path("<int:run_id>/progress", views.export_progress, name="progress"),
    path("<int:run_id>/download", views.export_download, name="download"),
    path("<int:run_id>/delete", views.export_delete, name="delete"),
]
