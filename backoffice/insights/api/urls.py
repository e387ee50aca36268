from django.urls import path

from . import views

urlpatterns = [
    path("metrics", views.MetricsApi.as_view(), name="metrics"),
    path("metrics/spend", views.SpendApi.as_view(), name="metrics-spend"),
    # The campaigns app's path; insights answers it because it owns what a campaign earned (docs/metrics.md).
    path("campaigns/<uuid:campaign_id>/report", views.CampaignReportApi.as_view(), name="campaign-report"),
]
