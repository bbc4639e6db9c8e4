from __future__ import annotations

from django.urls import path

from annotate import people_views
from lib import converters  # noqa: F401  (registers the <id:...> converter)

app_name = "people"
urlpatterns = [
    path("", people_views.people_list, name="list"),
    path("add", people_views.people_add, name="add"),
    path("<id:person_id>/", people_views.person_detail, name="detail"),
    path("<id:person_id>/link", people_views.person_link, name="link"),
    path("<id:person_id>/tracks", people_views.person_tracks, name="tracks"),
    path("<id:person_id>/active", people_views.person_active, name="active"),
    path("<id:person_id>/ml-team", people_views.person_ml_team, name="ml_team"),
]
