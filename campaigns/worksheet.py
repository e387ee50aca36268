"""The worksheet's rules: the six sections and when each is answered, placeholders and how a variant renders for one
customer, and the consistency checks a campaign must pass before it is approved or launched.

Offer code, discount and validity are typed once, on the campaign; variants name them by placeholder, so every
channel carries the same offer. Channel limits are those of messaging (backoffice.messaging.channels), checked on the
variant rendered with the longest values a customer can bring.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.db.models import Q
from django.utils import formats, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backoffice.eventstore.vocabulary import Channel, Purpose
from backoffice.messaging import channels as channel_rules
from backoffice.messaging import policy
from backoffice.messaging.errors import ChannelRuleError
from customers.selectors import has_identifier, marketing_consent_granted
from orders.selectors import longest_active_product_name

from . import segments
from .models import OUTBOUND_CHANNELS, VARIANT_FIELDS, Campaign

SECTIONS: Final = (
    ("what", pgettext_lazy("QQOQCP", "What")),
    ("who", pgettext_lazy("QQOQCP", "Who")),
    ("where", pgettext_lazy("QQOQCP", "Where")),
    ("when", pgettext_lazy("QQOQCP", "When")),
    ("how", pgettext_lazy("QQOQCP", "How")),
    ("why", pgettext_lazy("QQOQCP", "Why")),
)
PLACEHOLDERS: Final = {
    "name": _("customer's first name"),
    "city": _("customer's city (where they buy)"),
    "store": _("customer's preferred store"),
    "product": _("recommended product"),
    "offer_code": _("offer code"),
    "discount": _("discount"),
    "valid_until": _("offer validity"),
}
OFFER_PLACEHOLDERS: Final = (("offer_code", "offer_code"), ("discount", "discount"), ("valid_until", "valid_until"))
_PLACEHOLDER: Final = re.compile(r"\{(\w*)\}")
# The longest values a customer brings into a variant, for the length checks (names and cities are cut to these).
MAX_NAME: Final = 20
MAX_CITY: Final = 30
MAX_STORE: Final = 40


@dataclass(frozen=True)
class Problem:
    section: str
    field: str
    message: str
    code: str

    def as_error(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code, "section": self.section}


def placeholders_in(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text or ""))


def render(text: str, values: dict[str, str]) -> str:
    """Placeholders replaced by values; an unknown one stays as typed (the checks refuse it before approval)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


def offer_values(campaign: Campaign, language: str = "") -> dict[str, str]:
    valid = ""
    if campaign.valid_until:
        with translation.override(language or None):
            valid = formats.date_format(campaign.valid_until, "SHORT_DATE_FORMAT")
    return {"offer_code": campaign.offer_code, "discount": campaign.discount, "valid_until": valid}


def variant_content(campaign: Campaign, channel: str, values: dict[str, str]) -> dict[str, Any]:
    """The message content of one channel's variant for one customer's values (placeholders filled)."""
    content: dict[str, Any] = {}
    for field, key in VARIANT_FIELDS[channel]:
        raw = getattr(campaign, field)
        if field == "whatsapp_parameters":
            content[key] = [render(line.strip(), values) for line in raw.splitlines() if line.strip()]
        elif field == "whatsapp_template":
            content[key] = raw.strip()
        else:
            content[key] = render(raw, values)
    return content


def variant_text(campaign: Campaign, channel: str) -> str:
    return "\n".join(getattr(campaign, field) for field, _key in VARIANT_FIELDS[channel])


def longest_values(campaign: Campaign) -> dict[str, str]:
    longest_product = longest_active_product_name()
    return {
        "name": "N" * MAX_NAME,
        "city": "C" * MAX_CITY,
        "store": "S" * MAX_STORE,
        "product": longest_product,
        **offer_values(campaign),
    }


def section_state(problems: list[Problem]) -> dict[str, bool]:
    """Which of the six sections are answered: a section is answered when none of its questions is missing."""
    missing = {p.section for p in problems if p.code == "required"}
    return {key: key not in missing for key, _label in SECTIONS}


def campaign_problems(campaign: Campaign, *, now: datetime, check_audience: bool = True) -> list[Problem]:
    """Everything that stops the campaign from being approved or launched, each naming its field."""
    problems: list[Problem] = []

    def need(section: str, field: str, ok: Any, message: Any = None) -> None:
        if not ok:
            problems.append(Problem(section, field, str(message or _("is required")), "required"))

    # What
    need("what", "key_message", campaign.key_message.strip())
    need("what", "intent", campaign.intent.strip())
    offer = [campaign.offer_code, campaign.discount, campaign.valid_until]
    if any(offer) and not campaign.offer_code:
        need("what", "offer_code", False, _("an offer needs its code"))
    if campaign.offer_code and not campaign.valid_until:
        need("what", "valid_until", False, _("an offer needs its validity"))
    if campaign.valid_until and campaign.starts_at and campaign.valid_until < campaign.starts_at.date():
        problems.append(Problem("what", "valid_until", str(_("the offer ends before the campaign starts")), "invalid"))
    # Who
    segment_ids = list(campaign.segments.values_list("id", flat=True)) if not campaign._state.adding else []
    need("who", "segments", segment_ids, _("choose at least one segment"))
    # Where
    chosen = [c for c in campaign.channels or [] if c in OUTBOUND_CHANNELS]
    need("where", "channels", chosen, _("choose at least one channel"))
    unknown = set(campaign.channels or []) - set(OUTBOUND_CHANNELS)
    if unknown:
        problems.append(Problem("where", "channels", f"unknown channels {sorted(unknown)}", "invalid_choice"))
    # When
    need("when", "starts_at", campaign.starts_at)
    need("when", "ends_at", campaign.ends_at)
    if campaign.starts_at and campaign.ends_at and campaign.ends_at <= campaign.starts_at:
        problems.append(Problem("when", "ends_at", str(_("must be after the start")), "invalid"))
    if (campaign.send_window_start is None) != (campaign.send_window_end is None):
        need("when", "send_window_end", False, _("give both ends of the send window, or neither"))
    # How
    for channel in chosen:
        for field, _key in VARIANT_FIELDS[channel]:
            if field == "whatsapp_parameters":
                continue
            need(
                "how",
                field,
                getattr(campaign, field).strip(),
                _("is required for the %(channel)s variant") % {"channel": channel},
            )
    problems.extend(_variant_problems(campaign, chosen, now))
    # Why
    need("why", "objective", campaign.objective.strip())
    need("why", "kpi", campaign.kpi.strip())
    need("why", "target_value", campaign.target_value is not None)
    need("why", "attribution_days", campaign.attribution_days)
    need("why", "budget", campaign.budget is not None)
    costs = campaign.costs or {}
    for channel in chosen:
        value = costs.get(channel)
        try:
            ok = value not in (None, "") and Decimal(str(value)) >= 0
        except (InvalidOperation, ValueError):
            ok = False
        need("why", f"costs.{channel}", ok, _("cost per %(channel)s message is required") % {"channel": channel})
    if check_audience and segment_ids and chosen and not any(p.code == "required" for p in problems):
        if not reachable_audience(campaign, now=now).exists():
            problems.append(
                Problem("who", "segments", str(_("nobody in the audience can be reached on these channels")), "empty")
            )
    return problems


def _variant_problems(campaign: Campaign, chosen: list[str], now: datetime) -> list[Problem]:
    problems = []
    offer = offer_values(campaign)
    sample = longest_values(campaign)
    max_segments = policy.channel_rules("sms").max_sms_segments
    for channel in chosen:
        text = variant_text(campaign, channel)
        if not text.strip():
            continue
        first_field = VARIANT_FIELDS[channel][-1][0]
        for field, _key in VARIANT_FIELDS[channel]:
            unknown = placeholders_in(getattr(campaign, field)) - set(PLACEHOLDERS)
            if unknown:
                names = ", ".join("{" + name + "}" for name in sorted(unknown))
                problems.append(Problem("how", field, f"unknown placeholder {names}", "unknown_placeholder"))
        for placeholder, attribute in OFFER_PLACEHOLDERS:
            if not getattr(campaign, attribute):
                continue
            if placeholder not in placeholders_in(text):
                message = _("the %(channel)s variant must carry the offer's {%(placeholder)s}") % {
                    "channel": channel,
                    "placeholder": placeholder,
                }
                problems.append(Problem("how", first_field, str(message), "offer_missing"))
            literal = offer[placeholder]
            if literal and len(literal) >= 3 and literal.lower() in text.lower():
                message = _("type {%(placeholder)s}, not %(value)s: the offer is typed once, on the campaign") % {
                    "placeholder": placeholder,
                    "value": literal,
                }
                problems.append(Problem("how", first_field, str(message), "offer_typed"))
        try:
            channel_rules.check(
                channel=channel,
                purpose=Purpose.MARKETING,
                content=variant_content(campaign, channel, sample),
                max_sms_segments=max_segments,
                last_inbound_at=None,
                now=now,
            )
        except ChannelRuleError as exc:
            key = exc.field.removeprefix("content.").split(".")[0]
            field = next((f for f, k in VARIANT_FIELDS[channel] if k == key), first_field)
            if channel == Channel.WHATSAPP and exc.code == "template_required":
                field = "whatsapp_template"
            problems.append(Problem("how", field, exc.message, exc.code))
    return problems


def audience_queryset(campaign: Campaign, *, now: datetime):
    """The people of the campaign's segments, minus its exclusions: one SQL query."""
    included = Q(pk__in=[])
    for segment in campaign.segments.all():
        included |= segments.segment_q(segment.rules, now)
    excluded = Q(pk__in=[])
    for segment in campaign.exclusions.all():
        excluded |= segments.segment_q(segment.rules, now)
    return segments.people().annotate(**segments.rfm_annotations(now)).filter(included).exclude(excluded)


def reachable_audience(campaign: Campaign, *, now: datetime):
    """Those of the audience with marketing consent and an address on at least one of the campaign's channels."""
    from customers.reachability import ADDRESS_KINDS

    reachable = Q(pk__in=[])
    for channel in campaign.channels or []:
        consent = marketing_consent_granted(channel=channel)
        kind = ADDRESS_KINDS.get(channel)
        if kind:
            address = has_identifier(kind=kind)
            reachable |= Q(consent) & Q(address)
        else:
            reachable |= Q(consent) & Q(channels_used__icontains='"app"')
    return audience_queryset(campaign, now=now).filter(reachable)
