"""The study admin's pages, under /studies/."""

from django.urls import path

from lib import converters  # noqa: F401  (registers the <id:...> converter)
from studies import preview_views, views

app_name = "studies"
urlpatterns = [
    path("", views.study_list, name="study_list"),
    path("new/", views.study_create, name="study_create"),
    path("<id:pk>/", views.study_detail, name="study_detail"),
    path("<id:pk>/edit/", views.study_edit, name="study_edit"),
    path("<id:pk>/status/", views.study_status, name="study_status"),
    path("<id:pk>/close/", views.study_close, name="study_close"),
    path("<id:pk>/preview/", preview_views.preview_information, name="preview"),
    path("<id:pk>/preview/consent/", preview_views.preview_consent, name="preview_consent"),
    path("<id:pk>/preview/m/<int:number>/", preview_views.preview_matchup, name="preview_matchup"),
    path("<id:pk>/preview/done/", preview_views.preview_done, name="preview_done"),
    path("<id:pk>/links/", views.invitations_create, name="invitations_create"),
    path("<id:pk>/links.csv", views.invitations_csv, name="invitations_csv"),
    path("<id:pk>/power/", views.study_power, name="study_power"),
    path("<id:pk>/results/", views.study_results_page, name="study_results"),
    path("<id:pk>/results/figure.<str:fmt>", views.results_figure_download, name="results_figure"),
    path("<id:pk>/results/answers.csv", views.results_csv, name="results_csv"),
    path("<id:pk>/results/table.csv", views.results_table_download, name="results_table_csv"),
    path("<id:pk>/quality/", views.study_quality, name="quality"),
    path("<id:pk>/quality/recompute", views.study_quality_recompute, name="quality_recompute"),
    path("<id:pk>/quality/progress", views.study_quality_progress, name="quality_progress"),
    path("<id:pk>/quality/figure.svg", views.study_quality_figure, name="quality_figure"),
    path(
        "<id:pk>/quality/<id:participant_id>/exclude", views.participant_exclude, name="participant_exclude"
    ),
    path(
        "<id:pk>/quality/<id:participant_id>/include", views.participant_include, name="participant_include"
    ),
]
