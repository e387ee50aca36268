"""Staff pages for customer service: the case inbox and the case page (cross-channel thread, the customer's story,
reply on any reachable channel, resolve with compensation). Reads through selectors, acts through the services."""

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import AccessSurface, Role
from backoffice.accounts.services import personal_data_access_record
from backoffice.eventstore.vocabulary import Channel, Purpose
from backoffice.messaging.events import MessageDeferred, MessageFailed, MessageQueued, MessageSent
from customers import selectors as customer_selectors
from customers.reachability import customer_reachable_channels
from customers.services import cases as case_services
from customers.vocabulary import CaseStatus
from orders import selectors as order_selectors

if TYPE_CHECKING:  # type names only: reads go through customers.selectors
    from customers.models import Case

from . import presenters
from .access import StaffRoleRequiredMixin, error_page, staff_context
from .forms import CaseFilterForm, CaseReplyForm, CaseResolveForm

INBOX_LIMIT = 100
CASE_TIMELINE_EVENTS = 10
# The pipeline's own steps and the case's events (shown in the thread already) would crowd the customer's story.
NOT_THE_CUSTOMERS_STORY = (
    MessageQueued.type_name,
    MessageSent.type_name,
    MessageDeferred.type_name,
    MessageFailed.type_name,
    "case.",
)
# Support answers cases wherever they came from; store staff see and answer the cases of customers at the counter.
CASE_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE)


# A case service's refusal codes as staff read them (its own messages are for the API and name fields).
CASE_REFUSALS = {
    "not_found": gettext_lazy("There is no such case."),
    "erased": gettext_lazy("This customer's data was erased: the case cannot go on."),
    "case_closed": gettext_lazy("The case is already resolved; open a new one to go on."),
    "unreachable": gettext_lazy("The customer cannot be reached on this channel: choose another one."),
    "case_open": gettext_lazy("The satisfaction survey is asked once the case is resolved."),
    "already_answered": gettext_lazy("The satisfaction survey was already answered."),
    "idempotency_conflict": gettext_lazy(
        "This was already recorded with other details; reload the page and try again."
    ),
}


def case_row(case: "Case") -> dict:
    sla = customer_selectors.case_sla(case)
    return {
        "case": case,
        "url": reverse("staff:case_detail", args=[case.id]),
        "subject": case.subject,
        "channel": case.channel,
        "channel_label": presenters.channel_label(case.channel),
        "status_label": case.get_status_display(),
        "opened_at": case.opened_at,
        "sla": sla,
        "is_sla_breached": sla["first_response_breached"] or sla["resolution_breached"],
    }


def customer_order_rows(customer_id: uuid.UUID, *, limit: int = 10) -> list[dict]:
    """The person's orders from every channel, newest first, as the order lists of the staff pages show them; those
    the orders app holds link to their page and say where they are (paid, shipped, returned...)."""
    group = customer_selectors.customer_group_ids(customer_id=customer_id)
    known = {order.id: order for order in order_selectors.orders_of_customers(customer_ids=group)}
    return [
        {
            "number": order.order_id,
            "url": reverse("staff:order_detail", args=[order.order_id]) if order.order_id in known else "",
            "channel": order.channel,
            "channel_label": presenters.channel_label(order.channel),
            "status_label": (
                known[order.order_id].get_status_display()
                if order.order_id in known
                else (_("cancelled") if order.is_cancelled else _("placed"))
            ),
            "total": order.total - order.refunded,
            "currency": "EUR",
            "placed_at": order.placed_at,
        }
        for order in customer_selectors.customer_orders(customer_id=customer_id, limit=limit)
    ]


class CaseInboxView(StaffRoleRequiredMixin, View):
    allowed_roles = CASE_ROLES

    def get(self, request):
        form = CaseFilterForm(request.GET or None)
        if request.GET and not form.is_valid():
            return error_page(request, 400, _("Unknown filter value in the inbox."))
        data = form.cleaned_data if request.GET else {}
        status = data.get("status") or "open"
        breached = {"yes": True, "no": False}.get(data.get("breached") or "")
        cases = customer_selectors.case_list(
            status=None if status == "all" else status, channel=data.get("channel") or None, is_breached=breached
        )
        rows = [case_row(case) for case in cases[: INBOX_LIMIT + 1]]
        context = {
            **staff_context(request),
            "form": form if request.GET else CaseFilterForm(initial={"status": CaseStatus.OPEN}),
            "rows": rows[:INBOX_LIMIT],
            "is_truncated": len(rows) > INBOX_LIMIT,
            "limit": INBOX_LIMIT,
        }
        return TemplateResponse(request, "staff/cases/inbox.html", context)


class CaseDetailView(StaffRoleRequiredMixin, View):
    allowed_roles = CASE_ROLES

    def get(self, request, case_id: uuid.UUID):
        case = customer_selectors.case_get(case_id=case_id)
        if case is None:
            return error_page(request, 404, _("There is no case with this id."))
        return self.render(request, case)

    def post(self, request, case_id: uuid.UUID):
        case = customer_selectors.case_get(case_id=case_id)
        if case is None:
            return error_page(request, 404, _("There is no case with this id."))
        actor = request_actor(request)
        reply_form = resolve_form = None
        try:
            if request.POST.get("action") == "reply":
                reply_form = CaseReplyForm(request.POST, channels=self.reply_channels(case))
                if not reply_form.is_valid():
                    return self.render(request, case, reply_form=reply_form, status=400)
                data = reply_form.cleaned_data
                case_services.case_reply(
                    case_id=case.id, channel=data["channel"], text=data["text"], actor=actor, reply_id=data["reply_id"]
                )
                messages.success(
                    request, _("Reply sent by %(channel)s.") % {"channel": presenters.channel_label(data["channel"])}
                )
            elif request.POST.get("action") == "resolve":
                resolve_form = CaseResolveForm(request.POST, order_total=self.order_total(case))
                if not resolve_form.is_valid():
                    return self.render(request, case, resolve_form=resolve_form, status=400)
                resolved = case_services.case_resolve(
                    case_id=case.id,
                    resolution=resolve_form.cleaned_data["resolution"],
                    compensation=resolve_form.compensation_data(),
                    actor=actor,
                    channel=Channel.STORE if request.staff_role == Role.STORE else Channel.PHONE,
                )
                if resolved.resolution and customer_selectors.case_survey_queued(case_id=case.id):
                    messages.success(request, _("Case resolved. The satisfaction survey is on its way."))
                elif resolved.resolution:  # the survey was refused by its channel, or no channel reaches them
                    messages.success(request, _("Case resolved. No satisfaction survey could be sent."))
                else:  # an erased customer's case: closed without the resolution text or a survey
                    messages.success(
                        request,
                        _("Case closed. The customer was erased: no resolution is kept and no survey is sent."),
                    )
            else:
                return error_page(request, 400, _("Unknown action."))
        except case_services.CaseRefused as exc:
            form = reply_form or resolve_form
            refusal = CASE_REFUSALS.get(exc.code, _("This was refused and nothing was recorded."))
            form.add_error(None, refusal)
            status = 409 if exc.status == 409 else 400
            # Resolved meanwhile (by a colleague, on another tab): the page shows no form to carry the refusal and
            # the text back, so it shows them itself; the text can be copied into a new case.
            refused = {"reason": refusal, "text": form.cleaned_data.get("text") or form.cleaned_data.get("resolution")}
            case = customer_selectors.case_get(case_id=case.id) or case
            return self.render(
                request, case, reply_form=reply_form, resolve_form=resolve_form, refused=refused, status=status
            )
        return redirect(f"{reverse('staff:case_detail', args=[case.id])}#thread")

    @staticmethod
    def order_total(case: "Case") -> Decimal | None:
        """The total of the order the case is about, if we know the order: the most a compensation is worth."""
        if not case.order_ref:
            return None
        order = order_selectors.order_get(order_id=case.order_ref)
        if order is not None:
            return order.total
        return customer_selectors.customer_order_total(customer_id=case.customer_id, order_id=case.order_ref)

    @staticmethod
    def reply_channels(case: "Case") -> list[str]:
        """Where a reply can go: the customer's reachable channels for service (the case's first), or said by
        phone or at the counter."""
        reachable = customer_reachable_channels(customer_id=case.customer_id, purpose=Purpose.SERVICE)
        ordered = sorted(reachable, key=lambda channel: channel != case.channel)
        return [*ordered, Channel.PHONE, Channel.STORE]

    def render(self, request, case: "Case", *, reply_form=None, resolve_form=None, refused=None, status=200):
        owner = customer_selectors.customer_resolve_id(customer_id=case.customer_id)
        customer = customer_selectors.customer_360(customer_id=owner, recent=CASE_TIMELINE_EVENTS * 4)
        personal_data_access_record(actor=request.user, customer_ids=[owner], surface=AccessSurface.STAFF_CASE)
        story = [e for e in customer["recent_timeline"] if not e.type.startswith(NOT_THE_CUSTOMERS_STORY)]
        channels = self.reply_channels(case)
        context = {
            **staff_context(request),
            "row": case_row(case),
            "case": case,
            "thread": [
                {
                    "message": message,
                    "channel_label": presenters.channel_label(message.channel),
                    "is_outgoing": message.direction == "out",
                }
                for message in customer_selectors.case_thread(case_id=case.id)
            ],
            "customer": customer,
            "customer_url": reverse("staff:customer_detail", args=[owner]),
            "orders": [{**row, "is_referenced": row["number"] == case.order_ref} for row in customer_order_rows(owner)],
            "timeline": presenters.timeline_items(story[:CASE_TIMELINE_EVENTS], role=request.staff_role),
            "reply_form": reply_form
            or CaseReplyForm(initial={"channel": channels[0], "reply_id": uuid.uuid4()}, channels=channels),
            "resolve_form": resolve_form or CaseResolveForm(order_total=self.order_total(case)),
            "is_open": case.status == CaseStatus.OPEN,
            "refused": refused,
            "refused_action": "reply" if reply_form is not None else "resolve",
            "compensation_label": presenters.compensation_label(case.compensation),
        }
        return TemplateResponse(request, "staff/cases/detail.html", context, status=status)
