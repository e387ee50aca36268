"""Public paths the SDKs and shops are configured with (issue 12's contract): keep them exactly."""

from django.urls import path

from . import views

KINDS = ("track", "identify", "page", "screen", "alias", "group")

tracking_urls = [
    path("v1/batch", views.tracking, {"kind": None}, name="tracking-batch"),
    *(path(f"v1/{kind}", views.tracking, {"kind": kind}, name=f"tracking-{kind}") for kind in KINDS),
    # analytics.js (analytics-next) posts each call to the first letter of its type (/v1/t, /v1/i...) and its
    # batching strategy to /v1/b (segmentio/index.ts, batched-dispatcher.ts): the same views under short names.
    path("v1/b", views.tracking, {"kind": None}, name="tracking-batch-short"),
    *(path(f"v1/{kind[0]}", views.tracking, {"kind": kind}, name=f"tracking-{kind}-short") for kind in KINDS),
]
webhook_urls = [
    path("integrations/shopify/webhooks", views.shopify_webhook, name="shopify-webhooks"),
    path("integrations/woocommerce/webhooks", views.woocommerce_webhook, name="woocommerce-webhooks"),
]
urlpatterns = tracking_urls + webhook_urls
