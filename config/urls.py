from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotate.people_views import PasswordSetView
from config.health import healthz
from config.views import home
from generation.views import media_serve

admin.site.site_header = "Preference annotation: administration"
admin.site.site_title = "Preference annotation"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("media/<path:name>", media_serve, name="media"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/welcome/<uidb64>/<token>/", PasswordSetView.as_view(), name="password_set"),
    path("tracks/", include("annotate.urls")),
    path("manage/tracks/", include("annotate.manage_urls")),
    path("manage/people/", include("annotate.people_urls")),
    path("manage/exports/", include("exports.urls")),
    path("api/", include("api.urls")),
    path("generation/", include("generation.urls")),
    path("studies/", include("studies.urls")),
    path("s/", include("studies.participant_urls")),
    path("admin/", admin.site.urls),
]
