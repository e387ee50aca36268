"""Messaging in the admin: the delivery history (read-only, each message with its events) and the channel settings
operations change at run time. Changes go through the services, with the staff user as actor."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backoffice.accounts.actors import request_actor
from backoffice.accounts.admin_lists import customer_admin_short_link, labelled_column, labelled_filter, short_id
from backoffice.accounts.admin_read_only import ReadOnlyAdmin
from backoffice.accounts.admin_roles import RoleActedAdmin, RoleEditedAdmin, RoleGatedAdmin
from backoffice.accounts.admin_tables import code_html, table_html
from backoffice.accounts.roles import Role
from backoffice.eventstore.vocabulary import CHANNEL_LABELS, PURPOSE_LABELS, SUPPRESSION_REASONS, Channel

from . import selectors, services
from .errors import DeliveryError
from .events import OUTBOUND_CHANNELS
from .models import ChannelSetting, OutboundMessage, Status, UnmatchedCallback
from .services.unmatched import unmatched_callbacks_retry
from .vocabulary import DELIVERY_LABELS

# Message content and addresses are personal data: those who serve customers see them, and administrators.
HISTORY_ROLES = (Role.ADMIN, Role.SUPPORT)
OPERATIONS_ROLES = (Role.ADMIN,)
HEALTH_LABELS = {
    "backend": _("backend"),
    "honours_idempotency_key": _("honours idempotency keys (safe to resend after a crash)"),
    "webhook_url": _("webhook URL"),
    "has_webhook_secret": _("webhook secret configured"),
    "queued": _("queued"),
    "sending": _("sending"),
    "deferred": _("deferred"),
    "review": _("needs review"),
    "sent_24h": _("sent (24 h)"),
    "failed_24h": _("failed (24 h)"),
    "suppressed_24h": _("suppressed (24 h)"),
}


@admin.register(OutboundMessage)
class OutboundMessageAdmin(RoleActedAdmin, RoleGatedAdmin, ReadOnlyAdmin):
    roles = HISTORY_ROLES
    action_roles = OPERATIONS_ROLES
    # Attempts and the moment it was sent are on the message's page: with them the list did not fit 1440 pixels.
    list_display = (
        "created_at",
        "channel_label",
        "purpose_label",
        "status",
        "delivery",
        "reason_label",
        "customer",
        "origin",
    )
    list_filter = (
        labelled_filter("channel", _("channel"), {c: CHANNEL_LABELS[c] for c in OUTBOUND_CHANNELS}),
        "status",
        labelled_filter("delivery_status", _("delivery status"), DELIVERY_LABELS),
        labelled_filter("purpose", _("purpose"), PURPOSE_LABELS),
        "backend",
    )
    date_hierarchy = "created_at"
    search_fields = ("id",)
    search_help_text = _("Customer or message id, provider message id, idempotency key, campaign, case or order id")
    show_full_result_count = False
    ordering = ("-created_at",)
    actions = ["send_again"]
    channel_label = labelled_column("channel", _("channel"), CHANNEL_LABELS)
    purpose_label = labelled_column("purpose", _("purpose"), PURPOSE_LABELS)
    delivery = labelled_column("delivery_status", _("delivery status"), DELIVERY_LABELS)
    reason_label = labelled_column("reason", _("reason"), SUPPRESSION_REASONS)
    fields = (
        "id",
        "customer_id",
        "channel",
        "purpose",
        "status",
        "reason",
        "delivery_status",
        "attempts",
        "not_before",
        "sending_since",
        "backend",
        "provider_message_id",
        "idempotency_key",
        "campaign_id",
        "case_id",
        "order_id",
        "variant",
        "actor",
        "created_at",
        "sent_at",
        "event_list",
    )
    readonly_fields = fields

    @admin.display(description=_("customer"))
    def customer(self, message):
        return customer_admin_short_link(message.customer_id)

    @admin.display(description=_("origin"))
    def origin(self, message):
        # The id cut short and linked (by the URL's name: those apps are layers above this one); whole on hover.
        for label, value, url_name in (
            (_("campaign"), message.campaign_id, "admin:campaigns_campaign_change"),
            (_("case"), message.case_id, "admin:customers_case_change"),
            (_("order"), message.order_id, "admin:orders_order_change"),
        ):
            if value:
                return format_html("{} {}", label, short_id(value, reverse(url_name, args=[value])))
        return message.actor

    @admin.display(description=_("events"))
    def event_list(self, message):
        return table_html(
            (localtime(e.occurred_at).strftime("%Y-%m-%d %H:%M:%S"), e.type, code_html(e.data))
            for e in selectors.message_events(message=message)
        )

    @admin.action(description=_("Send again (failed or held for review)"))
    def send_again(self, request, queryset):
        count = 0
        for message in queryset.filter(status__in=[Status.FAILED, Status.REVIEW]):
            services.message_requeue(message_id=message.id, actor=request_actor(request))
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d message queued again.", "%(count)d messages queued again.", count) % {"count": count},
            messages.SUCCESS,
        )

    def get_search_results(self, request, queryset, search_term):
        return selectors.messages_search(queryset=queryset, term=search_term), False


@admin.register(UnmatchedCallback)
class UnmatchedCallbackAdmin(RoleActedAdmin, RoleGatedAdmin, ReadOnlyAdmin):
    """Provider callbacks about no message we know yet: what they are, how often they were tried, and a way to try
    them all again now (after a send's record was repaired, say). Content stays encrypted: ids and statuses only."""

    roles = OPERATIONS_ROLES
    action_roles = OPERATIONS_ROLES
    list_display = ("received_at", "source", "channel", "status", "provider_message_id", "state", "attempts")
    list_filter = ("state", "source", "channel", "status")
    search_fields = ("provider_message_id",)
    fields = (
        "source",
        "channel",
        "status",
        "provider_message_id",
        "state",
        "attempts",
        "received_at",
        "next_attempt_at",
        "applied_at",
    )
    readonly_fields = fields
    actions = ["try_again"]

    @admin.action(description=_("Try every waiting callback again now"))
    def try_again(self, request, queryset):
        counts = unmatched_callbacks_retry(due_only=False, limit=10_000)
        self.message_user(
            request,
            _("%(applied)d applied, %(waiting)d still waiting for their message, %(expired)d expired.") % counts,
            messages.SUCCESS,
        )


@admin.register(ChannelSetting)
class ChannelSettingAdmin(RoleEditedAdmin, admin.ModelAdmin):
    roles = OPERATIONS_ROLES
    list_display = (
        "channel",
        "is_enabled",
        "is_paused",
        "sender",
        "quiet_hours",
        "max_sms_segments",
        "max_attempts",
        "health",
    )
    list_editable = ("is_enabled", "is_paused")
    readonly_fields = ("health_detail", "updated_at", "updated_by")
    fieldsets = (
        (None, {"fields": ("channel", "is_enabled", "is_paused", "sender", "reply_to")}),
        (_("When"), {"fields": ("quiet_hours_start", "quiet_hours_end", "quiet_hours_for_service")}),
        (_("Limits"), {"fields": ("max_sms_segments", "max_attempts")}),
        (_("Operations"), {"fields": ("notes", "health_detail", "updated_at", "updated_by")}),
    )

    @admin.display(description=_("quiet hours"))
    def quiet_hours(self, setting):
        if setting.quiet_hours_start is None:
            return _("default")
        return f"{setting.quiet_hours_start:%H:%M}-{setting.quiet_hours_end:%H:%M}"

    @admin.display(description=_("queue"))
    def health(self, setting):
        h = selectors.channel_health(channel=setting.channel)
        return format_html(
            "{} {} · {} {} · {} {} · {} {}",
            h["queued"],
            _("queued"),
            h["deferred"],
            _("deferred"),
            h["review"],
            _("needs review"),
            h["failed_24h"],
            _("failed (24 h)"),
        )

    @admin.display(description=_("health"))
    def health_detail(self, setting):
        if not setting.channel:
            return "-"
        h = selectors.channel_health(channel=setting.channel)
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((label, h[key]) for key, label in HEALTH_LABELS.items())
        )
        return format_html("<table>{}</table>", rows)

    def save_model(self, request, obj, form, change):
        services.channel_setting_save(setting=obj, actor=request_actor(request))

    def get_urls(self):
        return [
            path("providers/", self.admin_site.admin_view(self.providers_view), name="messaging_providers"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "providers_url": "providers/"}
        return super().changelist_view(request, extra_context)

    def providers_view(self, request):
        """Per channel: the provider, its status, the webhooks to paste into its console, and a test message to
        the staff member's own address (POST channel, address)."""
        if not self.has_role(request):
            raise PermissionDenied
        if request.method == "POST":
            channel = request.POST.get("channel", "")
            if channel not in OUTBOUND_CHANNELS:
                raise PermissionDenied
            address = request.POST.get("address", "") or (request.user.email if channel == Channel.EMAIL else "")
            try:
                provider_id = services.provider_test_send(
                    channel=channel, address=address, actor=request_actor(request)
                )
            except DeliveryError as exc:
                self.message_user(
                    request,
                    _("The test message on %(channel)s failed: %(reason)s")
                    % {"channel": channel, "reason": exc.reason},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("Test message sent on %(channel)s (provider id %(id)s).")
                    % {"channel": channel, "id": provider_id or "-"},
                    messages.SUCCESS,
                )
            return redirect(request.path)
        base_url = request.build_absolute_uri("/")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Providers"),
            "statuses": [
                selectors.provider_status(channel=channel, base_url=base_url) for channel in OUTBOUND_CHANNELS
            ],
            "own_email": request.user.email,
        }
        return TemplateResponse(request, "admin/messaging/providers.html", context)

    def has_delete_permission(self, request, obj=None):
        return self.has_role(request)
