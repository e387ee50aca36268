"""Segment rules: stored as data, validated here, compiled to one SQL query over the customer 360 projection.

A rule set is a group: {"op": "and"|"or", "rules": [condition | group, ...]}; a condition is
{"field": ..., "cmp": ..., "value": ...}. Nothing is evaluated in Python per customer: `segment_queryset` returns a
queryset of people (customers with `merged_into` NULL, not erased) filtered by one WHERE clause; RFM scores are CASE
expressions over the same fixed thresholds as customers.selectors.rfm_scores; purchases, consents and stores are
EXISTS subqueries.

Order-based values (RFM, value, count, last order, purchases) are those the customer 360 projection holds for the
person's own id; orders a merged-away profile placed before the merge count for that profile's row, as the
projection keeps them.
"""

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from backoffice.eventstore.vocabulary import CHANNELS
from customers.selectors import marketing_consent_granted, people_contactable
from orders.selectors import customer_bought, location_codes_in_city, skus_in_category

from .models import OUTBOUND_CHANNELS

if TYPE_CHECKING:  # a type name only: the rows come from customers.selectors
    from customers.models import Customer

MAX_DEPTH: Final = 4
MAX_CONDITIONS: Final = 50


@dataclass(frozen=True)
class Field:
    label: Any
    kind: str  # score, int, money, days, text, channel
    cmps: tuple[str, ...]


NUMBER_CMPS: Final = ("eq", "gte", "lte")
IS_CMPS: Final = ("eq", "ne")

FIELDS: Final[dict[str, Field]] = {
    "recency_score": Field(_("RFM recency score (1-5, 0 no orders)"), "score", NUMBER_CMPS),
    "frequency_score": Field(_("RFM frequency score (1-5, 0 no orders)"), "score", NUMBER_CMPS),
    "monetary_score": Field(_("RFM monetary score (1-5, 0 no orders)"), "score", NUMBER_CMPS),
    "lifetime_value": Field(_("total spent (net)"), "money", NUMBER_CMPS),
    "order_count": Field(_("number of orders"), "int", NUMBER_CMPS),
    "last_order_days": Field(_("days since the last order"), "days", ("lte", "gte")),
    "bought_category": Field(_("bought in category"), "text", IS_CMPS),
    "bought_sku": Field(_("bought product (SKU)"), "text", IS_CMPS),
    "channel_used": Field(_("has used channel"), "anychannel", IS_CMPS),
    "consent": Field(_("marketing consent on channel"), "channel", IS_CMPS),
    "city": Field(_("bought in a store of city"), "text", IS_CMPS),
    "store": Field(_("bought at store (location code)"), "text", IS_CMPS),
    "language": Field(_("language"), "text", IS_CMPS),
    "acquisition_channel": Field(_("acquisition channel"), "anychannel", IS_CMPS),
}
CMP_LABELS: Final = {"eq": _("is"), "ne": _("is not"), "gte": _("at least"), "lte": _("at most")}
ANY_CHANNELS: Final = CHANNELS


class SegmentRuleError(Exception):
    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def validate_rules(rules: Any, *, field: str = "rules") -> dict:
    """The rules, normalised (values typed), or SegmentRuleError naming every bad path (`rules.rules.0.value`)."""
    errors: list[dict[str, str]] = []
    count = [0]
    cleaned = _validate_group(rules, field, 1, errors, count)
    if count[0] > MAX_CONDITIONS:
        errors.append({"field": field, "message": f"at most {MAX_CONDITIONS} conditions", "code": "too_many"})
    if errors:
        raise SegmentRuleError(errors)
    return cleaned


def _validate_group(group: Any, path: str, depth: int, errors: list, count: list) -> dict:
    if not isinstance(group, dict):
        errors.append({"field": path, "message": "must be a group {op, rules}", "code": "invalid"})
        return {}
    if depth > MAX_DEPTH:
        errors.append({"field": path, "message": f"groups nest at most {MAX_DEPTH} deep", "code": "too_deep"})
        return {}
    op = group.get("op", "and")
    if op not in ("and", "or"):
        errors.append({"field": f"{path}.op", "message": "must be and or or", "code": "invalid_choice"})
    items = group.get("rules")
    if not isinstance(items, list) or not items:
        errors.append({"field": f"{path}.rules", "message": "must be a non-empty list", "code": "required"})
        return {}
    unknown = set(group) - {"op", "rules"}
    if unknown:
        errors.append({"field": path, "message": f"unknown keys {sorted(unknown)}", "code": "unknown_field"})
    cleaned = []
    for index, item in enumerate(items):
        item_path = f"{path}.rules.{index}"
        if isinstance(item, dict) and "rules" in item:
            cleaned.append(_validate_group(item, item_path, depth + 1, errors, count))
        else:
            count[0] += 1
            cleaned.append(_validate_condition(item, item_path, errors))
    return {"op": op, "rules": cleaned}


def _validate_condition(item: Any, path: str, errors: list) -> dict:
    if not isinstance(item, dict):
        errors.append({"field": path, "message": "must be a condition {field, cmp, value}", "code": "invalid"})
        return {}
    name, cmp, value = item.get("field"), item.get("cmp", "eq"), item.get("value")
    # Any JSON may arrive here: a list is no key of FIELDS (unhashable), a number may be 1e400 (float infinity).
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.append({"field": f"{path}.field", "message": f"one of {', '.join(FIELDS)}", "code": "invalid_choice"})
        return {}
    if not isinstance(cmp, str) or cmp not in spec.cmps:
        errors.append({"field": f"{path}.cmp", "message": f"one of {', '.join(spec.cmps)}", "code": "invalid_choice"})
    typed: Any = value
    if spec.kind in ("score", "int", "days"):
        limit = 5 if spec.kind == "score" else 100_000
        typed = whole_number(value)
        if typed is None or not 0 <= typed <= limit:
            errors.append({"field": f"{path}.value", "message": f"a whole number 0 to {limit}", "code": "invalid"})
    elif spec.kind == "money":
        typed = amount(value)
        if typed is None or Decimal(typed) < 0:
            errors.append({"field": f"{path}.value", "message": 'an amount, e.g. "150.00"', "code": "invalid"})
    elif spec.kind in ("channel", "anychannel"):
        choices = OUTBOUND_CHANNELS if spec.kind == "channel" else ANY_CHANNELS
        if not isinstance(value, str) or value not in choices:
            errors.append(
                {"field": f"{path}.value", "message": f"one of {', '.join(choices)}", "code": "invalid_choice"}
            )
    elif not isinstance(value, str) or not value.strip() or len(value) > 100:
        errors.append({"field": f"{path}.value", "message": "a text of 1 to 100 characters", "code": "invalid"})
    else:
        typed = value.strip()
    return {"field": name, "cmp": cmp, "value": typed}


def whole_number(value: Any) -> int | None:
    """An integer from JSON: an int, a float with no fraction (3.0) or a string of digits; None for anything else,
    a boolean, a fraction, infinity or NaN included (int(1e400) raises OverflowError, int(2.5) is silently 2)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:  # not digits, or more digits than Python converts
            return None
    return None


def amount(value: Any) -> str | None:
    """A finite amount from JSON (a number or a string), in cents as a string; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = Decimal(str(value))
        if not number.is_finite():
            return None
        return str(number.quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):  # not a number, or too many digits to hold in cents
        return None


def rules_digest(rules: dict) -> str:
    """A fingerprint of validated rules (the same rules give the same digest, whatever the order of their keys): what
    an approval records of each segment, so a launch can tell the audience's definition is still the approved one."""
    canonical = json.dumps(rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- SQL ----------------------------------------------------------------------------------------------------------


def people() -> QuerySet["Customer"]:
    """Every person who may be counted and contacted: one row per person (merged profiles point at theirs), erased
    customers left out."""
    return people_contactable()


def segment_queryset(rules: dict, *, now: datetime, base: QuerySet["Customer"] | None = None) -> QuerySet["Customer"]:
    """The people matching validated `rules`, as one SQL query (annotated with the RFM scores the rules use)."""
    queryset = people() if base is None else base
    return queryset.annotate(**rfm_annotations(now)).filter(segment_q(rules, now))


def segment_q(rules: dict, now: datetime) -> Q:
    """The WHERE clause of validated rules, over a queryset annotated with rfm_annotations(now)."""
    return _q(rules, now)


def rfm_annotations(now: datetime) -> dict[str, Case]:
    """The scores of customers.selectors.rfm_scores as CASE expressions (0 when the person has no order)."""
    thresholds = settings.CUSTOMER_RFM_THRESHOLDS
    no_orders = Q(order_count=0) | Q(last_order_at__isnull=True)
    # rfm_scores takes a point off per limit the whole days since the last order exceed: days > L <=> at least
    # L + 1 whole days ago.
    recency = [When(no_orders, then=Value(0))]
    for score, limit in zip((5, 4, 3, 2), thresholds["recency_days"], strict=True):
        recency.append(When(last_order_at__gt=now - timedelta(days=limit + 1), then=Value(score)))

    def ladder(field: str, limits) -> Case:
        whens = [When(no_orders, then=Value(0))]
        for score, limit in sorted(zip((2, 3, 4, 5), limits, strict=True), reverse=True):
            whens.append(When(**{f"{field}__gte": limit}, then=Value(score)))
        return Case(*whens, default=Value(1), output_field=IntegerField())

    return {
        "recency_score": Case(*recency, default=Value(1), output_field=IntegerField()),
        "frequency_score": ladder("order_count", thresholds["frequency_orders"]),
        "monetary_score": ladder("lifetime_value", [Decimal(v) for v in thresholds["monetary"]]),
    }


def _q(group: dict, now: datetime) -> Q:
    parts = [(_q(item, now) if "rules" in item else _condition(item, now)) for item in group["rules"]]
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if group["op"] == "or" else (combined & part)
    return combined


_LOOKUP: Final = {"eq": "exact", "gte": "gte", "lte": "lte"}


def _condition(item: dict, now: datetime) -> Q:
    name, cmp, value = item["field"], item["cmp"], item["value"]
    if name in ("recency_score", "frequency_score", "monetary_score", "order_count"):
        q = Q(**{f"{name}__{_LOOKUP[cmp]}": value})
    elif name == "lifetime_value":
        q = Q(**{f"lifetime_value__{_LOOKUP[cmp]}": Decimal(value)})
    elif name == "last_order_days":
        # Whole days since the last order, as rfm_scores counts them (and rfm_annotations with limit + 1): at most N
        # is less than N + 1 days ago, at least N is N days ago or more.
        if cmp == "lte":
            return Q(last_order_at__gt=now - timedelta(days=value + 1))
        return Q(last_order_at__lte=now - timedelta(days=value))
    elif name == "bought_category":
        q = Q(customer_bought(sku__in=skus_in_category(category=value)))
    elif name == "bought_sku":
        q = Q(customer_bought(sku=value))
    elif name == "store":
        q = Q(customer_bought(location_code=value))
    elif name == "city":
        q = Q(customer_bought(location_code__in=location_codes_in_city(city=value)))
    elif name == "channel_used":
        q = Q(channels_used__icontains=f'"{value}"')
    elif name == "consent":
        q = Q(marketing_consent_granted(channel=value))
    elif name == "language" and value == settings.LANGUAGE_CODE:
        q = Q(language=value) | Q(language="")  # no language of their own: messages go in LANGUAGE_CODE
    else:  # language, acquisition_channel
        q = Q(**{name: value})
    return ~q if cmp == "ne" else q
