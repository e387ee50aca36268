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


# --- The client's address behind a proxy


def _networks(entries) -> list:
    import ipaddress

    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def _parse_address(text: str):
    import ipaddress

    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The address of whoever sent the request, for login throttling (django-axes' AXES_CLIENT_IP_CALLABLE).

    `X-Forwarded-For` is believed only as far as it was written by our own proxies (TRUSTED_PROXIES: addresses or
    networks): the peer must be one of them, and the list is read from the right, skipping trusted hops, to the first
    address a trusted proxy saw connecting. Anything a client wrote there itself is to the left of that and ignored.
    Without TRUSTED_PROXIES the header is ignored: the peer's address (REMOTE_ADDR) is the client."""
    from django.conf import settings

    remote = _parse_address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return request.META.get("REMOTE_ADDR") or None
    trusted = _networks(getattr(settings, "TRUSTED_PROXIES", []))

    def is_trusted(address) -> bool:
        return any(address.version == net.version and address in net for net in trusted)

    if not is_trusted(remote):
        return str(remote)
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        address = _parse_address(hop)
        if address is None:
            break  # a trusted proxy never writes this: what follows leftwards is the client's own say
        client = address
        if not is_trusted(address):
            break
    return str(client)
