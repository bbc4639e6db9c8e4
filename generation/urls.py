from __future__ import annotations

from django.urls import path

from generation import job_views

app_name = "generation"

urlpatterns = [
    path("", job_views.job_list, name="job_list"),
    path("new/", job_views.job_new, name="job_new"),
    path("<int:job_id>/", job_views.job_detail, name="job_detail"),
    path("<int:job_id>/cancel/", job_views.job_cancel, name="job_cancel"),
    path("items/<int:item_id>/retry/", job_views.item_retry, name="item_retry"),
    path("upload/", job_views.video_upload, name="video_upload"),
]
