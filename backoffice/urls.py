from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backoffice.api.health import health, liveness
from backoffice.messaging.providers.anymail import urlpatterns as anymail_webhooks
from backoffice.observability.views import prometheus_metrics, readiness

admin.site.site_header = _("Omnichannel back-office")
admin.site.site_title = _("Omnichannel back-office")
admin.site.index_title = _("Administration")

api_v1 = [
    path("", include("customers.api.urls")),
    path("", include("backoffice.messaging.api.urls")),
    path("", include("backoffice.messaging.providers.urls")),
    path("", include("orders.api.urls")),
    path("", include("backoffice.insights.api.urls")),
    path("", include("campaigns.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-v1:schema"), name="docs"),
]

urlpatterns = [
    path("health/", health, name="health"),
    path("health/ready/", readiness, name="readiness"),
    path("health/live/", liveness, name="liveness"),
    path("metrics", prometheus_metrics, name="metrics"),
    path("api/v1/", include((api_v1, "api-v1"))),
    # django-anymail's ESP webhooks (/anymail/<esp>/tracking/, /anymail/<esp>/inbound/), guarded by messaging.
    path("anymail/", include((anymail_webhooks, "anymail"))),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("staff/", include("backoffice.staff.urls")),
    path("", include("backoffice.integrations.urls")),
]

handler404 = "backoffice.api.problems.json_not_found"
