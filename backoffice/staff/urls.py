from django.urls import path

from . import case_views, order_views, two_factor_views, views

app_name = "staff"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", views.StaffLoginView.as_view(), name="login"),
    path("logout/", views.StaffLogoutView.as_view(), name="logout"),
    path("two-factor/", two_factor_views.TwoFactorView.as_view(), name="two_factor"),
    path("two-factor/verify/", two_factor_views.TwoFactorVerifyView.as_view(), name="two_factor_verify"),
    path("customers/", views.CustomerSearchView.as_view(), name="customer_search"),
    path("customers/<uuid:customer_id>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("cases/", case_views.CaseInboxView.as_view(), name="case_inbox"),
    path("cases/<uuid:case_id>/", case_views.CaseDetailView.as_view(), name="case_detail"),
    path("customers/<uuid:customer_id>/consents/", views.CustomerConsentView.as_view(), name="customer_consent"),
    path("stock/", order_views.StockLookupView.as_view(), name="stock_lookup"),
    path("till/", order_views.TillSaleView.as_view(), name="till_sale"),
    path("pickups/", order_views.PickupListView.as_view(), name="pickup_list"),
    path("orders/", order_views.OrderLookupView.as_view(), name="order_lookup"),
    path("orders/<str:order_id>/", order_views.OrderDetailView.as_view(), name="order_detail"),
]
