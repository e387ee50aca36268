"""Browser-facing defences of the admin and the staff pages: a Content-Security-Policy and security headers.

The policy allows scripts only from this server or inline with the request's nonce (`{{ request.csp_nonce }}` on
the few inline scripts: the segment rule editor), so injected markup cannot run script even if escaping failed
somewhere; styles may be inline (the admin and the icon sprite use style attributes); no framing, no plugins, forms
post only here. The API (JSON, never rendered) and its Swagger UI page (drf-spectacular's template, inline script)
are left out.
"""

import secrets

from django.utils.functional import SimpleLazyObject

PROTECTED_PREFIXES = ("/admin/", "/staff/")
POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Browser features the back-office never uses, switched off for its pages.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        nonces: list[str] = []

        def make_nonce() -> str:
            nonces.append(secrets.token_urlsafe(16))
            return nonces[0]

        request.csp_nonce = SimpleLazyObject(make_nonce)
        response = self.get_response(request)
        if request.path.startswith(PROTECTED_PREFIXES):
            nonce = nonces[0] if nonces else secrets.token_urlsafe(16)
            response.setdefault("Content-Security-Policy", POLICY.format(nonce=nonce))
            response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
            response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
            # Pages about people are not kept by shared caches or the browser's back-forward cache on a shared tablet.
            response.setdefault("Cache-Control", "no-store, private")
        return response
