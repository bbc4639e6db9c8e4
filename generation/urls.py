from __future__ import annotations

from django.urls import path

from generation import views

app_name = "generation"

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("new/", views.job_new, name="job_new"),
    path("<int:job_id>/", views.job_detail, name="job_detail"),
    path("<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("items/<int:item_id>/retry/", views.item_retry, name="item_retry"),
    path("upload/", views.video_upload, name="video_upload"),
]
