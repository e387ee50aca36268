"""The worksheet's rules: the six sections and when each is answered, placeholders and how a variant renders for one
customer, and the consistency checks a campaign must pass before it is approved or launched.

Offer code, discount and validity are typed once, on the campaign; variants name them by placeholder, so every
channel carries the same offer. Channel limits are those of messaging (backoffice.messaging.channels), checked on the
variant rendered with the longest values a customer can bring.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.conf import settings
from django.db.models import Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backoffice.eventstore.vocabulary import Channel, Purpose
from backoffice.messaging import channels as channel_rules
from backoffice.messaging import policy
from backoffice.messaging.errors import ChannelRuleError
from customers.reachability import ADDRESS_KINDS
from customers.selectors import has_identifier, marketing_consent_granted
from orders.selectors import longest_active_product_name

from . import segments, selectors
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
# The placeholders whose values are the customer's (their name, where they buy, what we recommend them).
CUSTOMER_PLACEHOLDERS: Final = ("name", "city", "store", "product")
# A letter outside GSM 03.38 (María, Cádiz, León): one of them in a customer's values makes the whole SMS UCS-2, 70
# characters in one part and 67 per part instead of 160 and 153. The length checks assume every customer letter is one.
NON_GSM_LETTER: Final = "Í"


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
    """The offer's placeholders, the validity written as the customer's language writes dates (none: LANGUAGE_CODE)."""
    valid = ""
    if campaign.valid_until:
        with translation.override(language or settings.LANGUAGE_CODE):
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


def fallback_values(language: str) -> dict[str, str]:
    """What a variant says where we know nothing of the customer (no name, never bought in a store, nothing to
    recommend), in their language (none: LANGUAGE_CODE). Never empty: messaging refuses a blank WhatsApp template
    parameter, and a text should not read "en  te espera"."""
    with translation.override(language or settings.LANGUAGE_CODE):
        return {
            "name": str(_("friend")),
            "city": str(_("your city")),
            "store": str(_("our online shop")),
            "product": str(_("our new collection")),
        }


def longest_values(campaign: Campaign) -> dict[str, str]:
    """The worst case of every customer's values for the length checks: each as long as it can be, in letters
    outside GSM-7, so an SMS is counted as UCS-2 whenever it carries one of them."""
    fallbacks = [fallback_values(language) for language, _name in settings.LANGUAGES]
    longest = {
        "name": MAX_NAME,
        "city": MAX_CITY,
        "store": MAX_STORE,
        "product": max(len(longest_active_product_name()), *(len(f["product"]) for f in fallbacks)),
    }
    return {name: NON_GSM_LETTER * n for name, n in longest.items()} | offer_values(campaign)


def check_samples(campaign: Campaign) -> list[dict[str, str]]:
    """The customer values a variant is checked with: the longest (lengths), and those of a customer we know
    nothing about in each language (nothing blank), with the offer."""
    shortest = [fallback_values(language) | offer_values(campaign, language) for language, _name in settings.LANGUAGES]
    return [longest_values(campaign), *shortest]


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
    problems.extend(_validity_problems(campaign, now))
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
    if campaign.ends_at and campaign.ends_at <= now:
        # Approved and launched, it would decide everybody "expired" and send nothing.
        problems.append(Problem("when", "ends_at", str(_("has already ended")), "ended"))
    if (campaign.send_window_start is None) != (campaign.send_window_end is None):
        need("when", "send_window_end", False, _("give both ends of the send window, or neither"))
    problems.extend(_quiet_hours_problems(campaign, [c for c in campaign.channels or [] if c in OUTBOUND_CHANNELS]))
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
        if not has_reachable_audience(campaign, now=now):
            problems.append(
                Problem("who", "segments", str(_("nobody in the audience can be reached on these channels")), "empty")
            )
    return problems


def _validity_problems(campaign: Campaign, now: datetime) -> list[Problem]:
    """The offer must be valid on every day the campaign may send: a message saying "use it until <yesterday>" is a
    broken promise. Days are local days (TIME_ZONE), as the validity is written; the fan-out also decides "expired"
    anyone whose own local date is already past the validity (campaigns.services.fan_out)."""
    if not campaign.valid_until:
        return []
    message = None
    if campaign.valid_until < timezone.localdate(now):
        message = _("the offer has already expired")
    elif campaign.starts_at and campaign.valid_until < timezone.localdate(campaign.starts_at):
        message = _("the offer ends before the campaign starts")
    elif campaign.ends_at and campaign.valid_until < last_day(campaign.ends_at):
        message = _("the offer ends before the campaign does: end the campaign by %(date)s or extend the offer") % {
            "date": formats.date_format(campaign.valid_until, "SHORT_DATE_FORMAT")
        }
    return [Problem("what", "valid_until", str(message), "invalid")] if message else []


def last_day(ends_at: datetime) -> date:
    """The last local day a campaign ending at `ends_at` sends on (one ending at midnight ends the day before)."""
    return timezone.localdate(ends_at - timedelta(microseconds=1))


def _quiet_hours_problems(campaign: Campaign, chosen: list[str]) -> list[Problem]:
    """A send window that lies entirely inside the quiet hours of the campaign's channels sends nobody anything: the
    fan-out decides people only outside quiet hours (messaging's, per channel; both are local wall-clock times)."""
    start, end = campaign.send_window_start, campaign.send_window_end
    if start is None or end is None or start == end or not chosen:
        return []
    rules = policy.channel_rules_all(chosen).values()
    quiet = [(r.quiet_start, r.quiet_end) for r in rules if None not in (r.quiet_start, r.quiet_end)]
    window = _spans(start, end)
    cuts = sorted({0, DAY, *(s for span in window for s in span), *(_seconds(t) for pair in quiet for t in pair)})
    # Between two consecutive boundaries a moment is all inside or all outside each span: test one per stretch.
    for left, right in zip(cuts, cuts[1:], strict=False):
        middle = (left + right) / 2
        if _inside(middle, window) and not any(_inside(middle, _spans(*pair)) for pair in quiet):
            return []
    hours = ", ".join(sorted({f"{s:%H:%M}-{e:%H:%M}" for s, e in quiet}))
    message = _(
        "the send window lies entirely inside the quiet hours of its channels (%(hours)s): nobody would be sent it"
    ) % {"hours": hours}
    return [Problem("when", "send_window_start", str(message), "quiet_hours")]


DAY: Final = 24 * 3600


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _spans(start: time, end: time) -> list[tuple[int, int]]:
    """[start, end) of a local clock as spans of seconds of the day (one, or two when it wraps midnight)."""
    a, b = _seconds(start), _seconds(end)
    return [(a, b)] if a < b else [(a, DAY), (0, b)]


def _inside(moment: float, spans: list[tuple[int, int]]) -> bool:
    return any(a <= moment < b for a, b in spans)


def _variant_problems(campaign: Campaign, chosen: list[str], now: datetime) -> list[Problem]:
    problems = []
    offer = offer_values(campaign)
    samples = check_samples(campaign)
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
        for sample in samples:
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
                break  # one problem per variant: the first sample that breaks a rule says it
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


# People asked of customers.reachability at a time, when no one's own row reaches them (see has_reachable_audience).
REACHABILITY_PAGE: Final = 500


def has_reachable_audience(campaign: Campaign, *, now: datetime) -> bool:
    """Whether anyone of the audience has marketing consent and an address on one of the campaign's channels.

    Most people are one customer row, whose own consent and address answer in one SQL query. A person's address may
    also be on a profile merged into them, and the fan-out reaches them through it: when no own row answers, the
    people with consent are asked of the fan-out's own answer (customers.reachability, which folds a person's
    profiles), a page at a time, until one is reachable."""
    consented, own = Q(pk__in=[]), Q(pk__in=[])
    for channel in campaign.channels or []:
        consent = Q(marketing_consent_granted(channel=channel))
        kind = ADDRESS_KINDS.get(channel)
        address = Q(has_identifier(kind=kind)) if kind else Q(channels_used__icontains='"app"')
        consented |= consent
        own |= consent & address
    audience = audience_queryset(campaign, now=now)
    if audience.filter(own).exists():
        return True
    candidates = audience.filter(consented).order_by("id").values_list("id", flat=True)
    page = list(candidates[:REACHABILITY_PAGE])
    while page:
        if selectors.reachable_channels(customer_ids=page, channels=campaign.channels, at=now):
            return True
        page = list(candidates.filter(id__gt=page[-1])[:REACHABILITY_PAGE])
    return False
