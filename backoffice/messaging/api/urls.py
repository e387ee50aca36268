from django.urls import path

from . import views

urlpatterns = [
    path("channels/<str:channel>/status", views.ChannelStatusApi.as_view(), name="channel-status"),
]
