"""The leaderboard and checkpoint comparison pages, under /manage/rankings/."""

from django.urls import path

from studies import rankings_views

app_name = "rankings"
urlpatterns = [
    path("", rankings_views.leaderboard_page, name="leaderboard"),
    path("compute", rankings_views.leaderboard_compute, name="compute"),
    path("progress", rankings_views.leaderboard_progress, name="progress"),
    path("figure.<str:fmt>", rankings_views.leaderboard_figure, name="figure"),
    path("checkpoints/", rankings_views.checkpoints_page, name="checkpoints"),
]
