from django.urls import path

from . import journeys, views

urlpatterns = [
    path("segments", views.SegmentListApi.as_view(), name="segments"),
    path("segments/<uuid:segment_id>/preview", views.SegmentPreviewApi.as_view(), name="segment-preview"),
    path("campaigns", views.CampaignListApi.as_view(), name="campaigns"),
    path("campaigns/<uuid:campaign_id>", views.CampaignDetailApi.as_view(), name="campaign"),
    path("campaigns/<uuid:campaign_id>/approve", views.CampaignApproveApi.as_view(), name="campaign-approve"),
    path("campaigns/<uuid:campaign_id>/launch", views.CampaignLaunchApi.as_view(), name="campaign-launch"),
    path("journeys", journeys.JourneyListApi.as_view(), name="journeys"),
    path("journeys/<uuid:journey_id>", journeys.JourneyDetailApi.as_view(), name="journey"),
    path("journeys/<uuid:journey_id>/publish", journeys.JourneyPublishApi.as_view(), name="journey-publish"),
    path("journeys/<uuid:journey_id>/pause", journeys.JourneyPauseApi.as_view(), name="journey-pause"),
    path("journeys/<uuid:journey_id>/simulate", journeys.JourneySimulateApi.as_view(), name="journey-simulate"),
    path("journeys/<uuid:journey_id>/report", journeys.JourneyReportApi.as_view(), name="journey-report"),
]
