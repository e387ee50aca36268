import re
import uuid
from decimal import Decimal

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.formats import localize
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backoffice.accounts.roles import Role
from backoffice.accounts.selectors import user_role
from backoffice.eventstore.vocabulary import Channel
from customers import selectors as customer_selectors
from customers.wording import money_text

from .access import UI_ROLES
from .presenters import CHANNEL_LABELS, CONSENT_CHANNELS, CONSENT_PURPOSES, PURPOSE_LABELS

# Where a consent change made on a staff page happened: at the counter, or on the phone with customer service.
SOURCE_CHANNELS_BY_ROLE = {
    Role.STORE: (Channel.STORE,),
    Role.SUPPORT: (Channel.PHONE,),
    Role.ADMIN: (Channel.STORE, Channel.PHONE),
}
SEARCH_MIN_LENGTH = 3
# The most a voucher or a refund given on a case may be worth when the case names no order we know: above it, the
# amount is refused as a likely slip of the keyboard (a case about an order is capped at the order's total instead).
COMPENSATION_CEILING = Decimal("500.00")


class StaffAuthenticationForm(AuthenticationForm):
    """The admin's login form, refusing accounts without a staff page to see (systems, users without a role)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "no_staff_pages": _("This account cannot use the staff pages."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user_role(user=user) not in UI_ROLES:
            raise forms.ValidationError(self.error_messages["no_staff_pages"], code="no_staff_pages")


class CustomerSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Phone, email, loyalty card or name"),
        min_length=SEARCH_MIN_LENGTH,
        max_length=254,
        strip=True,
        error_messages={"min_length": _("Type at least %(limit_value)d characters.")},
    )


class ConsentChangeForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=[(c, CHANNEL_LABELS[c]) for c in CONSENT_CHANNELS])
    purpose = forms.ChoiceField(label=_("Purpose"), choices=[(p, PURPOSE_LABELS[p]) for p in CONSENT_PURPOSES])
    granted = forms.TypedChoiceField(
        label=pgettext_lazy("consent", "Change"),
        choices=[("1", _("Give consent")), ("0", _("Withdraw consent"))],
        coerce=lambda value: value == "1",
    )
    source_channel = forms.ChoiceField(label=_("Where the customer said it"))
    wording = forms.CharField(
        label=_("Text read to the customer"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded with the change as proof of what the customer agreed to."),
    )
    # One per form shown (as the till's sale_id), the change's event id: a double tap or the browser's resend of
    # the form records one change, and an old form resent cannot undo a change made since.
    change_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, role: str, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("change_id", uuid.uuid4())
        super().__init__(*args, **kwargs)
        sources = SOURCE_CHANNELS_BY_ROLE.get(role, ())
        self.fields["source_channel"].choices = [(c, CHANNEL_LABELS[c]) for c in sources]
        if sources:
            self.fields["source_channel"].initial = sources[0]


class CaseFilterForm(forms.Form):
    """The inbox's filters; every field optional, an unknown value is a 400 page."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("open", _("Open")), ("resolved", _("Resolved")), ("all", pgettext_lazy("cases", "All"))],
    )
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    breached = forms.ChoiceField(
        label=_("SLA"),
        required=False,
        choices=[("", _("Any")), ("yes", _("Breached")), ("no", _("On time"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("Every channel")), *CHANNEL_LABELS.items()]


class CaseReplyForm(forms.Form):
    channel = forms.ChoiceField(label=_("Reply on"))
    text = forms.CharField(label=_("Message"), max_length=10000, widget=forms.Textarea(attrs={"rows": 4}))
    # The reply's idempotency key: a double click or a resent form sends one message.
    reply_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, channels: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c, CHANNEL_LABELS.get(c, c)) for c in channels]


# An amount as staff type it in either language: digits, then up to two decimals after a comma or a point
# ("15,50", "15.50", "15.5", "15"); thousands grouped by the other mark only when the decimals are written too
# ("1.550,00", "1,550.00"). Anything else is refused, never guessed: "1.550" (one thousand five hundred and fifty, or
# one and a half with a stray zero?), "15,505", "1.5.5".
_PLAIN_AMOUNT = re.compile(r"(?P<units>\d+)(?:[.,](?P<cents>\d{1,2}))?")
_GROUPED_AMOUNT = re.compile(r"(?P<units>\d{1,3}(?:(?P<group>[.,])\d{3})+)(?P<mark>[.,])(?P<cents>\d{1,2})")


class MoneyAmountField(forms.DecimalField):
    """A euro amount typed at the desk, read by the rule of _PLAIN_AMOUNT and _GROUPED_AMOUNT whatever the page's
    language, so "15,50" typed on an English page is 15.50 too. It is a text box (inputmode=decimal brings up the
    numeric keypad): a number box in a Spanish browser drops the comma the staff type and sends 1550 for "15,50".
    Spaces and a euro sign around the amount are ignored."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"})
    default_error_messages = {
        "invalid": _("Write the amount like %(example)s: up to two decimals after a comma or a point."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("localize", True)  # its value shown again as the page's language writes numbers
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        text = "".join(str(value).split()).removesuffix("€").removeprefix("€")
        plain = _PLAIN_AMOUNT.fullmatch(text)
        grouped = None if plain else _GROUPED_AMOUNT.fullmatch(text)
        if plain:
            units, cents = plain["units"], plain["cents"] or "0"
        elif grouped and grouped["group"] != grouped["mark"]:
            units, cents = grouped["units"].replace(grouped["group"], ""), grouped["cents"]
        else:
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"example": localize(Decimal("15.50"))}
            )
        return Decimal(f"{units}.{cents}")


class CaseResolveForm(forms.Form):
    resolution = forms.CharField(label=_("Resolution"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    compensation = forms.ChoiceField(
        label=_("Compensation"),
        choices=[
            ("none", pgettext_lazy("compensation", "None")),
            ("voucher", _("Voucher")),
            ("refund", _("Refund")),
            ("reshipment", _("Reshipment")),
        ],
        initial="none",
    )
    amount = MoneyAmountField(label=_("Amount (EUR)"), required=False, min_value=0, max_digits=12, decimal_places=2)
    code = forms.CharField(label=_("Voucher code"), required=False, max_length=64)

    def __init__(self, *args, order_total: Decimal | None = None, **kwargs):
        """`order_total`: the total of the order the case is about, when we know it: no voucher or refund is worth
        more. Without it, COMPENSATION_CEILING."""
        super().__init__(*args, **kwargs)
        self.order_total = order_total
        if order_total is not None:
            self.fields["amount"].help_text = _("Up to %(total)s, the order's total.") % {
                "total": money_text(order_total)
            }

    def clean(self):
        data = super().clean()
        kind = data.get("compensation")
        amount = data.get("amount")
        if kind in ("voucher", "refund") and amount is None and "amount" not in self.errors:
            self.add_error("amount", _("A voucher or a refund needs an amount."))
        elif kind in ("voucher", "refund") and amount is not None:
            if self.order_total is not None and amount > self.order_total:
                self.add_error(
                    "amount",
                    _("More than the order's total (%(total)s): a voucher or a refund is worth that at most.")
                    % {"total": money_text(self.order_total)},
                )
            elif self.order_total is None and amount > COMPENSATION_CEILING:
                self.add_error(
                    "amount",
                    _("More than %(ceiling)s, the most a voucher or a refund may be worth here.")
                    % {"ceiling": money_text(COMPENSATION_CEILING)},
                )
        if kind == "voucher" and not data.get("code"):
            self.add_error("code", _("A voucher needs its code."))
        return data

    def compensation_data(self) -> dict:
        data = self.cleaned_data
        result = {"kind": data["compensation"]}
        if data.get("amount") is not None and data["compensation"] in ("voucher", "refund"):
            result["amount"] = f"{data['amount']:.2f}"
        if data["compensation"] == "voucher":
            result["code"] = data["code"]
        return result


class StockLookupForm(forms.Form):
    q = forms.CharField(
        label=_("SKU or product name"),
        min_length=2,
        max_length=200,
        strip=True,
        error_messages={"min_length": _("Type at least %(limit_value)d characters.")},
    )


class TillSaleForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=64, strip=True)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=999)
    customer = forms.CharField(
        label=_("Customer (optional)"),
        help_text=_("Phone, email or loyalty card: the sale goes on their record and can be returned at any store."),
        max_length=254,
        required=False,
    )
    # One per form shown: posting the same form twice records one sale.
    sale_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("sale_id", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.fields["sku"].widget.attrs.update(autocapitalize="characters", autocomplete="off", spellcheck="false")
        self.fields["customer"].widget.attrs.update(autocomplete="off", spellcheck="false")

    def clean_customer(self) -> dict | None:
        """The customer's identifiers ({"phone": ...}), or None for a sale to no one in particular."""
        text = self.cleaned_data["customer"].strip()
        if not text:
            return None
        kind = customer_selectors.identifier_kind(text=text)
        if kind is None:
            raise forms.ValidationError(_("Not a phone number, an email or a loyalty card."), code="invalid")
        return {kind: text}


class OrderLookupForm(forms.Form):
    q = forms.CharField(label=_("Order number, or the customer's phone, email or loyalty card"), max_length=254)


class ReturnLinesForm(forms.Form):
    """One quantity per sku of the order still to return (at most what is left), and the customer's reason.

    The fields are named by sku (`qty_<sku>`), never by position: a page shown before another return of the order
    (another store, the web, another tab) still means the products it showed. A quantity posted for a product of the
    order that can no longer be returned is refused, naming it."""

    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
    # One per form shown (as the till's sale_id): posting the same form twice returns the goods once.
    return_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, order, names: dict | None = None, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("return_id", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.names = names or {}
        self.left: dict[str, int] = {}
        for line in order.lines.all():
            self.left[line.sku] = self.left.get(line.sku, 0) + line.quantity - line.returned_quantity
        self.skus = [sku for sku, qty in self.left.items() if qty > 0]
        fields = {}
        for sku in self.skus:
            fields[self.field_name(sku)] = forms.IntegerField(
                label=_("%(product)s (up to %(left)s)") % {"product": self.product(sku), "left": self.left[sku]},
                min_value=0,
                max_value=self.left[sku],
                initial=0,
                required=False,
            )
        self.fields = {**fields, "reason": self.fields["reason"], "return_id": self.fields["return_id"]}

    @staticmethod
    def field_name(sku: str) -> str:
        return f"qty_{sku}"

    def product(self, sku: str) -> str:
        return " · ".join(filter(None, (sku, self.names.get(sku))))

    def clean(self):
        data = super().clean()
        for sku, left in self.left.items():
            if left <= 0 and str(self.data.get(self.field_name(sku), "")).strip() not in ("", "0"):
                self.add_error(
                    None,
                    _("%(product)s can no longer be returned: all of it was returned already.")
                    % {"product": self.product(sku)},
                )
        if not self.errors and not self.lines():
            raise forms.ValidationError(_("Choose at least one unit to return."), code="required")
        return data

    def lines(self) -> list[dict]:
        data = getattr(self, "cleaned_data", {})
        return [
            {"sku": sku, "quantity": data[self.field_name(sku)]} for sku in self.skus if data.get(self.field_name(sku))
        ]
