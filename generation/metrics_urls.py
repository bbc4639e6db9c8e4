"""The automatic metrics page, under /manage/metrics/."""

from django.urls import path

from generation import views

app_name = "metrics"
urlpatterns = [
    path("", views.metric_overview, name="overview"),
    path("runs/", views.metric_run_start, name="run_start"),
]
