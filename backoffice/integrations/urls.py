"""Public paths the SDKs and shops are configured with (issue 12's contract): keep them exactly."""

from django.urls import path

from . import views

tracking_urls = [
    path("v1/batch", views.tracking, {"kind": None}, name="tracking-batch"),
    *(
        path(f"v1/{kind}", views.tracking, {"kind": kind}, name=f"tracking-{kind}")
        for kind in ("track", "identify", "page", "screen", "alias", "group")
    ),
]
webhook_urls = [
    path("integrations/shopify/webhooks", views.shopify_webhook, name="shopify-webhooks"),
    path("integrations/woocommerce/webhooks", views.woocommerce_webhook, name="woocommerce-webhooks"),
]
urlpatterns = tracking_urls + webhook_urls
