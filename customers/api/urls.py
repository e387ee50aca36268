from django.urls import path

from . import consents, views

urlpatterns = [
    path("events", views.EventsApi.as_view(), name="events"),
    path("customers/<uuid:customer_id>/consents", consents.CustomerConsentsApi.as_view(), name="customer-consents"),
]
