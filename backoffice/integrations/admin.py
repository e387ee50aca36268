"""Integrations in the admin: tracking sources (create shows the key once, revoke), shop connections (secret
entered once, stored encrypted; location mapping), the dead-letter list with replay, oversell alerts, and webhook
deliveries. Changes go through the services, with the staff user as actor."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backoffice import crypto
from backoffice.accounts.actors import request_actor
from backoffice.accounts.admin_read_only import ActedReadOnlyAdmin, ReadOnlyAdmin
from orders.selectors import location_list

from . import services
from .models import DeadLetter, OversellAlert, ShopConnection, TrackingSource, WebhookReceipt


class TrackingSourceForm(forms.ModelForm):
    class Meta:
        model = TrackingSource
        fields = ("name", "channel", "user_id_system", "order_location")

    user_id_system = forms.CharField(
        label=_("user id system"),
        required=False,
        max_length=50,
        help_text=_("Sources that share one user base share this name; empty: the source's name."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order_location"] = forms.ChoiceField(
            label=TrackingSource._meta.get_field("order_location").verbose_name,
            help_text=TrackingSource._meta.get_field("order_location").help_text,
            required=False,
            choices=[("", "—"), *((loc.code, f"{loc.code} · {loc.name}") for loc in location_list())],
        )


@admin.register(TrackingSource)
class TrackingSourceAdmin(admin.ModelAdmin):
    form = TrackingSourceForm
    list_display = (
        "name",
        "channel",
        "order_location",
        "is_active",
        "key_prefix",
        "last_seen_at",
        "events_today_now",
        "events_total",
    )
    list_filter = ("channel", "is_active")
    readonly_fields = ("key_prefix", "is_active", "created_at", "revoked_at", "last_seen_at", "events_total")
    actions = ["revoke"]

    @admin.display(description=_("events today"))
    def events_today_now(self, obj):
        from django.utils import timezone

        return obj.events_today if obj.events_day == timezone.localdate() else 0

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        created = services.tracking_source_create(
            name=form.cleaned_data["name"],
            channel=form.cleaned_data["channel"],
            user_id_system=form.cleaned_data.get("user_id_system") or "",
            order_location=form.cleaned_data.get("order_location") or "",
        )
        obj.pk = created.source.pk
        messages.warning(
            request,
            _("Write key of %(name)s (shown only now; copy it to the SDK): %(key)s")
            % {"name": created.source.name, "key": created.write_key},
        )

    @admin.action(description=_("Revoke the write keys of the selected sources"))
    def revoke(self, request, queryset):
        for source in queryset:
            services.tracking_source_revoke(source_id=source.id)
        self.message_user(
            request,
            ngettext("%(count)d source revoked.", "%(count)d sources revoked.", queryset.count())
            % {"count": queryset.count()},
        )


class ShopConnectionForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("webhook secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Entered once and stored encrypted; leave empty to keep it (or to use the environment's)."),
    )
    location_map_text = forms.CharField(
        label=_("location mapping"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_('JSON: the shop\'s location id to our location code, e.g. {"655441491": "WH-01"}'),
    )

    class Meta:
        model = ShopConnection
        fields = ("platform", "shop_domain", "default_location", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["location_map_text"].initial = json.dumps(self.instance.location_map)

    def clean_location_map_text(self):
        raw = self.cleaned_data["location_map_text"].strip() or "{}"
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("Not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("A JSON object is expected."))
        return value


@admin.register(ShopConnection)
class ShopConnectionAdmin(admin.ModelAdmin):
    form = ShopConnectionForm
    list_display = ("shop_domain", "platform", "default_location", "has_own_secret", "is_active", "created_at")
    list_filter = ("platform", "is_active")

    @admin.display(description=_("own secret"), boolean=True)
    def has_own_secret(self, obj):
        return bool(obj.secret_encrypted)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.shop_connection_save(
            platform=data["platform"],
            shop_domain=data["shop_domain"],
            secret=data["secret"] or None,
            location_map=data["location_map_text"],
            default_location=data["default_location"],
            is_active=data["is_active"],
        )
        obj.pk = saved.pk


@admin.register(DeadLetter)
class DeadLetterAdmin(ActedReadOnlyAdmin):
    list_display = ("received_at", "platform", "shop_domain", "topic", "code", "status", "attempts")
    list_filter = ("status", "platform", "code", "topic")
    search_fields = ("delivery_id",)
    fields = (
        "platform",
        "shop_domain",
        "topic",
        "delivery_id",
        "code",
        "reason",
        "status",
        "attempts",
        "received_at",
        "replayed_at",
        "replayed_by",
        "body",
    )
    readonly_fields = fields
    actions = ["replay"]

    @admin.display(description=_("body as received"))
    def body(self, obj):
        if not obj.body_encrypted:
            return _("(dropped: applied by a replay, a person it named was erased, or past its retention)")
        try:
            return crypto.decrypt(obj.body_encrypted).decode(errors="replace")[:20000]
        except crypto.InvalidToken:
            return _("(unreadable: the encryption key changed)")

    @admin.action(description=_("Replay the selected dead letters"))
    def replay(self, request, queryset):
        letters = list(queryset)
        applied = failed = 0
        for letter in letters:
            if services.dead_letter_replay(dead_letter_id=letter.id, actor=request_actor(request)):
                applied += 1
            else:
                failed += 1
        # Counts done of total and what became of them: the failing ones stay listed with their new error.
        said = _("Replayed %(done)d of %(total)d: %(applied)d applied, %(failed)d still failing.") % {
            "done": applied + failed,
            "total": len(letters),
            "applied": applied,
            "failed": failed,
        }
        if failed:
            said = f"{said} {_('Those still failing stay in the list with their error.')}"
        self.message_user(request, said, messages.SUCCESS if not failed else messages.WARNING)


@admin.register(OversellAlert)
class OversellAlertAdmin(ActedReadOnlyAdmin):
    list_display = ("created_at", "order_id", "platform", "platform_order_id", "short_lines", "resolved_at")
    list_filter = ("platform", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("order_id", "platform_order_id")
    fields = ("order_id", "platform", "platform_order_id", "lines", "created_at", "resolved_at", "resolved_by")
    # The resolve action needs the change permission; the alert itself changes only through services.
    readonly_fields = fields
    actions = ["resolve"]

    @admin.display(description=_("short"))
    def short_lines(self, obj):
        return ", ".join(f"{line['sku']} x{line['quantity']} @ {line['location']}" for line in obj.lines)

    @admin.action(description=_("Mark the selected alerts as resolved"))
    def resolve(self, request, queryset):
        for alert in queryset:
            services.oversell_alert_resolve(alert_id=alert.id, actor=request_actor(request))


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "platform", "shop_domain", "topic", "outcome", "delivery_id")
    list_filter = ("platform", "outcome", "topic")
    search_fields = ("delivery_id",)
