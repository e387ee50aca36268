"""How the admin's change lists show codes and ids: a code (a channel, a fulfilment method) by its label in the
page's language, in the column and in the filter beside it; a long id (a customer's UUID) as its first characters
with the whole id on hover. A Spanish page listed "whatsapp", "pickup" and 36-character ids wrapped over four lines,
and at 1440 pixels the last columns of the customer and order lists were out of sight."""

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString


def labelled_filter(field: str, title: Any, labels: Mapping[Any, Any]) -> type[admin.SimpleListFilter]:
    """A change-list filter on `field` that offers each code of `labels` by its label, in the order of `labels`."""

    class LabelledFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(code, label) for code, label in labels.items()]

        def queryset(self, request, queryset):
            value = self.value()
            return queryset.filter(**{field: value}) if value else queryset

    LabelledFilter.title = title
    LabelledFilter.__name__ = f"{field.title().replace('_', '')}Filter"
    return LabelledFilter


def label_of(value: str | None, labels: Mapping[Any, Any]) -> str:
    """A code's label; an unknown code as it is; none as "-" (the admin's empty value)."""
    if not value:
        return "-"
    return str(labels.get(value, value))


def labelled_column(field: str, description: Any, labels: Mapping[Any, Any]):
    """A change-list column showing `field`'s code by its label, sorted by the code: `channel_label =
    labelled_column("channel", _("channel"), CHANNEL_LABELS)` in a ModelAdmin, then "channel_label" in list_display."""

    @admin.display(description=description, ordering=field)
    def column(model_admin, obj) -> str:
        return label_of(getattr(obj, field), labels)

    return column


def short_id(value: object, url: str | None = None) -> SafeString:
    """A long id as its first 8 characters (the whole id on hover), linked to `url` when given."""
    whole = str(value)
    shown = whole if len(whole) <= 12 else f"{whole[:8]}…"
    if url:
        return format_html('<a href="{}" title="{}">{}</a>', url, whole, shown)
    return format_html('<span title="{}">{}</span>', whole, shown)


def customer_admin_short_link(customer_id) -> SafeString | str:
    """A customer's id in a change list, linked to their admin page: the first characters, the whole id on hover.
    By the URL's name, so the apps below `customers` (messaging, the event store) link to it too."""
    if not customer_id:
        return "-"
    return short_id(customer_id, reverse("admin:customers_customer_change", args=[customer_id]))
