"""Customers in the admin: find anyone by any identifier, read the 360 view and timeline, and record consent
changes through the same service the API uses. Nothing here edits a projection directly."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.admin_read_only import ReadOnlyAdmin
from backoffice.accounts.models import Role
from backoffice.accounts.selectors import user_role
from backoffice.eventstore.errors import EventStoreError
from backoffice.eventstore.schema import CHANNELS

from . import selectors, services
from .events import ConsentChannel, ConsentPurpose
from .models import Customer

# The admin shows people to those who serve them; marketing works with segments.
PEOPLE_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE)
CONSENT_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE)
ERASE_ROLES = (Role.ADMIN, Role.SUPPORT)
TIMELINE_ROWS = 50


class ConsentChangeForm(forms.Form):
    channel = forms.ChoiceField(label=_("channel"), choices=[(c, c) for c in ConsentChannel.__args__])
    purpose = forms.ChoiceField(label=_("purpose"), choices=[(p, p) for p in ConsentPurpose.__args__])
    granted = forms.TypedChoiceField(
        label=_("consent"), choices=[("1", _("granted")), ("0", _("withdrawn"))], coerce=lambda v: v == "1"
    )
    source_channel = forms.ChoiceField(
        label=_("given or withdrawn on"), choices=[(c, c) for c in CHANNELS], initial="store"
    )
    wording = forms.CharField(label=_("wording shown"), widget=forms.Textarea(attrs={"rows": 3}), required=False)


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("id", "acquisition_channel", "channels", "interaction_count", "last_interaction_at", "erased_at")
    list_filter = ("acquisition_channel",)
    search_fields = ("id",)
    search_help_text = _("Email, phone (any format), loyalty card or social id")
    show_full_result_count = False
    fields = (
        "id",
        "registered_at",
        "acquisition_channel",
        "merged_into",
        "erased_at",
        "channels",
        "interaction_count",
        "last_interaction_at",
        "identifier_list",
        "consent_list",
        "timeline",
    )
    readonly_fields = fields

    @admin.display(description=_("channels used"))
    def channels(self, customer):
        return ", ".join(customer.channels_used)

    @admin.display(description=_("identifiers"))
    def identifier_list(self, customer):
        return (
            format_html_join(
                "", "<div><strong>{}</strong> {}</div>", ((i.kind, i.value) for i in customer.identifiers.all())
            )
            or "-"
        )

    @admin.display(description=_("consents"))
    def consent_list(self, customer):
        states = selectors.consent_states(customer_id=customer.id)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (c.channel, c.purpose, _("granted") if c.is_granted else _("withdrawn"), c.source_channel, c.changed_at)
                for c in states
            ),
        )
        link = reverse("admin:customers_customer_consent", args=[customer.pk])
        return format_html(
            '<table>{}</table><p><a class="button" href="{}">{}</a></p>', rows, link, _("Record a consent change")
        )

    @admin.display(description=_("timeline"))
    def timeline(self, customer):
        events = selectors.customer_timeline(customer_id=customer.id, limit=TIMELINE_ROWS)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            ((localtime(e.occurred_at).strftime("%Y-%m-%d %H:%M"), e.channel or "", e.type, e.data) for e in events),
        )
        return format_html("<table>{}</table>", rows)

    @admin.display(description=_("personal data"))
    def gdpr(self, customer):
        if customer.erased_at:
            return _("Erased: personal data is unreadable and identifiers are gone.")
        link = reverse("admin:customers_customer_erase", args=[customer.pk])
        return format_html('<a class="button" href="{}">{}</a>', link, _("Erase this customer (GDPR)"))

    def erase_view(self, request, customer_id):
        if user_role(user=request.user) not in ERASE_ROLES:
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=customer_id)
        if request.method == "POST":
            try:
                services.customer_erase(customer_id=customer.pk, actor=f"user:{request.user.pk}")
            except services.CustomerAlreadyErased:
                self.message_user(request, _("This customer was already erased."), messages.WARNING)
            else:
                self.message_user(request, _("Customer erased."), messages.SUCCESS)
            return redirect("admin:customers_customer_change", customer.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": customer,
            "title": _("Erase this customer (GDPR)"),
        }
        return TemplateResponse(request, "admin/customers/customer/erase.html", context)

    def get_search_results(self, request, queryset, search_term):
        if not search_term:
            return queryset, False
        ids = [c.id for c in selectors.customer_search(query=search_term)]
        return queryset.filter(id__in=ids), False

    def get_urls(self):
        consent = self.admin_site.admin_view(self.consent_view)
        erase = self.admin_site.admin_view(self.erase_view)
        return [
            path("<uuid:customer_id>/consent/", consent, name="customers_customer_consent"),
            path("<uuid:customer_id>/erase/", erase, name="customers_customer_erase"),
            *super().get_urls(),
        ]

    def consent_view(self, request, customer_id):
        if user_role(user=request.user) not in CONSENT_ROLES:
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=customer_id)
        form = ConsentChangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.consent_record(
                    customer_id=customer.pk,
                    is_granted=form.cleaned_data["granted"],
                    channel=form.cleaned_data["channel"],
                    purpose=form.cleaned_data["purpose"],
                    source_channel=form.cleaned_data["source_channel"],
                    wording=form.cleaned_data["wording"],
                    actor=f"user:{request.user.pk}",
                )
            except EventStoreError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _("Consent change recorded."), messages.SUCCESS)
                return redirect("admin:customers_customer_change", customer.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": customer,
            "form": form,
            "title": _("Record a consent change"),
        }
        return TemplateResponse(request, "admin/customers/customer/consent.html", context)

    def has_module_permission(self, request):
        return user_role(user=request.user) in PEOPLE_ROLES

    def has_view_permission(self, request, obj=None):
        return user_role(user=request.user) in PEOPLE_ROLES
