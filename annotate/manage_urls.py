from django.urls import path

app_name = "manage_tracks"
urlpatterns: list = []
