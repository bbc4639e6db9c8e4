"""The metrics' agreement with people and the paper table, under /manage/metrics/agreement/."""

from django.urls import path

from lib import converters  # noqa: F401  (registers the <id:...> converter)
from studies import metric_agreement_views

app_name = "metric_agreement"
urlpatterns = [
    path("", metric_agreement_views.agreement_page, name="agreement"),
    path("figure.<str:fmt>", metric_agreement_views.agreement_figure_download, name="figure"),
    path("comparisons/<id:comparison_id>/", metric_agreement_views.comparison_page, name="comparison"),
    path("table/", metric_agreement_views.table_page, name="table"),
    path("table.<str:fmt>", metric_agreement_views.table_download, name="table_download"),
]
