"""The report per step and per branch: people through each step and each path, how many converted on the goal
afterwards, their revenue, the conversion rate and the lift of each path against the holdout, in the API and the
admin."""

from decimal import Decimal

import pytest
from django.urls import reverse

from backoffice.accounts.roles import Role
from campaigns.journeys.definition import is_holdout
from campaigns.journeys.selectors import journey_report
from tests.pages import in_spanish_and_english

from .conftest import advance, page_viewed, publish, settle

pytestmark = pytest.mark.django_db

HOLDOUT = Decimal("0.5")


def _definition():
    return {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "goal": {"event": "order.placed"},
        "steps": [
            {
                "id": "check",
                "kind": "branch",
                "condition": {"source": "trigger", "field": "channel", "cmp": "eq", "value": "app"},
                "yes": "wait-app",
                "no": "wait-web",
            },
            {"id": "wait-app", "kind": "wait", "minutes": 60, "next": "end"},
            {"id": "wait-web", "kind": "wait", "minutes": 60, "next": "end"},
            {"id": "end", "kind": "end"},
        ],
    }


@pytest.fixture
def journey_with_conversions(person, shop):
    """Three people in by the app (yes), two by the web (no), two held out. A1 buys 69.80 after the journey, A2
    69.90 while waiting (the goal takes them out at wait-app), W1 12.00 after the journey, H1 (held out) 19.90."""
    journey = publish(_definition(), holdout=str(HOLDOUT), attribution_days=7)
    treated, held = [], []
    while len(treated) < 5 or len(held) < 2:
        customer = person()
        if is_holdout(journey.id, customer, HOLDOUT):
            if len(held) < 2:
                held.append(customer)
        elif len(treated) < 5:
            treated.append(customer)
    a1, a2, a3, w1, w2 = treated
    for customer in (a1, a2, a3):
        page_viewed(customer, channel="app")
    for customer in (w1, w2, *held):
        page_viewed(customer, channel="web")
    shop(a2, ["ZAP-RUN"])  # 69.90, at wait-app
    shop(held[0], ["CAM-BLA"])  # 19.90
    settle()
    advance(hours=2)
    shop(a1, ["CAM-BLA", "PAN-VAQ"])  # 69.80, after the end
    shop(w1, ["GOR-AZU"])  # 12.00
    settle()
    return journey


def _steps(report):
    return {step["id"]: step for step in report["steps"]}


def test_each_step_counts_the_people_who_converted_after_it_and_their_revenue(journey_with_conversions):
    report = journey_report(journey=journey_with_conversions)

    steps = _steps(report)
    figures = {key: (s["through"], s["converted"], s["revenue"]) for key, s in steps.items()}
    assert figures == {
        "check": (5, 3, "151.70"),
        "wait-app": (2, 1, "69.80"),  # A2 bought while at it: taken out before going through
        "wait-web": (2, 1, "12.00"),
        "end": (4, 2, "81.80"),
    }
    assert (report["treated"]["converted"], report["treated"]["revenue"]) == (3, "151.70")
    assert (report["holdout"]["entered"], report["holdout"]["converted"], report["holdout"]["revenue"]) == (
        2,
        1,
        "19.90",
    )
    assert report["lift"] == pytest.approx(0.1)


def test_each_branch_path_has_its_conversion_rate_and_lift_against_the_holdout(journey_with_conversions):
    report = journey_report(journey=journey_with_conversions)

    branches = _steps(report)["check"]["branches"]
    assert branches == [
        {
            "outcome": "yes",
            "next": "wait-app",
            "entered": 3,
            "converted": 2,
            "revenue": "139.70",
            "conversion_rate": 0.6667,
            "lift": 0.1667,  # 2/3 against the holdout's 1/2
        },
        {
            "outcome": "no",
            "next": "wait-web",
            "entered": 2,
            "converted": 1,
            "revenue": "12.00",
            "conversion_rate": 0.5,
            "lift": 0.0,
        },
    ]
    assert "branches" not in _steps(report)["wait-app"]  # one way on: no paths to compare


def test_a_split_reports_every_path_even_one_nobody_took(person):
    step = {
        "id": "ab",
        "kind": "split",
        "paths": [{"name": "A", "share": 50, "next": "a"}, {"name": "B", "share": 50, "next": "b"}],
    }
    journey = publish(
        {
            "trigger": {"kind": "event", "event": "page.viewed"},
            "steps": [step, {"id": "a", "kind": "end"}, {"id": "b", "kind": "end"}],
        }
    )
    customer = person()
    page_viewed(customer)

    branches = _steps(journey_report(journey=journey))["ab"]["branches"]

    assert [b["outcome"] for b in branches] == ["path:A", "path:B"]
    assert sorted(b["entered"] for b in branches) == [0, 1]
    taken = next(b for b in branches if b["entered"])
    assert (taken["converted"], taken["conversion_rate"], taken["lift"]) == (0, 0.0, None)  # no holdout: no lift


def test_the_api_report_keeps_its_fields_and_adds_the_figures(journey_with_conversions, api_client_for):
    client = api_client_for(Role.MARKETING)

    body = client.get(f"/api/v1/journeys/{journey_with_conversions.id}/report").json()

    check = _steps(body)["check"]
    for name in ("id", "kind", "at", "through", "outcomes", "sent", "converted", "revenue", "branches"):
        assert name in check
    assert check["outcomes"] == {"yes": 3, "no": 2}
    assert (check["converted"], check["revenue"]) == (3, "151.70")
    assert [(b["outcome"], b["lift"]) for b in check["branches"]] == [("yes", 0.1667), ("no", 0.0)]
    for name in ("entered", "in_journey", "exited", "treated", "holdout", "lift"):
        assert name in body


def test_the_admin_shows_the_branches_in_spanish_and_english(login, journey_with_conversions):
    browser = login("marketing")
    url = reverse("admin:campaigns_journey_change", args=[journey_with_conversions.pk])

    spanish, english = in_spanish_and_english(browser, url)

    assert "Per branch" in english
    assert "Converted after it" in english
    assert "Por rama" in spanish
    assert "Convirtieron después" in spanish
    assert '<td class="journey-count">139.70</td>' in english
    assert '<td class="journey-count">0.1667</td>' in english
    assert '<td class="journey-count">151.70</td>' in english  # the branch step's revenue on the drawing
