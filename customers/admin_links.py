"""A customer's id as a link to their admin page: how every admin page (cases, orders, merges) points at one."""

from django.urls import reverse
from django.utils.html import format_html

from backoffice.accounts.admin_lists import short_id


def customer_admin_link(customer_id) -> str:
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:customers_customer_change", args=[customer_id]), customer_id
    )


def customer_admin_short_link(customer_id) -> str:
    """The same link in a change list: the id's first characters, the whole id on hover."""
    if not customer_id:
        return "-"
    return short_id(customer_id, reverse("admin:customers_customer_change", args=[customer_id]))
