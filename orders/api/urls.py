from django.urls import path

from . import catalog, orders, stock

urlpatterns = [
    path("products", catalog.ProductListApi.as_view(), name="products"),
    path("locations", catalog.LocationListApi.as_view(), name="locations"),
    path("stock", stock.StockApi.as_view(), name="stock"),
    path("stock/movements", stock.StockMovementApi.as_view(), name="stock-movements"),
    path("orders", orders.OrderPlaceApi.as_view(), name="orders"),
    path("orders/<str:order_id>", orders.OrderDetailApi.as_view(), name="order"),
    path("orders/<str:order_id>/<str:action>", orders.OrderActionApi.as_view(), name="order-action"),
]
