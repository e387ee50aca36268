"""Batched projections give what applying the events one by one gives.

A random mix of events (registrations, merges, erasures, interactions on every channel, carts, orders with refunds and
cancellations, campaign messages, stock counts, consents arriving late) is appended through the store; then the
asynchronous projections, customers.commerce and customers.consents (inline ones that batch a rebuild) are caught up
event by event (batches of one), caught up in random batch sizes sharing one read (catch_up_all), and rebuilt: the
read models must be the same every time."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backoffice.eventstore import projector, store
from backoffice.eventstore.models import ProjectionCheckpoint, ProjectionFailure
from backoffice.insights.models import CampaignTouch, DailyMetric, OrderFact, PersonFact
from customers.models import ChannelActivityDaily, Consent, Customer, CustomerOrder
from customers.services import customer_erase
from orders.models import Cart

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_after_commit_hooks")]

CHANNELS = ("web", "app", "store", "email", "sms", "whatsapp")
SKUS = ("SKU-1", "SKU-2", "SKU-3")
START = datetime(2026, 1, 1, 8, tzinfo=UTC)


def async_names() -> list[str]:
    names = [p.name for p in projector.registered_projections(projector.ASYNC) if not p.name.startswith("tests.")]
    return list(dict.fromkeys([*names, "customers.commerce", "customers.consents"]))


def random_log(rng: random.Random, count: int) -> None:
    """`count` appends of a random mix; every event valid, in a plausible order (an order before its refund)."""
    customers: list[uuid.UUID] = []
    orders: list[tuple[str, uuid.UUID]] = []
    carts: dict[str, uuid.UUID] = {}
    campaigns = [str(uuid.uuid4()) for _ in range(2)]
    when = START

    def emit(stream, type_, data, *, customer=None, channel=None):
        store.append(stream, [store.NewEvent(type_, data, channel=channel, customer_id=customer, occurred_at=when)])

    for n in range(count):
        when += timedelta(minutes=rng.randrange(1, 600))
        channel = rng.choice(CHANNELS)
        roll = rng.random()
        if not customers or roll < 0.12:
            cid = uuid.uuid4()
            customers.append(cid)
            data = {"customer_id": str(cid), "identifiers": [{"kind": "email", "value": f"c{n}@example.es"}]}
            emit(f"customer-{cid}", "customer.registered", data, customer=cid, channel=channel)
            continue
        cid = rng.choice(customers)
        if roll < 0.135 and len(customers) > 3:
            # Erasure: the customer's personal fields in the log read "[erased]" from now on; no event of theirs after.
            customers.remove(cid)
            orders[:] = [(order_id, owner) for order_id, owner in orders if owner != cid]
            for cart_id in [cart_id for cart_id, owner in carts.items() if owner == cid]:
                del carts[cart_id]
            customer_erase(customer_id=cid, actor="test")
            continue
        if roll < 0.15 and len(customers) > 3:
            # As identity resolution merges: the younger person into the older, both still people of their own.
            older, younger = sorted(rng.sample(customers, 2), key=customers.index)
            customers.remove(younger)
            data = {"customer_id": str(older), "merged": str(younger), "evidence": {"reason": "manual"}}
            emit(f"customer-{older}", "customer.merged", data, customer=older)
        elif roll < 0.40:
            cart_id = rng.choice([*carts, f"cart-{n}"])
            owner = carts.setdefault(cart_id, cid)
            kind = rng.choice(("cart.item_added", "cart.item_added", "cart.item_removed", "cart.checked_out"))
            data = {"cart_id": cart_id}
            if kind == "cart.item_added":
                data |= {"sku": rng.choice(SKUS), "quantity": rng.randint(1, 3), "unit_price": "9.90"}
            elif kind == "cart.item_removed":
                data |= {"sku": rng.choice(SKUS), "quantity": 1}
            else:
                data |= {"order_id": f"W-{n}"}
            emit(f"cart-{cart_id}", kind, data, customer=owner, channel=channel)
        elif roll < 0.55:
            order_id = f"O-{n}"
            orders.append((order_id, cid))
            total = f"{rng.randint(5, 200)}.{rng.randint(0, 99):02d}"
            pickup = rng.random() < 0.3
            data = {
                "order_id": order_id,
                "lines": [{"sku": rng.choice(SKUS), "quantity": 1, "unit_price": total, "location": "MAD-01"}],
                "total": total,
                "currency": "EUR",
                "fulfilment": {"method": "pickup" if pickup else "ship", "location": "MAD-01" if pickup else ""},
            }
            emit(f"order-{order_id}", "order.placed", data, customer=cid, channel=channel)
        elif roll < 0.62 and orders:
            order_id, owner = rng.choice(orders)
            if rng.random() < 0.5:
                data = {
                    "order_id": order_id,
                    "location": "MAD-01",
                    "lines": [{"sku": "SKU-1", "quantity": 1}],
                    "refund_amount": f"{rng.randint(1, 5)}.00",
                }
                emit(f"order-{order_id}", "order.returned", data, customer=owner, channel="store")
            else:
                data = {"order_id": order_id, "reason": rng.choice(("cliente", "sin stock"))}
                emit(f"order-{order_id}", "order.cancelled", data, customer=owner, channel="web")
        elif roll < 0.75:
            message_id = f"M-{n}"
            base = {"message_id": message_id, "purpose": "marketing", "campaign_id": rng.choice(campaigns)}
            emit(f"message-{message_id}", "message.sent", {**base, "attempt": 1}, customer=cid, channel="email")
            if rng.random() < 0.5:
                emit(f"message-{message_id}", "message.read", base, customer=cid, channel="email")
        elif roll < 0.80:
            data = {"sku": rng.choice(SKUS), "location": "MAD-01", "counted": 3, "expected": rng.randint(2, 4)}
            emit(f"stock-{data['sku']}@MAD-01", "stock.counted", {**data, "shrinkage": data["expected"] - 3})
        elif roll < 0.86:
            # Consents arrive late from tills too: an older change must not overwrite a newer one.
            kind = rng.choice(("consent.granted", "consent.revoked"))
            data = {"customer_id": str(cid), "channel": rng.choice(("email", "sms")), "purpose": "marketing"}
            late = when - timedelta(hours=rng.randrange(0, 48))
            store.append(
                f"customer-{cid}",
                [store.NewEvent(kind, {**data, "wording": kind}, channel=channel, customer_id=cid, occurred_at=late)],
            )
        else:
            kind = rng.choice(("page.viewed", "product.viewed"))
            data = {"url": "https://tienda.example.es/"} if kind == "page.viewed" else {"sku": rng.choice(SKUS)}
            emit(f"customer-{cid}", kind, data, customer=cid, channel=channel)


def read_models() -> dict:
    """What the projections under test hold, without surrogate ids (ordered, comparable)."""
    return {
        "activity": sorted(
            Customer.objects.values_list("id", "interaction_count", "last_interaction_at", "channels_used")
        ),
        "commerce": (
            sorted(CustomerOrder.objects.values_list("order_id", "customer_id", "total", "refunded", "is_cancelled")),
            sorted(
                Customer.objects.values_list("id", "order_count", "lifetime_value", "first_order_at", "last_order_at")
            ),
        ),
        "consents": sorted(
            Consent.objects.values_list("customer_id", "channel", "purpose", "is_granted", "wording", "position")
        ),
        "daily": sorted(ChannelActivityDaily.objects.values_list("day", "channel", "type", "count")),
        "carts": sorted(
            Cart.objects.values_list(
                "cart_id", "customer_id", "items", "status", "last_activity_at", "version", "order_id"
            )
        ),
        "rollups": (
            sorted(
                (d, c, m, dim, v)
                for d, c, m, dim, v in DailyMetric.objects.values_list("day", "channel", "metric", "dimension", "value")
                if v != Decimal(0)
            ),
            sorted(OrderFact.objects.values_list("order_id", "person_id", "refunded", "is_cancelled", "campaign_id")),
            sorted(PersonFact.objects.values_list("customer_id", "person_id", "merged_into")),
            sorted(CampaignTouch.objects.values_list("customer_id", "campaign_id", "sent_at")),
        ),
    }


def start_over(names: list[str]) -> None:
    for name in names:
        projector.projection(name).reset()
    ProjectionCheckpoint.objects.filter(name__in=names).update(position=0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batched_catch_up_gives_what_applying_one_event_at_a_time_gives(seed):
    rng = random.Random(seed)
    random_log(rng, 160)
    names = async_names()

    start_over(names)
    one_by_one = projector.catch_up_all(names, batch_size=1)
    event_by_event = read_models()

    start_over(names)
    batched = projector.catch_up_all(names, batch_size=rng.randint(7, 60))
    in_batches = read_models()

    projector.rebuild(names)
    rebuilt = read_models()

    assert set(one_by_one.values()) == set(batched.values())
    assert min(batched.values()) >= 160
    assert not ProjectionFailure.objects.exists()
    assert all(event_by_event[name] for name in ("carts", "daily", "consents"))
    assert event_by_event["rollups"][1]
    assert Customer.objects.filter(erased_at__isnull=False).exists()
    for model in event_by_event:
        assert in_batches[model] == event_by_event[model], model
        assert rebuilt[model] == event_by_event[model], model


def test_projections_at_different_checkpoints_share_a_read_and_each_gets_only_what_it_has_not_seen(thing):
    store.append("thing-1", [thing(str(n), occurred_at=START + timedelta(hours=n)) for n in range(6)])
    names = ["customers.channel_daily", "customers.activity"]
    projector.catch_up_all(names)
    head = ProjectionCheckpoint.objects.get(name="customers.channel_daily").position
    # channel_daily starts again from scratch; activity stays where it is.
    start_over(["customers.channel_daily"])
    (late,) = store.append("thing-2", [thing("late", occurred_at=START)])

    done = projector.catch_up_all(names, batch_size=3)

    assert done == {"customers.channel_daily": 7, "customers.activity": 1}
    assert set(ProjectionCheckpoint.objects.filter(name__in=names).values_list("position", flat=True)) == {
        late.position
    }
    assert late.position > head
    assert sum(ChannelActivityDaily.objects.values_list("count", flat=True)) == 7
