"""Entry by a date attribute: people enter on their birthday in THEIR time zone (the customer's, else the settings'),
once per occurrence however often beat looks, by the re-entry rules; people without a birthday never enter. The
birthday comes from the profile or an identify's trait (customers' events), read through customers' selectors."""

from datetime import UTC, date, datetime, timedelta

import pytest

from backoffice.accounts.roles import Role
from backoffice.eventstore import store
from backoffice.messaging.models import OutboundMessage
from campaigns import services
from campaigns.journeys import definition as rules
from campaigns.journeys.models import JourneyRun
from customers.selectors import customers_with_birthday_on

from .conftest import advance, publish, template

pytestmark = pytest.mark.django_db

# Beat's times are in the past (the log refuses events from the future). 02:00 UTC on 15 March 2026: 03:00 on the
# 15th in Madrid (UTC+1), still 20:00 on the 14th in Mexico City (UTC-6).
NIGHT = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)


def born(customer_id, birthday: str, *, time_zone: str | None = None):
    """The customer gives their birthday (and zone) on their profile: an event on their stream, as the API writes."""
    data = {"customer_id": str(customer_id), "birthday": birthday}
    if time_zone:
        data["time_zone"] = time_zone
    store.append(f"customer-{customer_id}", [store.NewEvent("customer.profile_updated", data, customer_id=customer_id)])


def _birthday_journey(reentry=None, **trigger):
    return publish(
        {
            "trigger": {"kind": "date", "attribute": "birthday", **trigger},
            "reentry": reentry or {"mode": "every_time"},
            "steps": [{"id": "t", "kind": "tag", "tag": "birthday"}],
        }
    )


def _entered(journey):
    return set(JourneyRun.objects.filter(journey=journey).values_list("customer_id", flat=True))


def test_a_birthday_is_today_in_madrid_but_still_yesterday_in_mexico_city(person):
    madrid, mexico = person(), person()
    born(madrid, "1990-03-15", time_zone="Europe/Madrid")
    born(mexico, "1985-03-15", time_zone="America/Mexico_City")
    journey = _birthday_journey()

    assert services.journeys_enter_dates(now=NIGHT) == 1
    assert _entered(journey) == {madrid}

    assert services.journeys_enter_dates(now=NIGHT + timedelta(hours=5)) == 1  # 01:00 on the 15th in Mexico City
    assert _entered(journey) == {madrid, mexico}


def test_a_rerun_of_the_tick_enters_nobody_twice(person):
    customer = person()
    born(customer, "1990-03-15", time_zone="Europe/Madrid")
    journey = _birthday_journey()

    assert services.journeys_enter_dates(now=NIGHT) == 1
    advance()  # their run ends at once: only the occurrence keeps them out now
    assert services.journeys_enter_dates(now=NIGHT) == 0
    assert services.journeys_enter_dates(now=NIGHT + timedelta(hours=20)) == 0  # 23:00 in Madrid, same birthday

    assert JourneyRun.objects.filter(journey=journey, customer_id=customer).count() == 1


def test_next_years_birthday_enters_again_by_the_rules(person):
    customer = person()
    born(customer, "1990-03-15", time_zone="Europe/Madrid")
    every_year = _birthday_journey()
    first_only = _birthday_journey({"mode": "once"})
    services.journeys_enter_dates(now=NIGHT.replace(year=2025))
    advance()

    services.journeys_enter_dates(now=NIGHT)

    assert JourneyRun.objects.filter(journey=every_year, customer_id=customer).count() == 2
    assert JourneyRun.objects.filter(journey=first_only, customer_id=customer).count() == 1


def test_a_customer_without_a_birthday_never_enters(person):
    without = person()
    someone_else = person()
    born(someone_else, "2001-07-01", time_zone="Europe/Madrid")
    journey = _birthday_journey()

    for day in range(366):
        services.journeys_enter_dates(now=NIGHT - timedelta(days=day))

    assert without not in _entered(journey)
    assert _entered(journey) == {someone_else}


def test_the_settings_zone_counts_for_a_customer_without_one(person, settings):
    settings.TIME_ZONE = "America/Mexico_City"
    customer = person()
    born(customer, "1990-03-15")
    journey = _birthday_journey()

    assert services.journeys_enter_dates(now=NIGHT) == 0
    assert services.journeys_enter_dates(now=NIGHT + timedelta(hours=5)) == 1
    assert _entered(journey) == {customer}


def test_the_birthday_template_publishes_and_greets_at_ten_local(person):
    customer = person(consents=("email",))
    born(customer, "1990-03-15", time_zone="Europe/Madrid")
    journey = publish(template("birthday"))
    assert journey.status == "live"
    nine_59 = datetime(2026, 3, 15, 8, 59, tzinfo=UTC)  # 09:59 in Madrid

    assert services.journeys_enter_dates(now=nine_59) == 0
    assert services.journeys_enter_dates(now=nine_59 + timedelta(minutes=1)) == 1
    advance()

    (message,) = OutboundMessage.objects.filter(customer_id=customer)
    assert message.channel == "email"


def test_an_identify_trait_gives_the_birthday(person, api_client_for):
    customer = person()
    event = store.NewEvent(
        "customer.identified", {"traits": {"birthday": "1992-02-29T00:00:00Z", "plan": "gold"}}, customer_id=customer
    )
    store.append(f"customer-{customer}", [event])

    assert customers_with_birthday_on(month_days=[(2, 29)]) == [(customer, date(1992, 2, 29), "")]
    assert api_client_for(Role.ADMIN).get(f"/api/v1/customers/{customer}").json()["birthday"] == "1992-02-29"


def test_29_february_is_celebrated_on_the_28th_in_other_years():
    leapling = date(2000, 2, 29)
    assert rules.date_falls_on(leapling, date(2027, 2, 28))
    assert not rules.date_falls_on(leapling, date(2028, 2, 28))
    assert rules.date_falls_on(leapling, date(2028, 2, 29))
    assert (2, 29) in rules.date_month_days(datetime(2027, 2, 28, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"kind": "date", "attribute": "anniversary"}, "trigger.attribute"),
        ({"kind": "date", "attribute": "birthday", "time": "25:00"}, "trigger.time"),
        ({"kind": "date", "attribute": "birthday", "days": 3}, "trigger"),
    ],
)
def test_a_bad_date_trigger_is_refused_naming_the_field(trigger, field):
    errors = rules.validate({"trigger": trigger, "steps": [{"id": "e", "kind": "end"}]})
    assert [e["field"] for e in errors] == [field]
