"""The journeys API: the contract's paths, roles as campaigns, refusals naming the broken step, nothing written on
a refusal."""

import pytest

from backoffice.accounts.models import Role
from backoffice.eventstore.models import Event
from campaigns.journeys.models import Journey
from tests.openapi import documented_properties

from .conftest import page_viewed, template

pytestmark = pytest.mark.django_db

EMAIL = {"email": {"subject": "Hola", "body": "Un mensaje"}}


def _definition(**changes):
    definition = {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "goal": {"event": "order.placed"},
        "steps": [
            {"id": "wait", "kind": "wait", "minutes": 60, "next": "hello"},
            {"id": "hello", "kind": "send", "channel": "email", "variants": EMAIL},
        ],
    }
    definition.update(changes)
    return definition


def test_marketing_creates_publishes_pauses_and_reads_a_journey(api_client_for):
    client = api_client_for(Role.MARKETING)

    created = client.post("/api/v1/journeys", {"name": "Bienvenida", "definition": _definition()}, format="json")
    assert created.status_code == 201, created.json()
    journey_id = created.json()["id"]
    assert (created.json()["status"], created.json()["problems"]) == ("draft", [])

    published = client.post(f"/api/v1/journeys/{journey_id}/publish")
    assert (published.status_code, published.json()["status"], published.json()["version"]) == (200, "live", 1)
    paused = client.post(f"/api/v1/journeys/{journey_id}/pause")
    assert (paused.status_code, paused.json()["status"]) == (200, "paused")
    listed = client.get("/api/v1/journeys?status=paused")
    assert [j["id"] for j in listed.json()["results"]] == [journey_id]
    assert client.get(f"/api/v1/journeys/{journey_id}").json()["version"] == 1
    report = client.get(f"/api/v1/journeys/{journey_id}/report")
    assert report.status_code == 200
    assert [s["id"] for s in report.json()["steps"]] == ["wait", "hello"]


def test_a_journey_starts_from_a_template(api_client_for):
    client = api_client_for(Role.MARKETING)
    created = client.post("/api/v1/journeys", {"template": "abandoned_cart"}, format="json")
    assert created.status_code == 201
    assert created.json()["definition"] == template("abandoned_cart")
    assert created.json()["template"] == "abandoned_cart"


def test_integration_reads_but_cannot_write_and_support_sees_nothing(api_client_for):
    owner = api_client_for(Role.MARKETING)
    journey_id = owner.post("/api/v1/journeys", {"name": "J", "definition": _definition()}, format="json").json()["id"]

    integration = api_client_for(Role.INTEGRATION)
    assert integration.get(f"/api/v1/journeys/{journey_id}").status_code == 200
    assert integration.post(f"/api/v1/journeys/{journey_id}/publish").status_code == 403
    assert api_client_for(Role.SUPPORT).get("/api/v1/journeys").status_code == 403
    assert api_client_for(None).get("/api/v1/journeys").status_code == 403


@pytest.mark.parametrize(
    ("definition", "field", "code"),
    [
        (
            _definition(
                steps=[
                    {"id": "a", "kind": "tag", "tag": "x", "next": "b"},
                    {"id": "b", "kind": "tag", "tag": "y", "next": "a"},
                ]
            ),
            "steps.a.next",
            "loop_without_wait",
        ),
        (
            _definition(
                steps=[
                    {"id": "check", "kind": "branch", "condition": {"source": "tag", "tag": "vip"}, "yes": "end"},
                    {"id": "end", "kind": "end"},
                ]
            ),
            "steps.check.no",
            "no_path",
        ),
        (
            _definition(steps=[{"id": "wa", "kind": "send", "channel": "whatsapp", "variants": EMAIL}]),
            "steps.wa.variants.whatsapp",
            "missing_variant",
        ),
        (_definition(goal={"event": "order.teleported"}), "goal.event", "unknown_event"),
        # Beyond what a datetime holds, a wait published would stop the process manager on every event it reads.
        (
            _definition(
                steps=[{"id": "w", "kind": "wait", "minutes": 10**10, "next": "e"}, {"id": "e", "kind": "end"}]
            ),
            "steps.w.minutes",
            "required",
        ),
        (_definition(reentry={"mode": "once_per_days", "days": 10**10}), "reentry.days", "invalid"),
        # Values of the wrong shape are refused by name, not a 500.
        (
            _definition(
                steps=[
                    {"id": "ab", "kind": "split", "paths": [{"share": "NaN", "next": "a"}, {"share": 50, "next": "a"}]},
                    {"id": "a", "kind": "end"},
                ]
            ),
            "steps.ab.paths.0.share",
            "invalid",
        ),
        (
            _definition(steps=[{"id": "w", "kind": "wait", "minutes": 5, "next": ["x"]}]),
            "steps.w.next",
            "unknown_step",
        ),
        (
            _definition(trigger={"kind": "event", "event": "page.viewed", "conditions": 5}),
            "trigger.conditions",
            "invalid",
        ),
        (
            _definition(trigger={"kind": "event", "event": "page.viewed", "channels": [["web"]]}),
            "trigger.channels",
            "invalid_choice",
        ),
        (_definition(start=["wait"]), "start", "unknown_step"),
        (
            _definition(
                trigger={
                    "kind": "event",
                    "event": "page.viewed",
                    "conditions": [{"field": "data.total", "cmp": "gte", "value": "NaN"}],
                }
            ),
            "trigger.conditions.0.value",
            "invalid",
        ),
        (
            _definition(
                steps=[
                    {
                        "id": "b",
                        "kind": "branch",
                        "condition": {
                            "source": "profile",
                            "rules": {"op": "and", "rules": [{"field": ["order_count"], "cmp": "eq", "value": 1}]},
                        },
                        "yes": "e",
                        "no": "e",
                    },
                    {"id": "e", "kind": "end"},
                ]
            ),
            "steps.b.condition.rules.rules.0.field",
            "invalid_choice",
        ),
    ],
    ids=[
        "loop-without-wait",
        "branch-without-path",
        "send-without-variant",
        "unknown-goal",
        "wait-beyond-a-year",
        "reentry-beyond-ten-years",
        "share-not-a-number",
        "next-not-a-step-id",
        "conditions-not-a-list",
        "channels-not-names",
        "start-not-a-step-id",
        "ordered-comparison-with-nan",
        "profile-rule-field-not-a-name",
    ],
)
def test_a_bad_definition_is_refused_with_the_step_named_and_nothing_published(api_client_for, definition, field, code):
    client = api_client_for(Role.MARKETING)
    journey_id = client.post("/api/v1/journeys", {"name": "J", "definition": definition}, format="json").json()["id"]
    events_before = Event.objects.count()

    refused = client.post(f"/api/v1/journeys/{journey_id}/publish")

    assert refused.status_code == 400
    body = refused.json()
    assert body["type"].endswith("journey_invalid_definition")
    assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in body["errors"]]
    assert Event.objects.count() == events_before
    assert Journey.objects.get(pk=journey_id).status == "draft"


def test_a_condition_value_too_large_for_a_number_is_refused_naming_it(api_client_for):
    """JSON allows 1e400; Python reads it as infinity. A trigger condition comparing with it, or a profile rule of the
    360 view (whole numbers) holding it, is refused by name at publication, not a 500."""
    client = api_client_for(Role.MARKETING)
    raw = (
        '{"name": "J", "definition": {"trigger": {"kind": "event", "event": "page.viewed", "conditions": '
        '[{"field": "data.total", "cmp": "gte", "value": 1e400}]}, "steps": [{"id": "b", "kind": "branch", '
        '"condition": {"source": "profile", "rules": {"op": "and", "rules": [{"field": "order_count", "cmp": "gte", '
        '"value": 1e400}]}}, "yes": "e", "no": "e"}, {"id": "e", "kind": "end"}]}}'
    )
    created = client.post("/api/v1/journeys", raw, content_type="application/json")
    assert created.status_code in (201, 400), created.status_code
    if created.status_code == 400:  # refused as it came in: nothing to publish
        assert not Journey.objects.exists()
        return

    refused = client.post(f"/api/v1/journeys/{created.json()['id']}/publish")

    assert refused.status_code == 400
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"trigger.conditions.0.value", "steps.b.condition.rules.rules.0.value"} <= fields


def test_bad_input_is_a_400_naming_the_field(api_client_for):
    client = api_client_for(Role.MARKETING)
    response = client.post("/api/v1/journeys", {"name": "J", "definition": [], "holdout_share": "0.9"}, format="json")
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"definition", "holdout_share"} <= fields
    assert not Journey.objects.exists()


def test_simulate_answers_the_path_and_timing_for_a_customer(api_client_for, person):
    client = api_client_for(Role.MARKETING)
    customer = person(consents=("email",))
    body = {"name": "J", "definition": _definition(), "holdout_share": "0"}  # nobody held out: a fixed answer
    journey_id = client.post("/api/v1/journeys", body, format="json").json()["id"]
    client.post(f"/api/v1/journeys/{journey_id}/publish")

    simulated = client.post(f"/api/v1/journeys/{journey_id}/simulate", {"customer": str(customer)}, format="json")

    assert simulated.status_code == 200
    steps = simulated.json()["steps"]
    assert [(s["step"], s["outcome"], s["channel"]) for s in steps] == [
        ("wait", "waited", ""),
        ("hello", "sent", "email"),
    ]
    unknown = client.post(f"/api/v1/journeys/{journey_id}/simulate", {"customer": str(journey_id)}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "customer"


def test_unknown_journey_is_a_404(api_client_for):
    import uuid

    assert api_client_for(Role.MARKETING).get(f"/api/v1/journeys/{uuid.uuid4()}").status_code == 404


def test_people_at_steps_show_on_the_journey(api_client_for, person):
    client = api_client_for(Role.MARKETING)
    body = {"name": "J", "definition": _definition(), "holdout_share": "0"}  # nobody held out: a fixed answer
    journey_id = client.post("/api/v1/journeys", body, format="json").json()["id"]
    client.post(f"/api/v1/journeys/{journey_id}/publish")
    page_viewed(person())
    assert client.get(f"/api/v1/journeys/{journey_id}").json()["people_at_steps"] == {"wait": 1}


def test_a_customer_in_the_holdout_is_simulated_as_getting_nothing(api_client_for, person):
    from campaigns.journeys.definition import is_holdout

    client = api_client_for(Role.MARKETING)
    body = {"name": "J", "definition": _definition(), "holdout_share": "0.5"}
    journey_id = client.post("/api/v1/journeys", body, format="json").json()["id"]
    client.post(f"/api/v1/journeys/{journey_id}/publish")
    import uuid
    from decimal import Decimal

    held = None
    for _ in range(60):  # half are held out: one is found at once (60 misses in a row: 1 in 10**18)
        customer = person()
        if is_holdout(uuid.UUID(journey_id), customer, Decimal("0.5")):
            held = [customer]
            break
    assert held

    simulated = client.post(f"/api/v1/journeys/{journey_id}/simulate", {"customer": str(held[0])}, format="json")

    assert (simulated.json()["is_holdout"], simulated.json()["steps"]) == (True, [])


def test_the_schema_documents_a_journeys_problems_and_people_at_steps(openapi_schema, api_client_for):
    marketing = api_client_for("marketing")
    journey = marketing.post("/api/v1/journeys", {"template": "abandoned_cart"}, format="json").json()
    answer = marketing.get(f"/api/v1/journeys/{journey['id']}").json()

    documented = documented_properties(openapi_schema, "/api/v1/journeys/{journey_id}")
    documented_created = documented_properties(openapi_schema, "/api/v1/journeys", "post", "201")

    assert {"problems", "people_at_steps"} <= set(answer)
    assert set(answer) <= documented, f"undocumented: {sorted(set(answer) - documented)}"
    assert set(journey) <= documented_created, f"undocumented: {sorted(set(journey) - documented_created)}"


def test_the_schema_documents_a_journeys_report(openapi_schema, api_client_for):
    marketing = api_client_for("marketing")
    journey = marketing.post("/api/v1/journeys", {"template": "abandoned_cart"}, format="json").json()
    answer = marketing.get(f"/api/v1/journeys/{journey['id']}/report").json()

    documented = documented_properties(openapi_schema, "/api/v1/journeys/{journey_id}/report")

    assert set(answer) <= documented, f"undocumented: {sorted(set(answer) - documented)}"


def test_the_schema_documents_a_simulation(openapi_schema, api_client_for, person):
    client = api_client_for(Role.MARKETING)
    customer = person(consents=("email",))
    body = {"name": "J", "definition": _definition(), "holdout_share": "0"}
    journey_id = client.post("/api/v1/journeys", body, format="json").json()["id"]
    client.post(f"/api/v1/journeys/{journey_id}/publish")

    answer = client.post(f"/api/v1/journeys/{journey_id}/simulate", {"customer": str(customer)}, format="json").json()

    documented = documented_properties(openapi_schema, "/api/v1/journeys/{journey_id}/simulate", "post")
    step = openapi_schema["components"]["schemas"]["JourneySimulatedStep"]["properties"]
    assert set(answer) <= documented, f"undocumented: {sorted(set(answer) - documented)}"
    assert set(answer["steps"][0]) <= set(step)
