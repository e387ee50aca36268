"""The WSGI application: Django's handler, and a lean one for machines' signed requests.

Provider webhooks, shop webhooks and the tracking API are called by machines that sign each request or present a key
(Twilio, Meta, the ESPs through anymail, Shopify, WooCommerce, the Segment-spec SDKs): they have no session, no login,
no second factor, no CSRF token, no language to negotiate and no page to frame. Their paths (MACHINE_PATH_PREFIXES)
go through the same Django with only MACHINE_MIDDLEWARE (request id and logs, security headers, replica routing):
a third of a small request's CPU was the rest of the stack. Everything else goes through settings.MIDDLEWARE.
"""

import os

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.production")
web = get_wsgi_application()  # sets Django up


class MachineHandler(WSGIHandler):
    """Django's WSGI handler whose middleware chain is settings.MACHINE_MIDDLEWARE (in settings.MIDDLEWARE's order)."""

    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = [name for name in full if name in settings.MACHINE_MIDDLEWARE]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


machine = MachineHandler()
_prefixes = tuple(settings.MACHINE_PATH_PREFIXES)


def application(environ, start_response):
    handler = machine if environ.get("PATH_INFO", "").startswith(_prefixes) else web
    return handler(environ, start_response)
