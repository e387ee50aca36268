from django.urls import path

from . import case_views, views

app_name = "staff"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", views.StaffLoginView.as_view(), name="login"),
    path("logout/", views.StaffLogoutView.as_view(), name="logout"),
    path("customers/", views.CustomerSearchView.as_view(), name="customer_search"),
    path("customers/<uuid:customer_id>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("cases/", case_views.CaseInboxView.as_view(), name="case_inbox"),
    path("cases/<uuid:case_id>/", case_views.CaseDetailView.as_view(), name="case_detail"),
    path("customers/<uuid:customer_id>/consents/", views.CustomerConsentView.as_view(), name="customer_consent"),
]
