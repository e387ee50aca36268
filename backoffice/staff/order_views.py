"""Staff pages for stock and orders at the counter: stock of a product in every location, a till sale, the store's
click-and-collect list, returns at the counter for orders from any channel, and an order's page. Reads through
orders.selectors, acts through orders.services with the staff member as actor; store staff act at their store."""

import uuid

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import Role
from backoffice.accounts.selectors import user_location_code
from backoffice.eventstore.vocabulary import Channel, FulfilmentMethod
from customers import selectors as customer_selectors
from customers.wording import money_text
from orders import errors as order_errors
from orders import selectors as order_selectors
from orders import services as order_services
from orders.events import OrderCollected, OrderPaid, OrderReady, OrderReturned
from orders.vocabulary import OrderStatus

from . import presenters
from .access import PEOPLE_ROLES, StaffRoleRequiredMixin, error_page, staff_context
from .forms import OrderLookupForm, ReturnLinesForm, StockLookupForm, TillSaleForm

STORE_ONLY = (Role.STORE,)
COUNTER_ROLES = PEOPLE_ROLES  # admin, support, store: people who answer "do you have it?" and look at orders
ORDER_LOOKUP_LIMIT = 20


def _till_field(name: str) -> str | None:
    """Where a refusal of a till sale belongs on the form: the services name a stock move's or an order's fields."""
    name = name.removeprefix("lines.0.")
    return "customer" if name.startswith("customer") else name if name in ("sku", "quantity") else None


def _store_of(request) -> str | None:
    """The staff member's store, for store staff (bound to one location); None for other roles."""
    return user_location_code(user=request.user) if request.staff_role == Role.STORE else None


def _refusal_message(exc: order_errors.OrdersError, here: str | None = None) -> str:
    if isinstance(exc, order_errors.InsufficientStock):
        parts = []
        for line in exc.lines:
            others = [e for e in line["available"] if e["location"] != here][:3]
            elsewhere = ", ".join(f"{e['name'] or e['location']} ({e['available']})" for e in others)
            if "available_here" in line:
                said = _("Only %(left)s of %(sku)s available here.") % {
                    "left": line["available_here"],
                    "sku": line["sku"],
                }
            else:
                said = _("Not enough %(sku)s here.") % {"sku": line["sku"]}
            parts.append(said + (" " + _("Available at: %(where)s.") % {"where": elsewhere} if elsewhere else ""))
        return " ".join(parts)
    if isinstance(exc, order_errors.NotYourLocation):
        return _("Store staff act only on their own store (not %(location)s).") % {"location": exc.location}
    if isinstance(exc, order_errors.IllegalTransition):
        return _("This cannot be done while the order is %(status)s.") % {"status": OrderStatus(exc.status).label}
    if isinstance(exc, order_errors.OrderNotFound):
        return _("There is no order with this id.")
    if isinstance(exc, order_errors.InvalidFields):
        return " ".join(_field_refusal(error) for error in exc.errors)
    if isinstance(exc, order_errors.IdConflict):
        return _("This was already recorded with other details; reload the page and try again.")
    return _("The request was refused and nothing was recorded.")


# A service's refusal codes in the staff's words: no field path, no internal message ever reaches a page.
REFUSALS = {
    "unknown_sku": gettext_lazy("Unknown product."),
    "inactive_sku": gettext_lazy("This product is not on sale."),
    "not_in_order": gettext_lazy("This product is not in the order."),
    "min_value": gettext_lazy("Must be 1 or more."),
    "max_value": gettext_lazy("More than the order holds."),
    "unknown_location": gettext_lazy("Unknown store."),
    "not_a_store": gettext_lazy("This location is not a store."),
    "not_found": gettext_lazy("No customer with this phone, email or loyalty card."),
    "required": gettext_lazy("This is needed."),
}


def _field_refusal(error) -> str:
    """ "Line 2 · Quantity: Must be 1 or more." from lines.1.quantity / min_value."""
    said = str(REFUSALS.get(error.code, _("Not accepted.")))
    parts = error.field.split(".")
    if parts[0] == "lines" and len(parts) >= 2 and parts[1].isdigit():
        what = {"sku": _("Product"), "quantity": _("Quantity")}.get(parts[-1], "")
        where = _("Line %(number)s") % {"number": int(parts[1]) + 1}
        return f"{where}{' · ' + str(what) if what else ''}: {said}"
    return said


def _refusal_status(exc: order_errors.OrdersError) -> int:
    if isinstance(exc, order_errors.NotYourLocation):
        return 403
    if isinstance(exc, order_errors.OrderNotFound):
        return 404
    if isinstance(exc, (order_errors.InsufficientStock, order_errors.IllegalTransition)):
        return 409
    return 400


def _form_id(value: str | None) -> uuid.UUID | None:
    """The idempotency id a page's form posts (one per form shown), or None when it posts none (or a broken one)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _customer_names(customer_ids) -> dict:
    customers = customer_selectors.customers_with_ids(customer_ids=set(customer_ids)).only(
        "id", "display_name", "erased_at"
    )
    return {
        c.id: (_("Erased customer") if c.erased_at else c.display_name or _("Customer without a name"))
        for c in customers
    }


def _line_rows(order, products: dict) -> list[dict]:
    return [
        {
            "sku": line.sku,
            "name": products[line.sku].name if line.sku in products else "",
            "quantity": line.quantity,
            "returned": line.returned_quantity,
            "returnable": line.quantity - line.returned_quantity,
            "unit_price": line.unit_price,
            "location": line.location_code,
        }
        for line in order.lines.all()
    ]


def _order_summary(order, names: dict, products: dict) -> dict:
    return {
        "order": order,
        "url": reverse("staff:order_detail", args=[order.id]),
        "customer_name": names.get(order.customer_id, ""),
        "channel_label": presenters.channel_label(order.channel),
        "status_label": order.get_status_display(),
        "lines": _line_rows(order, products),
    }


class StockLookupView(StaffRoleRequiredMixin, View):
    """ "Do you have it in Valencia?": a product's live stock in every location, the staff member's store first."""

    allowed_roles = COUNTER_ROLES

    def get(self, request):
        form = StockLookupForm(request.GET or None)
        context = {**staff_context(request), "form": form, "products": None, "product": None, "levels": []}
        if not request.GET:
            return TemplateResponse(request, "staff/orders/stock.html", context)
        if not form.is_valid():
            return TemplateResponse(request, "staff/orders/stock.html", context, status=400)
        query = form.cleaned_data["q"]
        products = order_selectors.product_search(query=query)
        exact = [p for p in products if p.sku.lower() == query.lower()]
        if len(products) == 1 or exact:
            product = exact[0] if exact else products[0]
            own = _store_of(request)
            levels = order_selectors.stock_levels(sku=product.sku)
            levels.sort(key=lambda row: (row["location"] != own, row["kind"] != "store", row["city"], row["location"]))
            for row in levels:
                row["is_own"] = row["location"] == own
                row["kind_label"] = _("store") if row["kind"] == "store" else _("warehouse")
            context.update(product=product, levels=levels, total_available=sum(r["available"] for r in levels))
        else:
            # Each product with what is available, here and everywhere: the counter sees which one to open.
            own = _store_of(request)
            available = order_selectors.availability_by_sku(skus=[p.sku for p in products], location=own)
            context["products"] = [
                {
                    "product": p,
                    "url": f"{reverse('staff:stock_lookup')}?{urlencode({'q': p.sku})}",
                    "available": available[p.sku][0],
                    "available_here": available[p.sku][1],
                }
                for p in products
            ]
            context["own_store"] = own
        return TemplateResponse(request, "staff/orders/stock.html", context)


class TillSaleView(StaffRoleRequiredMixin, View):
    """A sale at the till of the staff member's store: the units leave on-hand at once (web availability too)."""

    allowed_roles = STORE_ONLY

    def get(self, request):
        return self.render(request, TillSaleForm(initial={"quantity": 1}))

    def post(self, request):
        form = TillSaleForm(request.POST)
        if not form.is_valid():
            return self.render(request, form, status=400)
        location = _store_of(request)
        data = form.cleaned_data
        try:
            if data["customer"]:
                # A named customer: an order sold at the counter, so it is on their record and returnable anywhere.
                order, _created = order_services.order_place(
                    order_id=f"TILL-{data['sale_id'].hex[:16]}",  # short enough to read out; unique enough
                    customer=data["customer"],
                    channel=Channel.STORE,
                    lines=[{"sku": data["sku"], "quantity": data["quantity"]}],
                    fulfilment={"method": FulfilmentMethod.COUNTER, "location": location},
                    actor=request_actor(request),
                )
            else:
                order = None
                order_services.stock_move(
                    sku=data["sku"],
                    location=location,
                    kind="sold",
                    quantity=data["quantity"],
                    actor=request_actor(request),
                    acting_location=location,
                    event_id=data["sale_id"],
                )
        except order_errors.InvalidFields as exc:
            for error in exc.errors:
                form.add_error(_till_field(error.field), str(REFUSALS.get(error.code, _("Not accepted."))))
            return self.render(request, form, status=400)
        except order_errors.OrdersError as exc:
            form.add_error(None, _refusal_message(exc, here=location))
            return self.render(request, form, status=_refusal_status(exc))
        left = order_selectors.stock_levels(sku=data["sku"], location=location)[0]["available"]
        said = {"quantity": data["quantity"], "sku": data["sku"], "left": left}
        if order is None:
            messages.success(request, _("Sold %(quantity)s × %(sku)s. %(left)s left available here.") % said)
        else:
            messages.success(
                request,
                _("Sold %(quantity)s × %(sku)s to %(customer)s (order %(order)s). %(left)s left available here.")
                % {**said, "customer": _customer_names([order.customer_id])[order.customer_id], "order": order.id},
            )
        return redirect("staff:till_sale")

    def render(self, request, form, status=200):
        location = _store_of(request)
        context = {**staff_context(request), "form": form, "location": order_selectors.location_get(code=location)}
        return TemplateResponse(request, "staff/orders/till.html", context, status=status)


class PickupListView(StaffRoleRequiredMixin, View):
    """The store's click-and-collect: orders to prepare (paid: mark ready), ready ones (mark collected)."""

    allowed_roles = STORE_ONLY

    def get(self, request):
        location = _store_of(request)
        orders = order_selectors.orders_for_pickup(location=location)
        names = _customer_names(o.customer_id for o in orders)
        products = order_selectors.products_by_sku(skus={line.sku for o in orders for line in o.lines.all()})
        # Each card's button posts its own step id (OrderDetailView.post).
        rows = [{**_order_summary(o, names, products), "step_id": uuid.uuid4()} for o in orders]
        context = {
            **staff_context(request),
            "location": order_selectors.location_get(code=location),
            "unpaid": [r for r in rows if r["order"].status == OrderStatus.PLACED],
            "to_prepare": [r for r in rows if r["order"].status == OrderStatus.PAID],
            "ready": [r for r in rows if r["order"].status == OrderStatus.READY],
        }
        return TemplateResponse(request, "staff/orders/pickups.html", context)


class OrderLookupView(StaffRoleRequiredMixin, View):
    """Find an order for a return (or a question): by its id, or by the customer's phone, email or card."""

    allowed_roles = COUNTER_ROLES

    def get(self, request):
        form = OrderLookupForm(request.GET or None)
        context = {**staff_context(request), "form": form, "results": None}
        if not request.GET:
            return TemplateResponse(request, "staff/orders/lookup.html", context)
        if not form.is_valid():
            return TemplateResponse(request, "staff/orders/lookup.html", context, status=400)
        query = form.cleaned_data["q"]
        order = order_selectors.order_get(order_id=query)
        if order is None:  # typed on a tablet without capitals ("demo-00142"): one order in any case is it
            same = order_selectors.orders_with_id_in_any_case(order_id=query, limit=2)
            order = same[0] if len(same) == 1 else None
        if order is not None:
            return redirect("staff:order_detail", order_id=order.id)
        customer_ids = set()
        for customer in customer_selectors.customer_search(query=query, limit=ORDER_LOOKUP_LIMIT):
            owner = customer_selectors.customer_resolve_id(customer_id=customer.id)
            customer_ids.update(customer_selectors.customer_group_ids(customer_id=owner))
        orders = order_selectors.orders_of_customers(customer_ids=customer_ids) if customer_ids else []
        names = _customer_names(o.customer_id for o in orders)
        context["results"] = [
            {
                "order": o,
                "url": reverse("staff:order_detail", args=[o.id]),
                "customer_name": names.get(o.customer_id, ""),
                "channel_label": presenters.channel_label(o.channel),
                "status_label": o.get_status_display(),
            }
            for o in orders
        ]
        return TemplateResponse(request, "staff/orders/lookup.html", context)


class OrderDetailView(StaffRoleRequiredMixin, View):
    """An order from any channel: status, lines and where they are, history. Store staff act on it here: ready and
    collected for pickups at their store, and a return at their counter (restocks here, records the refund)."""

    allowed_roles = COUNTER_ROLES
    BACK = {"pickups": "staff:pickup_list"}

    def get(self, request, order_id: str):
        order = order_selectors.order_get(order_id=order_id)
        if order is None:
            return error_page(request, 404, _("There is no order with this id."))
        return self.render(request, order)

    def post(self, request, order_id: str):
        order = order_selectors.order_get(order_id=order_id)
        if order is None:
            return error_page(request, 404, _("There is no order with this id."))
        if request.staff_role != Role.STORE:
            return error_page(request, 403, _("Orders are handed over and returned by the staff of a store."))
        location = _store_of(request)
        action = request.POST.get("action")
        form = None
        try:
            if action in ("ready", "collect"):
                # The form's step id: a double tap or a resend is the step taken once, answered as the first was.
                order = order_services.order_act(
                    order_id=order.id,
                    action=action,
                    actor=request_actor(request),
                    acting_location=location,
                    step_id=_form_id(request.POST.get("step_id")),
                )
                done = _("Order %(id)s is ready to collect.") if action == "ready" else _("Order %(id)s collected.")
                messages.success(request, done % {"id": order.id})
            elif action == "return" and self.return_recorded(order, request.POST.get("return_id")):
                # The same form posted again (a double click, a resend): answered before its lines are checked
                # against the order as it is now, which the first post changed.
                messages.info(request, _("This return was already recorded."))
            elif action == "return":
                form = ReturnLinesForm(request.POST, order=order, names=self.product_names(order))
                if not form.is_valid():
                    return self.render(request, order, return_form=form, status=400)
                before, version = order.refunded, order.version
                order = order_services.order_act(
                    order_id=order.id,
                    action="return",
                    actor=request_actor(request),
                    channel=Channel.STORE,
                    acting_location=location,
                    location=location,
                    lines=form.lines(),
                    reason=form.cleaned_data["reason"],
                    step_id=form.cleaned_data["return_id"],
                )
                if order.version == version:  # the same form posted again: the return was recorded the first time
                    messages.info(request, _("This return was already recorded."))
                else:
                    messages.success(
                        request,
                        _("Returned at %(location)s. Refund: %(amount)s.")
                        % {"location": location, "amount": money_text(order.refunded - before, order.currency)},
                    )
            else:
                return error_page(request, 400, _("Unknown action."))
        except order_errors.OrdersError as exc:
            status = _refusal_status(exc)
            if form is not None:
                form.add_error(None, _refusal_message(exc))
                return self.render(request, order, return_form=form, status=status)
            return error_page(request, status, _refusal_message(exc))
        back = self.BACK.get(request.POST.get("next", ""))
        return redirect(back) if back else redirect("staff:order_detail", order_id=order.id)

    @staticmethod
    def return_recorded(order, return_id: str | None) -> bool:
        step_id = _form_id(return_id)
        if step_id is None:
            return False
        return order_services.order_step_recorded(order_id=order.id, action="return", step_id=step_id)

    def render(self, request, order, *, return_form=None, status=200):
        products = order_selectors.products_by_sku(skus={line.sku for line in order.lines.all()})
        names = _customer_names([order.customer_id])
        own = _store_of(request)
        allowed = order_services.allowed_actions(order)
        location = order_selectors.location_get(code=order.fulfilment_location) if order.fulfilment_location else None
        history = [
            {
                "event": event,
                "label": presenters.event_label(event.type),
                "channel_label": presenters.channel_label(event.channel),
                "detail": self.history_detail(event),
            }
            for event in order_selectors.order_history(order_id=order.id)
        ]
        is_own_pickup = (
            own is not None and order.fulfilment_method == FulfilmentMethod.PICKUP and order.fulfilment_location == own
        )
        context = {
            **staff_context(request),
            **_order_summary(order, names, products),
            "customer_url": reverse("staff:customer_detail", args=[order.customer_id]),
            "fulfilment_location": location,
            "history": history,
            "can_ready": is_own_pickup and "ready" in allowed,
            "can_collect": is_own_pickup and "collect" in allowed,
            "can_return": own is not None and "return" in allowed,
            "step_id": uuid.uuid4(),  # of the ready / collected form: a double tap is the step taken once
            "return_form": return_form or ReturnLinesForm(order=order, names={s: p.name for s, p in products.items()}),
            "own_location": own,
        }
        return TemplateResponse(request, "staff/orders/detail.html", context, status=status)

    @staticmethod
    def product_names(order) -> dict:
        products = order_selectors.products_by_sku(skus={line.sku for line in order.lines.all()})
        return {sku: product.name for sku, product in products.items()}

    @staticmethod
    def history_detail(event) -> str:
        data = event.data
        if event.type == OrderReturned.type_name:
            lines = ", ".join(f"{line['quantity']} × {line['sku']}" for line in data.get("lines", []))
            return _("%(lines)s at %(location)s, refund %(amount)s") % {
                "lines": lines,
                "location": data.get("location", ""),
                "amount": money_text(data.get("refund_amount"), data.get("currency")),
            }
        if event.type in (OrderReady.type_name, OrderCollected.type_name):
            return data.get("location", "")
        if event.type == OrderPaid.type_name:
            return money_text(data.get("amount"), data.get("currency"))
        return ""
