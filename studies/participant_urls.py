"""The participant's pages, under /s/: short links that are easy to paste into a crowd platform."""

from django.urls import path

from studies import participant_views as views

app_name = "study_participant"
urlpatterns = [
    path("i/<str:token>/", views.invitation, name="invitation"),
    path("<slug:slug>/", views.join, name="join"),
    path("<slug:slug>/consent/", views.consent, name="consent"),
    path("<slug:slug>/m/<int:number>/", views.matchup, name="matchup"),
    path("<slug:slug>/m/<int:number>/watch", views.matchup_watch, name="watch"),
    path("<slug:slug>/m/<int:number>/wait", views.matchup_wait, name="wait"),
    path("<slug:slug>/done/", views.done, name="done"),
    path("<slug:slug>/withdraw/", views.withdraw, name="withdraw"),
]
