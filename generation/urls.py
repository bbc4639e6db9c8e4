from __future__ import annotations

from django.urls import path

from generation import views
from lib import converters  # noqa: F401  (registers the <id:...> converter)

app_name = "generation"

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("new/", views.job_new, name="job_new"),
    path("<id:job_id>/", views.job_detail, name="job_detail"),
    path("<id:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("items/<id:item_id>/retry/", views.item_retry, name="item_retry"),
    path("upload/", views.video_upload, name="video_upload"),
]
