"""Customers in the admin: find anyone by any identifier, read the 360 view and timeline, and record consent
changes through the same service the API uses. Nothing here edits a projection directly."""

import base64
import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.actors import request_actor
from backoffice.accounts.admin_lists import labelled_column, labelled_filter, short_id
from backoffice.accounts.admin_progress import progress_html
from backoffice.accounts.admin_read_only import ReadOnlyAdmin
from backoffice.accounts.admin_roles import RoleGatedAdmin
from backoffice.accounts.admin_tables import local_minute, table_html
from backoffice.accounts.roles import AccessSurface, Role
from backoffice.accounts.selectors import user_role
from backoffice.accounts.services import personal_data_access_record
from backoffice.eventstore.errors import EventStoreError, IdempotencyConflict
from backoffice.eventstore.schema import CHANNELS

from . import selectors, services, wording
from .admin_links import customer_admin_link
from .events import ConsentChannel, ConsentPurpose
from .models import Case, Customer, CustomerIdentifier

# The admin shows people to those who serve them; marketing works with segments.
PEOPLE_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE)
CONSENT_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE)
ERASE_ROLES = (Role.ADMIN, Role.SUPPORT)
TIMELINE_ROWS = 50


class ConsentChangeForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("channel"), choices=[(c, wording.CHANNEL_LABELS[c]) for c in ConsentChannel.__args__]
    )
    purpose = forms.ChoiceField(
        label=_("purpose"), choices=[(p, wording.PURPOSE_LABELS[p]) for p in ConsentPurpose.__args__]
    )
    granted = forms.TypedChoiceField(
        label=_("consent"), choices=[("1", _("granted")), ("0", _("withdrawn"))], coerce=lambda v: v == "1"
    )
    source_channel = forms.ChoiceField(
        label=_("given or withdrawn on"), choices=[(c, wording.CHANNEL_LABELS[c]) for c in CHANNELS], initial="store"
    )
    wording = forms.CharField(label=_("wording shown"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    # One per form shown, the change's event id: a double click or a resent form records one change, and an old form
    # sent again cannot undo a change made since (as on the staff pages).
    change_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("change_id", uuid.uuid4())
        super().__init__(*args, **kwargs)


ADMIN_LINKS = {
    "order": ("admin:orders_order_change", _("Open the order")),
    "case": ("admin:customers_case_change", _("Open the case")),
    "campaign": ("admin:campaigns_campaign_change", _("Open the campaign")),
}


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _story_line(event, *, is_admin: bool) -> dict:
    story = wording.event_sentence(event.type, event.data, event.channel)
    links = []
    for kind, ref in story.refs.items():
        name, label = ADMIN_LINKS[kind]
        try:
            links.append((reverse(name, args=[ref]), label))
        except NoReverseMatch:  # an order id the admin's URL does not take: the sentence still names it
            continue
    return {
        "event": event,
        "sentence": story.text,
        "channel": event.channel or "none",
        "channel_label": wording.channel_label(event.channel),
        "colour": wording.channel_colour(event.channel),
        "links": links,
        "raw": json.dumps(event.data, ensure_ascii=False, indent=1, default=str) if is_admin else "",
    }


class PeopleChangeList(ChangeList):
    """The customer list with each row's person figures (orders, value, activity over every customer merged into
    it), read once for the page: a fixed number of queries however many rows it shows."""

    def get_results(self, request):
        super().get_results(request)
        figures = selectors.people_figures(owner_ids={customer.pk for customer in self.result_list})
        for customer in self.result_list:  # the page's own instances (a queryset keeps what it read)
            customer.person_figures = figures[customer.pk]


@admin.register(Customer)
class CustomerAdmin(RoleGatedAdmin, ReadOnlyAdmin):
    roles = PEOPLE_ROLES
    # The figures are the person's (the customer and everyone merged into them), as the 360 view counts them, not
    # the row's own counters: read for the whole page at once (PeopleChangeList), so they cannot be sorted on.
    list_display = (
        "customer",
        "acquisition",
        "channels",
        "person_interactions",
        "person_orders",
        "person_value",
        "person_last_interaction",
        "erased_at",
    )
    list_display_links = ("customer",)
    list_filter = (labelled_filter("acquisition_channel", _("acquisition channel"), wording.CHANNEL_LABELS),)
    search_fields = ("id",)
    search_help_text = _("Email, phone (any format), loyalty card or social id")
    acquisition = labelled_column("acquisition_channel", _("acquisition channel"), wording.CHANNEL_LABELS)
    show_full_result_count = False
    fields = (
        "id",
        "display_name",
        "registered_at",
        "acquisition_channel",
        "merged_into",
        "merged_from",
        "erased_at",
        "channels",
        "person_interactions",
        "person_last_interaction",
        "person_orders",
        "person_value",
        "person_last_order",
        "identifier_list",
        "consent_list",
        "case_list",
        "accesses",
    )
    readonly_fields = fields

    @admin.display(description=_("who viewed"))
    def accesses(self, customer):
        link = reverse("admin:accounts_personaldataaccess_changelist") + f"?customer_id={customer.pk}"
        return format_html('<a href="{}">{}</a>', link, _("Who read this customer's personal data, and where"))

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if response.status_code == 200 and changelist is not None:
            personal_data_access_record(
                actor=request.user,
                customer_ids=[c.pk for c in changelist.result_list],
                surface=AccessSurface.ADMIN_LIST,
            )
        return response

    @admin.display(description=_("customer"), ordering="display_name")
    def customer(self, customer):
        """The name, or the id's first characters for a profile without one (the whole id on hover)."""
        if customer.display_name:
            return customer.display_name
        return format_html("{} · {}", _("Customer without a name"), short_id(customer.pk))

    def get_changelist(self, request, **kwargs):
        return PeopleChangeList

    @staticmethod
    def _figures(customer: Customer) -> selectors.PersonFigures:
        """The person's figures: read for the whole page by the list, once per customer on the change page."""
        figures = getattr(customer, "person_figures", None)
        if figures is None:
            figures = customer.person_figures = selectors.people_figures(owner_ids={customer.pk})[customer.pk]
        return figures

    @admin.display(description=_("channels used"))
    def channels(self, customer):
        return ", ".join(wording.channel_label(channel) for channel in self._figures(customer).channels_used)

    @admin.display(description=_("interactions"))
    def person_interactions(self, customer):
        return self._figures(customer).interaction_count

    @admin.display(description=_("last interaction"))
    def person_last_interaction(self, customer):
        return self._figures(customer).last_interaction_at

    @admin.display(description=_("orders"))
    def person_orders(self, customer):
        return self._figures(customer).order_count

    @admin.display(description=_("lifetime value"))
    def person_value(self, customer):
        return self._figures(customer).lifetime_value

    @admin.display(description=_("last order"))
    def person_last_order(self, customer):
        return self._figures(customer).last_order_at

    @admin.display(description=_("merged from"))
    def merged_from(self, customer):
        absorbed = selectors.customer_absorbed_ids(customer_id=customer.id)
        return format_html_join(", ", "{}", ((customer_admin_link(cid),) for cid in absorbed)) or "-"

    @admin.display(description=_("identifiers"))
    def identifier_list(self, customer):
        group = selectors.customer_group_ids(customer_id=customer.id)
        rows = CustomerIdentifier.objects.filter(customer_id__in=group).order_by("added_at")
        return format_html_join("", "<div><strong>{}</strong> {}</div>", ((i.kind, i.value) for i in rows)) or "-"

    @admin.display(description=_("cases"))
    def case_list(self, customer):
        cases = selectors.case_list(customer_id=customer.id)[:20]
        return (
            format_html_join(
                "",
                '<div><a href="{}">{}</a> · {} · {} · {}</div>',
                (
                    (
                        reverse("admin:customers_case_change", args=[c.pk]),
                        c.subject,
                        c.channel,
                        c.get_status_display(),
                        local_minute(c.opened_at),
                    )
                    for c in cases
                ),
            )
            or "-"
        )

    @admin.display(description=_("consents"))
    def consent_list(self, customer):
        states = selectors.consent_states(customer_id=customer.id)
        rows = table_html(
            (c.channel, c.purpose, _("granted") if c.is_granted else _("withdrawn"), c.source_channel, c.changed_at)
            for c in states
        )
        link = reverse("admin:customers_customer_consent", args=[customer.pk])
        return format_html('{}<p><a class="button" href="{}">{}</a></p>', rows, link, _("Record a consent change"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The timeline reads as a story under the 360 fields: one sentence a line (customers.wording, as on the
        staff pages), channel, local time, a link to the order, case or campaign; raw data only for admins."""
        customer = Customer.objects.filter(pk=object_id).first() if _is_uuid(object_id) else None
        if customer is not None and not customer.erased_at:
            is_admin = user_role(user=request.user) == Role.ADMIN
            events = selectors.customer_timeline(customer_id=customer.id, limit=TIMELINE_ROWS)
            extra_context = {**(extra_context or {}), "story": [_story_line(e, is_admin=is_admin) for e in events]}
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = (getattr(response, "context_data", None) or {}).get("original")
        if response.status_code == 200 and shown is not None:
            personal_data_access_record(
                actor=request.user, customer_ids=[shown.pk], surface=AccessSurface.ADMIN_CUSTOMER
            )
        return response

    @admin.display(description=_("personal data"))
    def gdpr(self, customer):
        if customer.erased_at:
            return _("Erased: personal data is unreadable and identifiers are gone.")
        export = reverse("admin:customers_customer_export", args=[customer.pk])
        link = reverse("admin:customers_customer_erase", args=[customer.pk])
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            export,
            _("Export this customer's data (GDPR)"),
            link,
            _("Erase this customer (GDPR)"),
        )

    def erase_view(self, request, customer_id):
        if user_role(user=request.user) not in ERASE_ROLES:
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=customer_id)
        if request.method == "POST":
            try:
                services.customer_erase(customer_id=customer.pk, actor=request_actor(request))
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

    def export_view(self, request, customer_id):
        """The export of everything held about the customer (the API's GET .../export, same service and body): a
        confirmation, then its progress part by part (counts done of total) and the file to download."""
        if user_role(user=request.user) not in ERASE_ROLES:
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=customer_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": customer,
            "title": _("Export this customer's data (GDPR)"),
        }
        if request.method == "POST":
            body = services.customer_export(customer_id=customer.pk, actor=request_actor(request))
            personal_data_access_record(
                actor=request.user, customer_ids=[customer.pk], surface=AccessSurface.ADMIN_CUSTOMER
            )
            context.update(_export_result(body))
        return TemplateResponse(request, "admin/customers/customer/export.html", context)

    def get_search_results(self, request, queryset, search_term):
        if not search_term:
            return queryset, False
        ids = [c.id for c in selectors.customer_search(query=search_term)]
        return queryset.filter(id__in=ids), False

    def get_urls(self):
        consent = self.admin_site.admin_view(self.consent_view)
        erase = self.admin_site.admin_view(self.erase_view)
        export = self.admin_site.admin_view(self.export_view)
        return [
            path("<uuid:customer_id>/export/", export, name="customers_customer_export"),
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
                    event_id=form.cleaned_data["change_id"],
                    actor=request_actor(request),
                )
            except IdempotencyConflict:  # the form's change id, recorded with other details (edited, then resent)
                form.add_error(
                    None, _("This form was sent already with other details: open the change again from the customer.")
                )
            except EventStoreError:
                form.add_error(None, _("The consent change could not be recorded; try again."))
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


CASE_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE)


@admin.register(Case)
class CaseAdmin(RoleGatedAdmin, ReadOnlyAdmin):
    """Cases read-only: agents reply and resolve on the staff pages and through the API, which use the services."""

    roles = CASE_ROLES
    list_display = ("subject", "channel_label", "status", "opened_at", "first_response_at", "sla_state", "csat_score")
    list_filter = ("status", labelled_filter("channel", _("opened on"), wording.CHANNEL_LABELS), "csat_score")
    search_fields = ("id", "order_ref")
    channel_label = labelled_column("channel", _("opened on"), wording.CHANNEL_LABELS)
    date_hierarchy = "opened_at"
    fields = (
        "id",
        "customer_link",
        "channel",
        "subject",
        "order_ref",
        "status",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "sla_state",
        "resolution",
        "compensation",
        "csat_score",
        "csat_comment",
        "thread",
    )
    readonly_fields = fields

    @admin.display(description=_("customer"))
    def customer_link(self, case):
        return customer_admin_link(case.customer_id)

    @admin.display(description=_("SLA"))
    def sla_state(self, case):
        sla = selectors.case_sla(case)
        breached = [
            label
            for label, is_breached in (
                (_("first response"), sla["first_response_breached"]),
                (_("resolution"), sla["resolution_breached"]),
            )
            if is_breached
        ]
        return _("breached: %(what)s") % {"what": ", ".join(str(b) for b in breached)} if breached else _("on time")

    @admin.display(description=_("thread"))
    def thread(self, case):
        return table_html(
            (local_minute(m.occurred_at), m.channel, m.direction, m.actor, m.text)
            for m in selectors.case_thread(case_id=case.id)
        )


# The parts of an export in the order they are gathered, with what staff call them.
EXPORT_PARTS = (
    ("identifiers", _("identifiers")),
    ("consents", _("consents")),
    ("consent_history", _("consent changes")),
    ("events", _("events")),
    ("merged_customers", _("merged customers")),
)


def _export_result(body: dict) -> dict:
    """Counts done of total, part by part, and the file as a download link (one request: nothing kept server-side)."""
    parts = [(label, len(body.get(key, ()))) for key, label in EXPORT_PARTS if key in body]
    records = sum(count for _label, count in parts)
    if body.get("erased"):
        said = _("Done: this customer was erased; the file only says so.")
    else:
        said = _("Done: %(done)s of %(total)s parts exported, %(records)s records in all.") % {
            "done": len(parts),
            "total": len(EXPORT_PARTS),
            "records": records,
        }
    done = len(parts) if not body.get("erased") else len(EXPORT_PARTS)
    encoded = base64.b64encode(json.dumps(body, indent=2, ensure_ascii=False).encode()).decode()
    return {
        "progress": progress_html(
            done=done, total=len(EXPORT_PARTS), said=said, data={"done": done, "total": len(EXPORT_PARTS)}
        ),
        "parts": parts,
        "download": f"data:application/json;base64,{encoded}",
        "filename": f"customer-{body['id']}.json",
    }
