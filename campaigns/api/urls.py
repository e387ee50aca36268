from django.urls import path

from . import views

urlpatterns = [
    path("segments", views.SegmentListApi.as_view(), name="segments"),
    path("segments/<uuid:segment_id>/preview", views.SegmentPreviewApi.as_view(), name="segment-preview"),
    path("campaigns", views.CampaignListApi.as_view(), name="campaigns"),
    path("campaigns/<uuid:campaign_id>", views.CampaignDetailApi.as_view(), name="campaign"),
    path("campaigns/<uuid:campaign_id>/approve", views.CampaignApproveApi.as_view(), name="campaign-approve"),
    path("campaigns/<uuid:campaign_id>/launch", views.CampaignLaunchApi.as_view(), name="campaign-launch"),
]
