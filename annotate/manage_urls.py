from __future__ import annotations

from django.urls import path

from annotate import manage_views

app_name = "manage_tracks"
urlpatterns = [
    path("", manage_views.track_list, name="list"),
    path("new", manage_views.track_new, name="new"),
    path("<int:track_id>/", manage_views.track_detail, name="detail"),
    path("<int:track_id>/pause", manage_views.track_pause, name="pause"),
    path("<int:track_id>/annotators", manage_views.track_annotators, name="annotators"),
]
