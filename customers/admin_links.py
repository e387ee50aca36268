"""A customer's id as a link to their admin page: how every admin page (cases, orders, merges) points at one."""

from django.urls import reverse
from django.utils.html import format_html


def customer_admin_link(customer_id) -> str:
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:customers_customer_change", args=[customer_id]), customer_id
    )
