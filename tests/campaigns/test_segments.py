"""Segments: rules stored as data, evaluated in SQL over the 360 projection; preview gives a count and an anonymous
sample."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import segments
from campaigns.models import Segment
from customers.models import Customer
from customers.selectors import rfm_scores
from tests.openapi import documented_properties

from .conftest import revoke, segment

pytestmark = pytest.mark.django_db


def ids(rules):
    return set(
        segments.segment_queryset(segments.validate_rules(rules), now=timezone.now()).values_list("id", flat=True)
    )


def test_rfm_scores_in_sql_match_the_customer_selector(person):
    now = timezone.now()
    profiles = [
        (None, 0, "0"),
        (now - timedelta(days=5), 1, "50"),
        (now - timedelta(days=31), 3, "300"),
        (now - timedelta(days=100), 5, "800"),
        (now - timedelta(days=200), 10, "1500"),
        (now - timedelta(days=400), 2, "99.99"),
    ]
    for last, count, value in profiles:
        Customer.objects.filter(id=person()).update(last_order_at=last, order_count=count, lifetime_value=value)

    query = segments.people().annotate(**segments.rfm_annotations(now))
    for row in query.values(
        "last_order_at", "order_count", "lifetime_value", "recency_score", "frequency_score", "monetary_score"
    ):
        expected = rfm_scores(
            last_order_at=row["last_order_at"], order_count=row["order_count"], value=row["lifetime_value"], now=now
        )
        assert (row["recency_score"], row["frequency_score"], row["monetary_score"]) == (
            expected.recency,
            expected.frequency,
            expected.monetary,
        )


def test_and_or_groups_combine_conditions(person):
    spender = person(consents=("email",))
    Customer.objects.filter(id=spender).update(lifetime_value=Decimal("800"), order_count=4)
    english = person(consents=("sms",), language="en")
    nobody = person(consents=(), language="en")
    Customer.objects.filter(id=nobody).update(order_count=1)

    rules = {
        "op": "or",
        "rules": [
            {"field": "lifetime_value", "cmp": "gte", "value": "500"},
            {
                "op": "and",
                "rules": [
                    {"field": "language", "cmp": "eq", "value": "en"},
                    {"field": "consent", "cmp": "eq", "value": "sms"},
                ],
            },
        ],
    }

    assert ids(rules) == {spender, english}


def test_purchases_by_category_sku_and_store_city(person, shop):
    madrid, valencia, never = person(), person(), person()
    shop(madrid, ["CAM-BLA"], "MAD-01")
    shop(valencia, ["ZAP-RUN", "GOR-AZU"], "VLC-01")

    assert ids({"op": "and", "rules": [{"field": "bought_category", "cmp": "eq", "value": "calzado"}]}) == {valencia}
    assert ids({"op": "and", "rules": [{"field": "bought_sku", "cmp": "eq", "value": "CAM-BLA"}]}) == {madrid}
    assert ids({"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "madrid"}]}) == {madrid}
    assert ids({"op": "and", "rules": [{"field": "store", "cmp": "ne", "value": "VLC-01"}]}) == {madrid, never}
    assert ids(
        {
            "op": "and",
            "rules": [
                {"field": "order_count", "cmp": "gte", "value": 1},
                {"field": "last_order_days", "cmp": "lte", "value": 30},
            ],
        }
    ) == {madrid, valencia}


def test_merged_and_erased_customers_are_not_people(person):
    kept, merged, erased = person(), person(), person()
    Customer.objects.filter(id=merged).update(merged_into=kept)
    Customer.objects.filter(id=erased).update(erased_at=timezone.now())

    assert ids({"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]}) == {kept}


def test_revoked_consent_leaves_the_segment(person):
    staying, leaving = person(), person()
    revoke(leaving, "email")

    assert ids({"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]}) == {staying}


def test_invalid_rules_name_every_bad_path():
    rules = {
        "op": "xor",
        "rules": [
            {"field": "shoe_size", "value": 3},
            {"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": "many"}]},
        ],
    }

    with pytest.raises(segments.SegmentRuleError) as caught:
        segments.validate_rules(rules)

    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"rules.op", "rules.rules.0.field", "rules.rules.1.rules.0.value"}


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"field": "order_count", "cmp": "gte", "value": float("inf")}, "rules.rules.0.value"),
        ({"field": "last_order_days", "cmp": "lte", "value": float("inf")}, "rules.rules.0.value"),
        ({"field": "recency_score", "cmp": "eq", "value": float("nan")}, "rules.rules.0.value"),
        ({"field": "order_count", "cmp": "eq", "value": 2.5}, "rules.rules.0.value"),
        ({"field": "lifetime_value", "cmp": "gte", "value": float("inf")}, "rules.rules.0.value"),
        ({"field": "lifetime_value", "cmp": "gte", "value": "NaN"}, "rules.rules.0.value"),
        ({"field": "lifetime_value", "cmp": "gte", "value": 1e30}, "rules.rules.0.value"),
        ({"field": ["order_count"], "cmp": "eq", "value": 1}, "rules.rules.0.field"),
        ({"field": {"x": 1}, "cmp": "eq", "value": 1}, "rules.rules.0.field"),
        ({"field": "order_count", "cmp": ["eq"], "value": 1}, "rules.rules.0.cmp"),
        ({"field": "consent", "cmp": "eq", "value": ["email"]}, "rules.rules.0.value"),
        ({"field": "acquisition_channel", "cmp": "eq", "value": {"web": 1}}, "rules.rules.0.value"),
    ],
    ids=[
        "count-infinite",
        "days-infinite",
        "score-nan",
        "count-fraction",
        "money-infinite",
        "money-nan",
        "money-too-many-digits",
        "field-a-list",
        "field-an-object",
        "cmp-a-list",
        "channel-a-list",
        "any-channel-an-object",
    ],
)
def test_rules_of_any_json_shape_are_refused_by_path_never_raised(condition, field):
    """Whatever JSON brings (1e400 reads as infinity; a list is unhashable), the answer is a SegmentRuleError naming
    the member, never a TypeError or OverflowError (a 500 in the preview, the admin and the API)."""
    with pytest.raises(segments.SegmentRuleError) as caught:
        segments.validate_rules({"op": "and", "rules": [condition]})

    assert [e["field"] for e in caught.value.errors] == [field]


def test_whole_numbers_may_come_as_text_or_as_a_float_without_fraction():
    rules = {
        "op": "and",
        "rules": [
            {"field": "order_count", "cmp": "gte", "value": "3"},
            {"field": "recency_score", "cmp": "eq", "value": 4.0},
            {"field": "lifetime_value", "cmp": "gte", "value": 150},
        ],
    }

    cleaned = segments.validate_rules(rules)

    assert [c["value"] for c in cleaned["rules"]] == [3, 4, "150.00"]


def test_preview_api_counts_and_samples_without_personal_data(api_client_for, person):
    for _ in range(3):
        person(name="Ana García")
    person(consents=())
    seg = segment()

    response = api_client_for("marketing").get(f"/api/v1/segments/{seg.id}/preview")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["sample"]) == 3
    text = str(body)
    assert "Ana" not in text
    assert "@" not in text
    assert set(body["sample"][0]) == {
        "language",
        "acquisition_channel",
        "channels_used",
        "order_count",
        "value_band",
        "rfm",
    }


def test_segment_create_api_refuses_bad_rules_and_writes_nothing(api_client_for):
    client = api_client_for("marketing")
    bad = {"name": "Malos", "rules": {"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": -1}]}}

    response = client.post("/api/v1/segments", bad, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "rules.rules.0.value"
    assert not Segment.objects.exists()


def test_segment_create_api_refuses_a_number_too_large_by_path_not_500(api_client_for):
    client = api_client_for("marketing")
    raw = (
        '{"name": "Muchos", "rules": {"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": 1e400}]}}'
    )

    response = client.post("/api/v1/segments", raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("rules")  # DRF's JSONField refuses infinity itself
    assert not Segment.objects.exists()


def test_segment_create_api_stores_the_rules_and_lists_them(api_client_for, person):
    person()
    client = api_client_for("marketing")
    rules = {"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]}

    created = client.post("/api/v1/segments", {"name": "Email", "rules": rules}, format="json")
    listed = api_client_for("integration").get("/api/v1/segments")

    assert created.status_code == 201
    assert created.json()["count"] == 1
    assert [s["name"] for s in listed.json()["results"]] == ["Email"]
    assert api_client_for("integration").post("/api/v1/segments", {}, format="json").status_code == 403


def test_language_rule_counts_customers_whose_language_is_the_default(person, settings):
    settings.LANGUAGE_CODE = "es"
    unset = person(language="")  # registered without a language: they get messages in LANGUAGE_CODE
    spanish = person(language="es")
    english = person(language="en")

    def language(cmp, value):
        return ids({"op": "and", "rules": [{"field": "language", "cmp": cmp, "value": value}]})

    assert language("eq", "es") == {unset, spanish}
    assert language("ne", "es") == {english}
    assert language("eq", "en") == {english}
    assert language("ne", "en") == {unset, spanish}


def test_last_order_days_at_most_n_agrees_with_whole_days_and_the_recency_score(person, settings):
    """N whole days since the last order, as rfm_scores counts them: at most N and at least N both hold, and the
    recency score whose limit is N says "at most N" too."""
    limit = settings.CUSTOMER_RFM_THRESHOLDS["recency_days"][0]
    now = timezone.now()
    ordered = {
        "n_minus_1_days": now - timedelta(days=limit - 1, hours=5),
        "n_days_and_hours": now - timedelta(days=limit, hours=5),
        "n_days_to_the_minute": now - timedelta(days=limit, minutes=1),
        "n_plus_1_days": now - timedelta(days=limit + 1, hours=1),
    }
    people = {}
    for key, last in ordered.items():
        people[key] = person()
        Customer.objects.filter(id=people[key]).update(last_order_at=last, order_count=1, lifetime_value="50")

    def days(cmp):
        found = ids({"op": "and", "rules": [{"field": "last_order_days", "cmp": cmp, "value": limit}]})
        return {key for key, cid in people.items() if cid in found}

    recent = {
        key
        for key, cid in people.items()
        if cid in ids({"op": "and", "rules": [{"field": "recency_score", "cmp": "eq", "value": 5}]})
    }
    whole_days = {key: (now - last).days for key, last in ordered.items()}

    assert days("lte") == {"n_minus_1_days", "n_days_and_hours", "n_days_to_the_minute"}
    assert days("gte") == {"n_days_and_hours", "n_days_to_the_minute", "n_plus_1_days"}
    assert days("lte") == {key for key, n in whole_days.items() if n <= limit} == recent
    assert days("gte") == {key for key, n in whole_days.items() if n >= limit}


def test_the_schema_documents_a_segment_preview_and_a_new_segments_count(openapi_schema, api_client_for):
    from tests.factories import SegmentFactory

    marketing = api_client_for("marketing")
    preview = marketing.get(f"/api/v1/segments/{SegmentFactory().id}/preview").json()
    created = marketing.post(
        "/api/v1/segments",
        {"name": "Todos", "rules": {"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]}},
        format="json",
    ).json()

    documented_preview = documented_properties(openapi_schema, "/api/v1/segments/{segment_id}/preview")
    documented_created = documented_properties(openapi_schema, "/api/v1/segments", "post", "201")

    assert {"count", "sample"} <= set(preview) <= documented_preview
    assert "count" in created
    assert set(created) <= documented_created, f"undocumented: {sorted(set(created) - documented_created)}"
