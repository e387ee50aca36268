"""A read-only window on the log: browse and filter events; nothing can be added, changed or deleted here."""

import json

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.admin_lists import customer_admin_short_link, labelled_column, labelled_filter
from backoffice.accounts.admin_read_only import ReadOnlyAdmin
from backoffice.accounts.admin_roles import RoleActedAdmin
from backoffice.accounts.roles import Role

from . import projector, store
from .models import Event, ProjectionCheckpoint, ProjectionFailure
from .vocabulary import CHANNEL_LABELS


class StaffReadOnlyAdmin(ReadOnlyAdmin):
    """The log and its readers' state are shown to active staff only, whatever model permissions a user was given."""

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        user = request.user
        return user.is_active and user.is_staff and super().has_view_permission(request, obj)


@admin.register(Event)
class EventAdmin(StaffReadOnlyAdmin):
    # recorded_at on the detail page only: the position already orders the list as it was recorded, and with it
    # the list did not fit 1440 pixels.
    list_display = ("position", "type", "channel_label", "stream_shown", "version", "customer", "occurred_at")
    list_filter = ("type", labelled_filter("channel", _("channel"), CHANNEL_LABELS))
    search_fields = ("=stream", "=customer_id", "=id", "type")
    # Newest first: who opens the log is looking for what just happened (a store's sale, a webhook), not for 2025.
    ordering = ("-position",)
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

    channel_label = labelled_column("channel", _("channel"), CHANNEL_LABELS)

    @admin.display(description=_("stream"), ordering="stream")
    def stream_shown(self, obj: Event) -> str:
        """A stream named after a UUID as its kind and the UUID's first characters, "customer-33ce3118…" (the whole
        name on hover); other names as they are."""
        kind, _dash, rest = obj.stream.partition("-")
        if len(rest) == 36 and rest.count("-") == 4:
            return format_html('<span title="{}">{}-{}…</span>', obj.stream, kind, rest[:8])
        return obj.stream

    @admin.display(description=_("customer"), ordering="customer_id")
    def customer(self, obj: Event) -> str:
        return customer_admin_short_link(obj.customer_id)

    @admin.display(description=_("data"))
    def readable_data(self, obj: Event) -> str:
        # Decrypted through the store, so an erased customer's personal fields show as "[erased]".
        event = next(iter(store.read_positions([obj.position])), None)
        shown = event.data if event else obj.data
        return format_html("<pre>{}</pre>", json.dumps(shown, indent=2, ensure_ascii=False))


@admin.register(ProjectionCheckpoint)
class ProjectionCheckpointAdmin(StaffReadOnlyAdmin):
    """Where each projection's reader stands in the log, and how far behind its head it is."""

    list_display = ("name", "mode", "position", "lag", "updated_at")
    readonly_fields = ("name", "mode", "position", "lag", "updated_at")
    fields = readonly_fields
    ordering = ("name",)

    @admin.display(description=_("mode"))
    def mode(self, obj: ProjectionCheckpoint) -> str:
        registered = {proj.name: proj.mode for proj in projector.registered_projections()}
        return {projector.ASYNC: gettext("asynchronous"), projector.INLINE: gettext("inline")}.get(
            registered.get(obj.name, ""), gettext("not registered")
        )

    @admin.display(description=_("lag (events)"))
    def lag(self, obj: ProjectionCheckpoint) -> str:
        behind = projector.events_after((obj.transaction_id, obj.position))
        if behind > projector.LAG_COUNT_LIMIT:
            return gettext("more than %(count)s") % {"count": f"{projector.LAG_COUNT_LIMIT:,}"}
        return f"{behind:,}"


@admin.register(ProjectionFailure)
class ProjectionFailureAdmin(RoleActedAdmin, StaffReadOnlyAdmin):
    """Events an asynchronous projection (or a rebuild) could not apply and went past. Retry after the fix."""

    # Retrying writes read models: administrators only (the list itself is for whoever may see the log).
    action_roles = (Role.ADMIN,)

    list_display = ("projection", "position", "event_type", "stream", "short_error", "attempts", "failed_at", "state")
    list_filter = ("projection", ("resolved_at", admin.EmptyFieldListFilter), "event_type")
    search_fields = ("=projection", "=event_id", "=stream")
    readonly_fields = (
        "projection",
        "position",
        "event_id",
        "event_type",
        "stream",
        "error",
        "attempts",
        "failed_at",
        "last_attempt_at",
        "resolved_at",
    )
    fields = readonly_fields
    actions = ("retry",)

    @admin.display(description=_("error"))
    def short_error(self, obj: ProjectionFailure) -> str:
        return obj.error if len(obj.error) <= 120 else obj.error[:119] + "…"

    @admin.display(description=_("state"))
    def state(self, obj: ProjectionFailure) -> str:
        return gettext("resolved") if obj.is_resolved else gettext("open")

    @admin.action(description=_("Apply the selected events again"))
    def retry(self, request: HttpRequest, queryset: QuerySet[ProjectionFailure]) -> None:
        outcomes = [projector.failure_retry(failure_id=pk) for pk in queryset.values_list("pk", flat=True)]
        resolved = sum(outcomes)
        if resolved:
            self.message_user(request, _("%(count)d event(s) applied.") % {"count": resolved}, messages.SUCCESS)
        if len(outcomes) - resolved:
            self.message_user(
                request,
                _("%(count)d event(s) failed again; the error is updated.") % {"count": len(outcomes) - resolved},
                messages.ERROR,
            )
