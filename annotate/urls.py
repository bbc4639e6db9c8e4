from __future__ import annotations

from django.urls import path

from annotate import views

app_name = "annotate"
urlpatterns = [
    path("", views.track_list, name="track_list"),
    path("<int:track_id>/", views.track_work, name="track_work"),
    path("<int:track_id>/assignments/<int:assignment_id>/watch", views.assignment_watch, name="watch"),
    path("<int:track_id>/assignments/<int:assignment_id>/vote", views.assignment_vote, name="vote"),
    path("<int:track_id>/undo", views.vote_undo, name="undo"),
]
