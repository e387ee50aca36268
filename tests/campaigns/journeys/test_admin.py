"""The journeys admin under campaigns: the editor in Spanish and English, a template to start from, the steps drawn
as a tree with people per step, the checks naming the broken step, publish, pause and the simulator."""

import pytest
from django.urls import reverse

from campaigns.journeys.models import Journey
from tests.pages import in_spanish_and_english

from .conftest import page_viewed, publish, template

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing(login):
    return login("marketing")


def test_a_journey_is_added_from_a_template_and_published(marketing):
    response = marketing.post(
        reverse("admin:campaigns_journey_add"),
        {
            "template": "abandoned_cart",
            "name": "",
            "objective": "",
            "kpi": "",
            "holdout_share": "0.100",
            "attribution_days": "7",
            "definition": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    journey = Journey.objects.get()
    assert journey.definition == template("abandoned_cart")
    assert journey.name == "Carrito abandonado"

    marketing.post(reverse("admin:campaigns_journey_command", args=[journey.pk, "publish"]))

    journey.refresh_from_db()
    assert (journey.status, journey.version) == ("live", 1)


def test_the_editor_draws_the_steps_with_people_and_speaks_spanish_and_english(marketing, person):
    journey = publish(template("abandoned_cart"))
    url = reverse("admin:campaigns_journey_change", args=[journey.pk])

    spanish, english = in_spanish_and_english(marketing, url)

    assert "Simulador" in spanish
    assert "Personas en él ahora" in spanish
    assert "Simulator" in english
    assert "People at it now" in english
    for step in ("whatsapp", "wait-day", "email-coupon"):
        assert f"<code>{step}</code>" in english


def test_publishing_a_broken_journey_names_the_step(marketing):
    definition = {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "steps": [
            {"id": "check", "kind": "branch", "condition": {"source": "tag", "tag": "vip"}, "yes": "end"},
            {"id": "end", "kind": "end"},
        ],
    }
    from campaigns import services

    journey = services.journey_save(journey_id=None, values={"name": "Roto", "definition": definition}, actor="t")
    response = marketing.post(reverse("admin:campaigns_journey_command", args=[journey.pk, "publish"]), follow=True)

    assert "steps.check.no" in response.content.decode()
    journey.refresh_from_db()
    assert journey.status == "draft"


def test_the_simulator_shows_what_a_customer_would_get(marketing, person):
    customer = person(consents=("email",))
    journey = publish(template("abandoned_cart"))
    response = marketing.post(
        reverse("admin:campaigns_journey_command", args=[journey.pk, "simulate"]),
        {"customer": str(customer)},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = response.content.decode()
    assert "fallback_sent" in page
    assert "email-coupon" in page


def test_support_staff_cannot_open_journeys(login):
    browser = login("support")
    assert browser.get(reverse("admin:campaigns_journey_changelist")).status_code == 403


def test_people_at_a_step_are_counted_on_the_drawing(marketing, person):
    definition = {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "steps": [{"id": "w", "kind": "wait", "minutes": 60}],
    }
    journey = publish(definition)
    page_viewed(person())
    page = marketing.get(reverse("admin:campaigns_journey_change", args=[journey.pk])).content.decode()
    assert '<td class="journey-count">1</td>' in page


@pytest.mark.parametrize("typed", ["{phone_local}", " {phone} ", "{email_upper}"])
def test_the_simulator_finds_the_customer_by_a_phone_in_any_format_or_an_email(marketing, typed):
    from customers.services.ingestion import customer_register

    customer, _ = customer_register(
        customer={"email": "simula@example.es", "phone": "+34610010001"}, channel="web", actor="test"
    )
    journey = publish(template("abandoned_cart"))
    text = typed.format(phone_local="610 01 00 01", phone="+34 610 010 001", email_upper="Simula@Example.ES")

    response = marketing.post(
        reverse("admin:campaigns_journey_command", args=[journey.pk, "simulate"]), {"customer": text}
    )

    assert response.status_code == 302
    assert response.url.endswith(f"?simulate={customer}")


# --- Values the service refuses: shown on the form, never a 500, nothing written -----------------------------------


def _journey_post(**overrides):
    return {
        "template": "",
        "name": "Bienvenida",
        "objective": "",
        "kpi": "",
        "holdout_share": "0.100",
        "attribution_days": "7",
        "definition": '{"trigger": {"kind": "event", "event": "page.viewed"}, "steps": [{"id": "end", "kind": "end"}]}',
        **overrides,
    }


def _form_errors(response) -> dict:
    return {field: [str(e) for e in errors] for field, errors in response.context["adminform"].form.errors.items()}


@pytest.mark.parametrize(("field", "value"), [("holdout_share", "0.900"), ("attribution_days", "365")])
def test_a_journey_value_the_service_refuses_is_shown_on_the_form_not_a_500(marketing, field, value):
    from backoffice.eventstore.models import Event

    events = Event.objects.count()

    added = marketing.post(reverse("admin:campaigns_journey_add"), _journey_post(**{field: value}))

    assert added.status_code == 200
    assert field in _form_errors(added)
    assert not Journey.objects.exists()
    assert Event.objects.count() == events


@pytest.mark.parametrize(("field", "value"), [("holdout_share", "0.900"), ("attribution_days", "365")])
def test_a_journey_change_the_service_refuses_is_shown_on_the_form_and_changes_nothing(marketing, field, value):
    from backoffice.eventstore.models import Event

    marketing.post(reverse("admin:campaigns_journey_add"), _journey_post(), follow=True)
    journey = Journey.objects.get()
    events = Event.objects.count()

    changed = marketing.post(
        reverse("admin:campaigns_journey_change", args=[journey.pk]), _journey_post(name="Otra", **{field: value})
    )

    assert changed.status_code == 200
    assert field in _form_errors(changed)
    assert Journey.objects.get().name == "Bienvenida"
    assert Event.objects.count() == events
    assert "successfully" not in changed.content.decode()


def test_a_journey_definition_too_large_for_the_log_is_shown_on_the_form_not_a_500(marketing):
    """The form cannot know the log's limit on an event: the service's refusal is shown on the form."""
    from django.contrib.admin.models import LogEntry

    from backoffice.eventstore.models import Event

    events = Event.objects.count()
    definition = (
        '{"trigger": {"kind": "event", "event": "page.viewed"}, "steps": [{"id": "end", "kind": "end", "note": "'
        + "x" * 40_000
        + '"}]}'
    )

    added = marketing.post(reverse("admin:campaigns_journey_add"), _journey_post(definition=definition))

    assert added.status_code == 200
    assert _form_errors(added)
    assert not Journey.objects.exists()
    assert Event.objects.count() == events
    assert not LogEntry.objects.exists()


def test_a_deeply_nested_journey_definition_is_a_form_error_not_a_500(marketing):
    """Read with plain json.loads, a definition nested deeper than the interpreter's recursion limit raised
    RecursionError, which is not the ValueError the form catches: the editor reads it bounded, as the segment editor
    reads its rules."""
    from backoffice.eventstore.models import Event

    marketing.raise_request_exception = False
    events = Event.objects.count()
    definition = '{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}"

    added = marketing.post(reverse("admin:campaigns_journey_add"), _journey_post(definition=definition))

    assert added.status_code == 200, added.status_code
    assert "definition" in _form_errors(added)
    assert not Journey.objects.exists()
    assert Event.objects.count() == events


def test_a_journey_definition_with_a_number_too_large_is_a_form_error(marketing):
    """JSON allows 1e400, which Python reads as infinity: no JSON column stores it (PostgreSQL refuses it)."""
    definition = (
        '{"trigger": {"kind": "event", "event": "page.viewed", "conditions": '
        '[{"field": "data.total", "cmp": "gte", "value": 1e400}]}, "steps": [{"id": "end", "kind": "end"}]}'
    )

    added = marketing.post(reverse("admin:campaigns_journey_add"), _journey_post(definition=definition))

    assert added.status_code == 200, added.status_code
    assert "definition" in _form_errors(added)
    assert not Journey.objects.exists()
