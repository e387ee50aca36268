from django.urls import path

from . import views

urlpatterns = [
    path("metrics", views.MetricsApi.as_view(), name="metrics"),
    path("metrics/spend", views.SpendApi.as_view(), name="metrics-spend"),
]
