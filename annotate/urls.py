from django.urls import path

app_name = "annotate"
urlpatterns: list = []
