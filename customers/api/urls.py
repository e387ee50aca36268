from django.urls import path

from . import views

urlpatterns = [
    path("events", views.EventsApi.as_view(), name="events"),
]
