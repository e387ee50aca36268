"""Staff pages: thin views that read through selectors, act through services and render templates/staff/."""

import uuid

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import AccessSurface
from backoffice.accounts.services import personal_data_access_record
from backoffice.eventstore.errors import EventStoreError, IdempotencyConflict
from backoffice.eventstore.schema import CHANNELS
from customers import selectors as customer_selectors
from customers import services as customer_services

from . import presenters
from .access import PEOPLE_ROLES, UI_ROLES, StaffRoleRequiredMixin, error_page, staff_context
from .case_views import case_row, customer_order_rows
from .forms import SOURCE_CHANNELS_BY_ROLE, ConsentChangeForm, CustomerSearchForm, StaffAuthenticationForm

TIMELINE_PAGE_SIZE = 20
SEARCH_LIMIT = 20


class StaffLoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    authentication_form = StaffAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("staff:home")


class StaffLogoutView(auth_views.LogoutView):
    next_page = "staff:login"


class HomeView(StaffRoleRequiredMixin, TemplateView):
    """People-facing roles start at the customer search; others see what is there for them."""

    allowed_roles = UI_ROLES
    template_name = "staff/home.html"

    def get(self, request, *args, **kwargs):
        if request.staff_role in PEOPLE_ROLES:
            return redirect("staff:customer_search")
        return super().get(request, *args, **kwargs)


IDENTIFIER_ORDER = {kind: index for index, kind in enumerate(presenters.IDENTIFIER_LABELS)}


def _identifier_rows(identifiers) -> list[dict]:
    """The person's identifiers (of every customer merged into them too) as the page shows them, by kind."""
    return [
        {
            "kind": i.kind,
            "label": presenters.IDENTIFIER_LABELS.get(i.kind, i.kind),
            "value": presenters.identifier_value(i.kind, i.value),
        }
        for i in sorted(identifiers, key=lambda i: IDENTIFIER_ORDER.get(i.kind, len(IDENTIFIER_ORDER)))
    ]


def _channel_rows(channels) -> list[dict]:
    return [{"code": c, "label": presenters.channel_label(c)} for c in channels]


class CustomerSearchView(StaffRoleRequiredMixin, TemplateView):
    template_name = "staff/customers/search.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = CustomerSearchForm(self.request.GET or None)
        results = None
        if form.is_valid():
            customers = customer_selectors.customer_search(query=form.cleaned_data["q"], limit=SEARCH_LIMIT)
            identifiers = customer_selectors.people_identifiers(owner_ids={c.id for c in customers})
            figures = customer_selectors.people_figures(owner_ids={c.id for c in customers})
            personal_data_access_record(
                actor=self.request.user, customer_ids=[c.id for c in customers], surface=AccessSurface.STAFF_SEARCH
            )
            results = [
                {
                    "customer": customer,
                    "identifiers": _identifier_rows(identifiers[customer.id]),
                    "channels": _channel_rows(figures[customer.id].channels_used),
                    "acquisition_channel": presenters.channel_label(customer.acquisition_channel),
                }
                for customer in customers
            ]
        return {**context, "form": form, "results": results}


class CustomerDetailView(StaffRoleRequiredMixin, TemplateView):
    """The customer 360 page. `open_cases` and `orders` are the extension points for the cases and orders apps:
    lists of dicts (see templates/staff/customers/_open_cases.html and _orders.html for the keys they read)."""

    template_name = "staff/customers/detail.html"

    def get(self, request, *args, customer_id: uuid.UUID, **kwargs):
        customer = customer_selectors.customer_get(customer_id=customer_id, with_identifiers=True)
        if customer is None:
            return error_page(request, 404, _("There is no customer with this id."))
        if customer.merged_into_id:
            survivor = customer_selectors.customer_resolve_id(customer_id=customer.id)
            return redirect("staff:customer_detail", customer_id=survivor)
        channel = request.GET.get("channel") or None
        if channel is not None and channel not in CHANNELS:
            return error_page(request, 400, _("Unknown channel in the timeline filter."))
        before = None
        if request.GET.get("cursor"):
            try:
                before = presenters.cursor_decode(request.GET["cursor"])
            except presenters.BadCursor:
                return error_page(request, 400, _("This link to older events is not valid. Go back to the newest."))
        self.customer, self.channel, self.before = customer, channel, before
        response = super().get(request, *args, **kwargs)
        personal_data_access_record(
            actor=request.user, customer_ids=[customer.id], surface=AccessSurface.STAFF_CUSTOMER
        )
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.customer
        context["customer"] = customer
        if customer.erased_at:
            # Nothing personal about an erased customer; not even the timeline (its free text reads "[erased]").
            return context
        events = customer_selectors.customer_timeline(
            customer_id=customer.id, channel=self.channel, before=self.before, limit=TIMELINE_PAGE_SIZE + 1
        )
        page = events[:TIMELINE_PAGE_SIZE]
        more_url = None
        if len(events) > TIMELINE_PAGE_SIZE:
            query = {"cursor": presenters.cursor_encode(page[-1].occurred_at, page[-1].position)}
            if self.channel:
                query["channel"] = self.channel
            more_url = f"?{urlencode(query)}#timeline"
        # The person: this customer and those merged into it.
        person = customer_selectors.customer_360(customer_id=customer.id, recent=0)
        context.update(
            {
                "person": person,
                "identifiers": [
                    {
                        "kind": i["kind"],
                        "label": presenters.IDENTIFIER_LABELS.get(i["kind"], i["kind"]),
                        "value": presenters.identifier_value(i["kind"], i["value"]),
                    }
                    for i in sorted(
                        person["identifiers"], key=lambda i: IDENTIFIER_ORDER.get(i["kind"], len(IDENTIFIER_ORDER))
                    )
                ],
                "acquisition_channel": presenters.channel_label(person["acquisition_channel"]),
                "channels": _channel_rows(person["channels_used"]),
                "consent_rows": presenters.consent_grid(customer_selectors.consent_states(customer_id=customer.id)),
                "can_change_consents": self.request.staff_role in SOURCE_CHANNELS_BY_ROLE,
                "timeline": presenters.timeline_items(page, role=self.request.staff_role),
                "timeline_channel": self.channel,
                "timeline_is_first_page": self.before is None,
                "timeline_more_url": more_url,
                "open_cases": self.get_open_cases(customer),
                "orders": self.get_orders(customer),
                "journeys": self.get_journeys(customer),
            }
        )
        return context

    def get_journeys(self, customer) -> list:
        """The journeys the person is in (and was in), with their step, what comes next and when."""
        from campaigns.journeys.selectors import customer_journeys

        return customer_journeys(customer_id=customer.id)

    def get_open_cases(self, customer) -> list:
        """The person's open cases (theirs and those of customers merged into them), most recently active first."""
        group = customer_selectors.customer_group_ids(customer_id=customer.id)
        return [case_row(case) for case in customer_selectors.customer_open_cases(group=group)]

    def get_orders(self, customer) -> list:
        """The person's orders from every channel, newest first."""
        return customer_order_rows(customer.id)


class CustomerConsentView(StaffRoleRequiredMixin, View):
    """A consent change at the counter or on the phone: GET shows the text to read out, POST records the change
    through customers.services.consent_record and goes back to the customer page."""

    allowed_roles = tuple(SOURCE_CHANNELS_BY_ROLE)
    template_name = "staff/customers/consent.html"

    def _load_customer(self, request, customer_id: uuid.UUID):
        """Sets self.customer; returns the error page when there is no consent of theirs to change."""
        self.customer = customer_selectors.customer_get(customer_id=customer_id)
        if self.customer is None:
            return error_page(request, 404, _("There is no customer with this id."))
        if self.customer.erased_at:
            return error_page(request, 409, _("This customer was erased: there is no consent to change."))
        return None

    def get(self, request, customer_id: uuid.UUID):
        refusal = self._load_customer(request, customer_id)
        if refusal is not None:
            return refusal
        if self.customer.merged_into_id:
            survivor = customer_selectors.customer_resolve_id(customer_id=self.customer.id)
            return redirect(f"{reverse('staff:customer_consent', args=[survivor])}?{request.GET.urlencode()}")
        initial = ConsentChangeForm(request.GET, role=request.staff_role)
        for name in ("wording", "source_channel", "change_id"):
            initial.fields[name].required = False
        if not initial.is_valid():
            return error_page(request, 400, _("Choose a channel, a purpose and a change from the customer page."))
        data = initial.cleaned_data
        form = ConsentChangeForm(
            initial={
                **{key: request.GET[key] for key in ("channel", "purpose", "granted")},
                "wording": presenters.consent_wording(
                    channel=data["channel"], purpose=data["purpose"], is_granted=data["granted"]
                ),
            },
            role=request.staff_role,
        )
        return self._render(request, form, data)

    def post(self, request, customer_id: uuid.UUID):
        refusal = self._load_customer(request, customer_id)
        if refusal is not None:
            return refusal
        form = ConsentChangeForm(request.POST, role=request.staff_role)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                recorded = customer_services.consent_record(
                    customer_id=self.customer.id,
                    channel=data["channel"],
                    purpose=data["purpose"],
                    is_granted=data["granted"],
                    source_channel=data["source_channel"],
                    wording=data["wording"],
                    event_id=data["change_id"],
                    actor=request_actor(request),
                )
            except IdempotencyConflict:  # the form's change id, recorded with other details (edited, then resent)
                status = 409
                form.add_error(
                    None,
                    _("This form was sent already with other details: open the change again from the customer page."),
                )
            except EventStoreError:
                form.add_error(None, _("The consent change could not be recorded; try again."))
            else:
                what = {
                    "purpose": presenters.PURPOSE_LABELS[data["purpose"]],
                    "channel": presenters.channel_label(data["channel"]),
                }
                if data["granted"]:
                    messages.success(request, _("Consent given: %(purpose)s by %(channel)s.") % what)
                else:
                    messages.success(request, _("Consent withdrawn: %(purpose)s by %(channel)s.") % what)
                return redirect(f"{reverse('staff:customer_detail', args=[recorded.customer_id])}#consents")
        return self._render(request, form, form.cleaned_data, status=status)

    def _render(self, request, form, data, status=200):
        channel, purpose = data.get("channel"), data.get("purpose")
        context = {
            **staff_context(request),
            "customer": self.customer,
            "form": form,
            "change": {
                "channel": channel,
                "channel_label": presenters.channel_label(channel),
                "purpose_label": presenters.PURPOSE_LABELS.get(purpose, ""),
                "is_granted": data.get("granted"),
            },
        }
        return TemplateResponse(request, self.template_name, context, status=status)
