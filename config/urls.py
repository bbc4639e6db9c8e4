from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from annotate.people_views import PasswordSetView
from config.health import healthz
from config.views import home
from generation.views import media_serve

admin.site.site_header = "Preference annotation: administration"
admin.site.site_title = "Preference annotation"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (a file served as it is, the API's JSON).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("media/<path:name>", media_serve, name="media"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/welcome/<uidb64>/<token>/", PasswordSetView.as_view(), name="password_set"),
    path("tracks/", include("annotate.urls")),
    path("manage/tracks/", include("annotate.manage_urls")),
    path("manage/people/", include("annotate.people_urls")),
    path("manage/exports/", include("exports.urls")),
    path("manage/rankings/", include("studies.rankings_urls")),
    # Before any other /manage/metrics/ include: Django tries the patterns in order.
    path("manage/metrics/agreement/", include("studies.metric_agreement_urls")),
    path("manage/metrics/", include("generation.metrics_urls")),
    path("api/", include("api.urls")),
    path("generation/", include("generation.urls")),
    path("studies/", include("studies.urls")),
    path("s/", include("studies.participant_urls")),
    path("admin/", admin.site.urls),
]

# The app's own pages for failures, with DEBUG off (Django's debug pages only when DEBUG is asked for).
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
