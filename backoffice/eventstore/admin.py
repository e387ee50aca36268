"""A read-only window on the log: browse and filter events; nothing can be added, changed or deleted here."""

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.admin_read_only import ReadOnlyAdmin

from . import store
from .models import Event, ProjectionCheckpoint


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("position", "type", "channel", "stream", "version", "customer_id", "occurred_at", "recorded_at")
    list_filter = ("type", "channel")
    search_fields = ("=stream", "=customer_id", "=id", "type")
    list_per_page = 100
    show_full_result_count = False  # counting millions of events for every page is the slow part
    date_hierarchy = "occurred_at"
    readonly_fields = (
        "position",
        "id",
        "stream",
        "version",
        "type",
        "schema_version",
        "channel",
        "customer_id",
        "occurred_at",
        "recorded_at",
        "readable_data",
        "metadata",
    )
    fields = readonly_fields

    @admin.display(description=_("data"))
    def readable_data(self, obj: Event):
        # Decrypted through the store, so an erased customer's personal fields show as "[erased]".
        event = next(iter(store.read_positions([obj.position])), None)
        shown = event.data if event else obj.data
        return format_html("<pre>{}</pre>", json.dumps(shown, indent=2, ensure_ascii=False))

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and super().has_view_permission(request, obj)


@admin.register(ProjectionCheckpoint)
class ProjectionCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("name", "position", "updated_at")
