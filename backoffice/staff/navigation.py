"""The header's navigation, by role. Add an entry here when a page lands (cases, orders); an entry whose URL
does not exist yet is left out, so the list can name pages before they are built."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.roles import Role

ADMIN, MARKETING, SUPPORT, STORE = Role.ADMIN, Role.MARKETING, Role.SUPPORT, Role.STORE


@dataclass(frozen=True)
class NavEntry:
    url_name: str
    label: str | Promise
    roles: tuple[str, ...]


NAV: tuple[NavEntry, ...] = (
    NavEntry("staff:customer_search", _("Customers"), (ADMIN, SUPPORT, STORE)),
    NavEntry("staff:case_inbox", _("Cases"), (ADMIN, SUPPORT, STORE)),
    NavEntry("staff:stock_lookup", _("Stock"), (ADMIN, SUPPORT, STORE)),
    NavEntry("staff:till_sale", _("Till"), (STORE,)),
    NavEntry("staff:pickup_list", _("Click & collect"), (STORE,)),
    NavEntry("staff:order_lookup", _("Orders and returns"), (ADMIN, SUPPORT, STORE)),
    NavEntry("admin:index", _("Administration"), (ADMIN, MARKETING, SUPPORT)),
)


def nav_items(request, role: str | None) -> list[dict]:
    items = []
    for entry in NAV:
        if role not in entry.roles:
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        is_current = request.path.startswith(url) and url != "/"
        items.append({"url": url, "label": entry.label, "is_current": is_current})
    return items
