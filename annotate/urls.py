from __future__ import annotations

from django.urls import path

from annotate import views
from lib import converters  # noqa: F401  (registers the <id:...> converter)

app_name = "annotate"
urlpatterns = [
    path("", views.track_list, name="track_list"),
    path("settings/autoplay", views.autoplay_set, name="autoplay_set"),
    path("<id:track_id>/", views.track_work, name="track_work"),
    path("<id:track_id>/assignments/<id:assignment_id>/watch", views.assignment_watch, name="watch"),
    path("<id:track_id>/assignments/<id:assignment_id>/wait", views.assignment_wait, name="wait"),
    path("<id:track_id>/assignments/<id:assignment_id>/vote", views.assignment_vote, name="vote"),
    path("<id:track_id>/assignments/<id:assignment_id>/report", views.assignment_report, name="report"),
    path("<id:track_id>/undo", views.vote_undo, name="undo"),
]
